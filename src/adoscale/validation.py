"""A validation error in one short line, the one way every handler and validator says what is wrong with
an event or a payload: where and what, at most a few problems, never the (possibly hostile) input. A
validator's own message may still quote a value it refused (an unknown detail-type, say), and that value may be
a secret pasted in the wrong place: the line is passed through `adoscale.secrets.redact`, whatever logs it."""

from __future__ import annotations

from pydantic import ValidationError

from adoscale.secrets import redact

MAX_CHARS = 600


def one_line(exc: ValidationError, *, limit: int = 3, root: str = "(event)", strip: int = 0) -> str:
    """`a.b: message; c: message; and N more`. `strip`: leading location parts to drop (a wrapper model's
    field, say); `root` names the whole input when the location is empty."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False)[:limit]:
        where = ".".join(str(p) for p in error["loc"][strip:]) or root
        parts.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    more = exc.error_count() - limit
    return redact(("; ".join(parts) + (f"; and {more} more" if more > 0 else ""))[:MAX_CHARS])
