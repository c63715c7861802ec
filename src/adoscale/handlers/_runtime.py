"""What every handler needs at run time: settings from the environment, the PAT, AWS clients."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from adoscale.aws import make_client
from adoscale.secrets import register_secret


class SettingsError(RuntimeError):
    """A required environment variable is missing: a deployment error, not a bad event."""


def setting(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if not value:
        raise SettingsError(f"environment variable {name} is not set")
    return value


@cache
def client(service: str) -> Any:
    return make_client(service)


def pat() -> str:
    """`AZP_TOKEN`, or the Secrets Manager secret named by `AZP_TOKEN_SECRET_ARN` (cached by powertools)."""
    token = os.environ.get("AZP_TOKEN")
    if not token:
        from aws_lambda_powertools.utilities import parameters

        secret = parameters.get_secret(setting("AZP_TOKEN_SECRET_ARN"), max_age=300)
        token = secret if isinstance(secret, str) else str(secret)
    token = token.strip()
    register_secret(token)
    return token
