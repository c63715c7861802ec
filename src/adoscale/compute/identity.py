"""What adoscale writes into ECS requests to recognise a pool's tasks, derived from the pool's name.

Pure functions, the only place these encodings are made: the ECS adapter, the simulator and the demo all
call them. Azure DevOps pool names may hold spaces, dots, brackets and any Unicode letter ("Linux Docker
(x64) v2.0"), while ECS accepts far less (Amazon ECS API Reference):

- RunTask `startedBy`: "Up to 36 letters (uppercase and lowercase), numbers, hyphens (-), forward slash
  (/), and underscores (_) are allowed."
- Tag (`Tag` data type): key 1-128 and value 0-256 characters, "letters, numbers, and spaces representable
  in UTF-8, and the following characters: + - = . _ : / @"; the prefix `aws:` (any case) is reserved.
- RunTask `overrides`: at most 8,192 characters of JSON (`adoscale.config.overrides`, which builds them).

A name that already fits is used as it is, which is what earlier versions sent for it (for `startedBy`,
names of up to 27 of `A-Za-z0-9_-`), so their running tasks are still found after an upgrade; every name
ECS refused before had no tasks to find. Any other name becomes a digest of the real name plus a
sanitised, truncated name for people reading the console. The two forms cannot meet: a plain form never
contains `/` after the prefix, a digest form always does; and the digest keeps apart two names whose
sanitised forms are alike (48 bits: for 100 pools, a chance of a collision below 1 in 10^10).
"""

from __future__ import annotations

import hashlib
import re

POOL_TAG = "adoscale:pool"
STARTED_BY = "adoscale"

STARTED_BY_MAX = 36
TAG_VALUE_MAX = 256
DIGEST_CHARS = 12

# Only ASCII is kept, though tag values may hold any Unicode letter: which characters count as letters
# depends on the Unicode version of the service and of Python, and lengths may be counted in UTF-16 units;
# ASCII is the same under every reading, so an encoding made today is the same after any upgrade.
_STARTED_BY_SAFE = re.compile(r"[A-Za-z0-9_-]+")
_STARTED_BY_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_TAG_SAFE = re.compile(r"[A-Za-z0-9 +\-=._:@]+")  # `/` left out: it marks the digest form
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9 +\-=._:/@]+")
_PREFIX = re.compile(r"[A-Za-z0-9_-]{1,16}")


def pool_digest(pool: str) -> str:
    """A short, stable digest of the real name (UTF-8; lone surrogates kept, so any `str` has one)."""
    return hashlib.sha256(pool.encode("utf-8", "surrogatepass")).hexdigest()[:DIGEST_CHARS]


def checked_prefix(prefix: str) -> str:
    """A `startedBy` prefix ECS accepts and that leaves room for the digest form, or ValueError."""
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"startedBy prefix {prefix!r}: 1-16 letters, digits, '-' or '_'")
    return prefix


def started_by_for(pool: str, prefix: str = STARTED_BY) -> str:
    """RunTask's and ListTasks' `startedBy` for a pool's tasks: `prefix/name` when the name fits ECS's
    rule, else `prefix/<digest>/<sanitised name>` cut to 36 characters."""
    checked_prefix(prefix)
    plain = f"{prefix}/{pool}"
    if _STARTED_BY_SAFE.fullmatch(pool) and len(plain) <= STARTED_BY_MAX:
        return plain
    head = f"{prefix}/{pool_digest(pool)}/"
    readable = _STARTED_BY_UNSAFE.sub("_", pool)
    return head + readable[: STARTED_BY_MAX - len(head)]


def pool_tag_value(pool: str) -> str:
    """The value of the `adoscale:pool` tag: the name when ECS accepts it as a tag value, else
    `<digest>/<sanitised name>` cut to 256 characters."""
    if _TAG_SAFE.fullmatch(pool) and len(pool) <= TAG_VALUE_MAX and not pool.lower().startswith("aws:"):
        return pool
    head = f"{pool_digest(pool)}/"
    readable = _TAG_UNSAFE.sub("_", pool)
    return head + readable[: TAG_VALUE_MAX - len(head)]


def task_definition_family(task_definition: str) -> str:
    """The family of `family`, `family:revision` or a task definition ARN (ListTasks' `family` filter)."""
    name = task_definition.rsplit("/", 1)[-1] if task_definition.startswith("arn:") else task_definition
    return name.split(":", 1)[0]
