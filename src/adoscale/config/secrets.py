"""Where secrets come from, for the CLI and every Lambda alike: one `SecretSource` over powertools'
parameters providers (Secrets Manager and SSM SecureString), one classification of a failed read, and the
resolution of the PAT (`resolve_pat`) and of any other named secret (`read_secret`, e.g. the service
hooks' shared secret).

A value is registered for redaction (`adoscale.secrets`) the moment it is read, before any check could put
it into a message; errors name the source, never the value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Protocol

from adoscale.aws import error_code, make_client
from adoscale.config.errors import SourceError
from adoscale.config.model import Config
from adoscale.config.settings import PAT_ENV, PAT_SECRET_ENV, Settings
from adoscale.secrets import register_secret
from adoscale.transient import is_transient_aws

_SECRET_REF = re.compile(r"^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[A-Za-z0-9/_+=.@!-]{1,512}$")
PAT_KEYS = ("pat", "PAT", "token", "AZP_TOKEN")
_MISSING = frozenset({"ResourceNotFoundException", "ParameterNotFound", "ParameterVersionNotFound"})
_WRONG_REFERENCE = frozenset({"ValidationException", "InvalidParameterException", "ValidationError"})
_UNREACHABLE = ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError")
_NO_CREDENTIALS = ("NoCredentialsError", "PartialCredentialsError", "NoRegionError")


class SourceReader(Protocol):
    """Fetches one secret or parameter by name; errors propagate as raised (`source_error` classifies)."""

    def secret(self, name: str) -> str | bytes: ...

    def parameter(self, name: str) -> str: ...


class SecretSource:
    """Secrets Manager secrets and SSM (SecureString) parameters through powertools' providers, each value
    cached for `max_age` seconds (a warm Lambda: minutes; the CLI: 0, read when asked). Clients are made
    when first needed (`adoscale.aws.make_client`: the standard AWS settings) unless passed in."""

    def __init__(self, *, max_age: int = 0, secrets_client: Any = None, ssm_client: Any = None) -> None:
        self.max_age = max_age
        self._clients = {"secretsmanager": secrets_client, "ssm": ssm_client}
        self._providers: dict[str, Any] = {}

    def _provider(self, service: str) -> Any:
        if service not in self._providers:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider

            client = self._clients[service] or make_client(service)
            provider = SecretsProvider if service == "secretsmanager" else SSMProvider
            self._providers[service] = provider(boto3_client=client)
        return self._providers[service]

    def secret(self, name: str) -> str | bytes:
        value = self._provider("secretsmanager").get(name, max_age=self.max_age)
        return value if isinstance(value, str | bytes) else str(value)

    def parameter(self, name: str) -> str:
        return str(self._provider("ssm").get(name, decrypt=True, max_age=self.max_age))

    def forget(self) -> None:
        """Drop cached values (and the clients made here): the next read asks AWS afresh (after a rotation)."""
        self._providers.clear()


def source_error(what: str, exc: Exception) -> SourceError:
    """One line for a failed read of `what` (e.g. "pat_secret 'ado/pat'"), classified by its AWS error code."""
    cause: BaseException = exc
    # powertools wraps the botocore error (raised inside its `except`, so it is the context, not the cause)
    for _ in range(5):
        inner = cause.__cause__ or cause.__context__
        if getattr(cause, "response", None) is not None or inner is None:
            break
        cause = inner
    code = error_code(cause)
    name = type(cause).__name__
    if is_transient_aws(cause) or name in _UNREACHABLE:
        return SourceError(f"{what}: AWS is unavailable ({code or name}); try again", exit_code=1, transient=True)
    if code in _MISSING:
        # A secret created without a value (Terraform's `aws_secretsmanager_secret` alone, before anyone put
        # the PAT) answers ResourceNotFoundException too, with this message: "Secrets Manager can't find the
        # specified secret value for staging label: AWSCURRENT".
        if "secret value" in _message(cause):
            return SourceError(f"{what}: exists but has no value yet (put the PAT into it: put-secret-value)")
        return SourceError(f"{what}: does not exist ({code})")
    if code in _WRONG_REFERENCE:
        return SourceError(f"{what}: not a valid reference ({code})", exit_code=2)
    if "AccessDenied" in code or code.startswith("KMS") or code == "DecryptionFailure":
        return SourceError(f"{what}: cannot be read: access denied ({code})")
    if name in _NO_CREDENTIALS:
        return SourceError(f"{what}: cannot be read: no AWS credentials or region ({name})")
    return SourceError(f"{what}: cannot be read ({code or name})")


def _message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    error = response.get("Error", {}) if isinstance(response, dict) else {}
    return str(error.get("Message", "")) if isinstance(error, dict) else ""


def _fetch(what: str, read: Callable[[], str]) -> str:
    try:
        return read().strip()
    except SourceError:
        raise
    except Exception as exc:
        raise source_error(what, exc) from None


def read_secret(source: SourceReader, name: str, what: str, *, keys: tuple[str, ...] = PAT_KEYS) -> str:
    """The secret `name` from Secrets Manager, plain or JSON (`unwrap_json_secret` with `keys`), stripped;
    `SourceError` naming `what` when it cannot be read."""
    return _fetch(what, lambda: unwrap_json_secret(source.secret(name), what, keys))


def resolve_pat(config: Config | None, settings: Settings, *, source: SourceReader | None = None) -> str:
    """The PAT, from the first of: `AZP_TOKEN`; the configuration's `pat_secret` (Secrets Manager) or
    `pat_parameter` (SSM SecureString); the deployment's `AZP_TOKEN_SECRET_ARN`. Raises `SourceError` (one
    line naming the source, never the value) when the chosen source cannot be read or holds no PAT."""
    reader = source or SecretSource()
    token = (settings.pat or "").strip()
    what = PAT_ENV
    if not token:
        if config is not None and config.pat_secret:
            what = f"pat_secret {config.pat_secret!r}"
            token = read_secret(reader, str(config.pat_secret), what)
        elif config is not None and config.pat_parameter:
            parameter = str(config.pat_parameter)
            what = f"pat_parameter {parameter!r}"
            token = _fetch(what, lambda: reader.parameter(parameter))
        elif settings.pat_secret_arn:
            reference = settings.pat_secret_arn
            what = f"{PAT_SECRET_ENV} {reference!r}"
            if not _SECRET_REF.match(reference):
                raise SourceError(f"{what}: not a Secrets Manager secret name or ARN", exit_code=2)
            token = read_secret(reader, reference, what)
        else:
            raise SourceError(
                f"no PAT: set {PAT_ENV}, or pat_secret (Secrets Manager) or pat_parameter (SSM) in the configuration",
                exit_code=2,
            )
    if len(token) >= 4:
        register_secret(token)  # before any check below could put it into a message
    if not token:
        raise SourceError(f"{what}: is empty")
    if len(token) > 1024 or any(c.isspace() or not c.isprintable() for c in token):
        raise SourceError(f"{what}: does not hold a PAT (too long, or whitespace or control characters inside)")
    return token


def unwrap_json_secret(value: str | bytes, what: str, keys: tuple[str, ...] = PAT_KEYS) -> str:
    """A plain secret string, or JSON like {"pat": "..."} as the console's key/value editor writes: the
    first of `keys` that holds a string."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise SourceError(f"{what}: holds binary data, not a secret") from None
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    if isinstance(parsed, dict):
        for key in keys:
            if isinstance(parsed.get(key), str):
                return str(parsed[key])
        raise SourceError(f"{what}: JSON without a {', '.join(dict.fromkeys(k.lower() for k in keys))} key")
    return value
