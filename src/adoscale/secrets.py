"""Keeping secrets out of output.

Every PAT or token adoscale handles is registered here; a logging filter and `redact()` replace any
registered value (and its Basic-auth base64 forms) before text reaches a log, a terminal or an exception.

Registration comes too late for one reader: botocore logs a response's body at DEBUG while it parses it,
before adoscale has the value in hand to register. So the filter also masks, in every record, the fields
that carry secret values in AWS's wire format (Secrets Manager's `SecretString`/`SecretBinary`, an SSM
parameter's `Value`), whatever their value; at any verbosity.
"""

from __future__ import annotations

import base64
import logging
import re
import threading

REDACTED = "***"
# A JSON string field that holds a secret in an AWS response, as botocore logs it (JSON in a bytes repr):
# masked up to the first quote that is not escaped and ends the value (followed by `,` or `}`), so escaped
# quotes inside the value do not end it early; when in doubt it masks more, never less. SSM's `Value` is
# masked whatever the parameter's type: a log line cannot tell a SecureString's value from a String's.
_SECRET_FIELD = re.compile(
    r'("(?:SecretString|SecretBinary|Value)\\?"\s*:\s*\\?")(.*?)(?=(?<!\\)"\s*[,}]|$)', re.DOTALL
)

# Writers serialise on the lock and publish a new tuple (longest first) in one assignment; `redact` reads
# the current tuple without any lock. A reader must never wait: it runs inside logging, and a signal
# handler that raises (serve's stop) can interrupt a thread between a `with lock:` and its cleanup, leaving
# a lock held that the next log line would then wait on for ever.
_lock = threading.Lock()
_secrets: tuple[str, ...] = ()


def register_secret(value: str) -> None:
    """Remember a secret so that `redact` hides it, including its Basic-auth encodings."""
    if len(value) < 4:  # too short to redact without mangling ordinary text
        return
    forms = {value}
    for user in ("", "adoscale", "user"):
        forms.add(base64.b64encode(f"{user}:{value}".encode()).decode())
    global _secrets
    with _lock:
        _secrets = tuple(sorted(forms.union(_secrets), key=len, reverse=True))


def redact(text: str) -> str:
    """Return `text` with every registered secret, and every secret-bearing AWS field, replaced by ***."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _SECRET_FIELD.sub(lambda match: match.group(1) + REDACTED, text)


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
