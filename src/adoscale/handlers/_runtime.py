"""What every handler needs at run time, in one place: the settings (`settings()`), the PAT (`pat()`), AWS
clients, the one way to reject an event, and the one conversion of AWS failures into transient errors.

`settings()` and `pat()` delegate to `adoscale.config` (`load_settings`, `resolve_pat`) with one precedence
for the CLI and every Lambda; here the SSM parameter and the secret are read through powertools' parameters,
cached for `CACHE_SECONDS` between invocations of a warm function.

What reaches a handler's trigger: only `adoscale.transient.TRANSIENT_ERRORS` (retried), or `SettingsError`
when the deployment itself is wrong (a missing variable, an invalid configuration, a PAT source that cannot
be read): that fails the invocation visibly, since no event could succeed. A bad event is `reject`ed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from adoscale.aws import error_code, make_client
from adoscale.config import Config, ConfigError, SecretSource, Settings, SourceError, load_settings, resolve_pat
from adoscale.control.pass_ import PassLimits, call_budget
from adoscale.secrets import redact
from adoscale.transient import AwsUnavailableError, is_transient_aws

CACHE_SECONDS = 300


class SettingsError(RuntimeError):
    """The deployment is wrong (a setting missing or invalid, the PAT unreadable): not a bad event."""


def required(value: str | None, name: str) -> str:
    """A setting the function cannot run without (`Settings` holds None for an unset variable)."""
    if not value:
        raise SettingsError(f"environment variable {name} is not set")
    return value


@cache
def client(service: str) -> Any:
    """A boto3 client kept for a warm container. Its calls are bounded to fit a reconcile pass (connect and
    read timeouts, three tries: `adoscale.control.pass_.call_budget`), which every handler's calls fit too."""
    return make_client(service, budget=call_budget(PassLimits()))


# Secrets and the configuration parameter, read through powertools' providers and kept for CACHE_SECONDS
# between invocations of a warm function.
source = SecretSource(max_age=CACHE_SECONDS)


def clear_cache() -> None:
    """Forget cached parameters and secrets (tests; a function never needs it)."""
    source.forget()


def _settings_failure(exc: ConfigError) -> Exception:
    if isinstance(exc, SourceError) and exc.transient:
        return AwsUnavailableError(str(exc))
    return SettingsError(str(exc))


def deployment() -> Settings:
    """The deployment's environment variables, read now (tests change them between invocations)."""
    return Settings.from_env()


def has_settings() -> bool:
    """Whether this deployment provides a configuration (inline or SSM)."""
    return deployment().has_config


def settings() -> Config:
    """The validated configuration (`adoscale.config.load_settings`): inline `ADOSCALE_CONFIG`, else the
    SecureString named by `ADOSCALE_CONFIG_PARAMETER`; `AZP_URL` overrides organization_url."""
    try:
        return load_settings(deployment(), source=source)
    except ConfigError as exc:
        raise _settings_failure(exc) from None


def pat(config: Config | None = None) -> str:
    """The PAT (`adoscale.config.resolve_pat`): `AZP_TOKEN`, else the configuration's `pat_secret` or
    `pat_parameter`, else `AZP_TOKEN_SECRET_ARN`. Without `config`, the configuration is read when the
    deployment provides one."""
    try:
        if config is None and has_settings():
            config = load_settings(deployment(), source=source)
        return resolve_pat(config, deployment(), source=source)
    except ConfigError as exc:
        raise _settings_failure(exc) from None


@contextmanager
def aws_calls() -> Iterator[None]:
    """Throttling, 5xx and connection failures of AWS calls become `AwsUnavailableError` (transient: the
    trigger retries); any other AWS error propagates unchanged."""
    try:
        yield
    except Exception as exc:
        name = type(exc).__name__
        if is_transient_aws(exc) or name in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError"):
            raise AwsUnavailableError(f"AWS unavailable: {name} {error_code(exc)}".strip()) from exc
        raise


def reject(logger: Any, reason: str, **context: Any) -> dict[str, Any]:
    """The one rejection path: log why (no traceback: it is the event, not the code) and acknowledge, so that
    the trigger does not redeliver a message that can never succeed."""
    reason = redact(reason)  # a hostile event may quote anything, even a secret; extra fields skip log filters
    logger.warning("event rejected", extra={"reason": reason, **context})
    return {"status": "rejected", "reason": reason}
