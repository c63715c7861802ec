"""Keeping secrets out of output.

Every PAT or token adoscale handles is registered here; a logging filter and `redact()` replace any
registered value (and its Basic-auth base64 forms) before text reaches a log, a terminal or an exception.
"""

from __future__ import annotations

import base64
import logging
import threading

REDACTED = "***"

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Remember a secret so that `redact` hides it, including its Basic-auth encodings."""
    if len(value) < 4:  # too short to redact without mangling ordinary text
        return
    forms = {value}
    for user in ("", "adoscale", "user"):
        forms.add(base64.b64encode(f"{user}:{value}".encode()).decode())
    with _lock:
        _secrets.update(forms)


def redact(text: str) -> str:
    """Return `text` with every registered secret replaced by ***."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts registered secrets from messages and their arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Attach the redacting filter to every handler of `logger` (the root logger by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
