"""Where the service hooks' shared secret comes from: `ADOSCALE_HOOK_SECRET`, else the configuration's
`hooks.secret_name` (Secrets Manager), read through the same `SecretSource` as the PAT. The value is
registered for redaction as soon as it is read."""

from __future__ import annotations

from adoscale.config import Config, SecretSource, Settings, SourceError, SourceReader, read_secret
from adoscale.config.settings import HOOK_SECRET_ENV
from adoscale.secrets import register_secret

MIN_SECRET_CHARS = 16
MAX_SECRET_CHARS = 512


def resolve_hook_secret(config: Config | None, settings: Settings, *, source: SourceReader | None = None) -> str:
    """The shared secret, or `SourceError` naming the source (never the value). A secret shorter than
    16 characters is refused: it authenticates a public endpoint."""
    value = (settings.hook_secret or "").strip()
    what = HOOK_SECRET_ENV
    if not value:
        name = config.hooks.secret_name if config is not None and config.hooks is not None else None
        if not name:
            raise SourceError(
                f"no hook secret: set {HOOK_SECRET_ENV}, or hooks.secret_name (Secrets Manager) in the configuration",
                exit_code=2,
            )
        what = f"hooks.secret_name {name!r}"
        value = read_secret(source or SecretSource(), name, what, keys=("secret",))
    if len(value) >= 4:
        register_secret(value)
    if len(value) < MIN_SECRET_CHARS:
        raise SourceError(f"{what}: the hook secret must have at least {MIN_SECRET_CHARS} characters", exit_code=2)
    if len(value) > MAX_SECRET_CHARS or any(c.isspace() or not c.isprintable() for c in value):
        raise SourceError(f"{what}: too long, or whitespace or control characters inside", exit_code=2)
    return value
