"""What the control-plane handlers share: the configuration (SSM parameter, cached), a reconciler, and
one error for events that are not what the workflow sends."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from adoscale.ado.client import AdoClient
from adoscale.compute.ecs import EcsCompute
from adoscale.config import Config, PoolConfig, parse_config
from adoscale.handlers._runtime import client, pat, setting
from adoscale.reconcile import Reconciler

T = TypeVar("T")


class BadEventError(ValueError):
    """The event is not what the workflow sends: rejected with a clear message and not retried (the
    workflow's Retry lists only transient errors)."""


def load_config() -> Config:
    """The validated configuration: inline `ADOSCALE_CONFIG` (tests, small setups) or the SSM parameter
    named by `ADOSCALE_CONFIG_PARAMETER`, cached for 5 minutes between invocations."""
    text = os.environ.get("ADOSCALE_CONFIG")
    source = "ADOSCALE_CONFIG"
    if not text:
        from aws_lambda_powertools.utilities import parameters

        name = setting("ADOSCALE_CONFIG_PARAMETER")
        text = str(parameters.get_parameter(name, max_age=300, decrypt=True))  # a SecureString (KMS)
        source = f"ssm:{name}"
    return parse_config(text, source=source, env=os.environ)


def parsed(field: str, parse: Callable[[Any], T], value: Any) -> T:
    """Parse one field of an event, turning a validation error into one short line that names the field."""
    try:
        return parse(value)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join([field, *(str(p) for p in e['loc'])])}: {e['msg']}" for e in exc.errors()[:5])
        raise BadEventError(problems) from None


def require(event: Any, *keys: str) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise BadEventError(f"expected a JSON object, got {type(event).__name__}")
    missing = [k for k in keys if k not in event]
    if missing:
        raise BadEventError(f"missing field(s): {', '.join(missing)}")
    return event


def pool_config(config: Config, name: Any) -> PoolConfig:
    for pool in config.pools:
        if pool.name == name:
            return pool
    raise BadEventError(
        f"no pool named {name!r} in the configuration (pools: {', '.join(p.name for p in config.pools)})"
    )


@contextmanager
def reconciler(config: Config) -> Iterator[Reconciler]:
    with AdoClient(config.organization_url, pat()) as ado:
        compute = EcsCompute(client("ecs"), organization_url=config.organization_url)
        yield Reconciler(config, ado, compute, lambda: datetime.now(UTC))
