"""Decoding a job-request list without its `matchedAgents`.

The service sends every queued request's `matchedAgents`, one agent reference per registered agent that
meets its demands, so the body grows as queued jobs x registered agents (36 MB for 300 x 300) while adoscale
matches demands itself and reads none of it (docs/performance.md "The queue read"; the wire reference,
../shared/ado-api/README.md §3).

Two steps, the second alone being enough for what is decoded:
1. `cut_matched_agents` replaces each `"matchedAgents":[...]` array by `null` in the raw bytes, with byte
   searches only, where it can prove from the bytes that it has found the array's end: no `[`, no backslash
   and an even number of quotes between the `[` and the first `]` after it (so that `]` is outside every
   string and closes the array). Any other array is left as it is. The JSON decoder then never reads most of
   the body.
2. `without_matched_agents`, the decoder's object hook, drops the key from every object as soon as the object
   is decoded: the arrays that step 1 left are freed request by request, never held all at once.

The result is the hook's alone, whatever step 1 cuts (`tests/ado/test_matched_agents.py` checks this on
generated bodies with any text in the agents' names).
"""

from __future__ import annotations

import json
from typing import Any

_KEY = b'"matchedAgents"'
_SPACE = b" \t\r\n"


def without_matched_agents(item: dict[str, Any]) -> dict[str, Any]:
    # The decoder calls this on every object, innermost first: a job request's agent references are freed as
    # soon as the request itself is decoded, rather than after the whole body is.
    item.pop("matchedAgents", None)
    return item


def _skip_space(raw: bytes, at: int) -> int:
    while at < len(raw) and raw[at] in _SPACE:
        at += 1
    return at


def _array_span(raw: bytes, key_at: int) -> tuple[int, int, bool] | None:
    """For the key at `key_at`: where its array value starts, one past the first `]` after that (the end of
    the bytes when there is none), and whether the bytes prove that `]` closes the array. None when the key
    is not a member's name followed by an array."""
    before = key_at - 1
    while before >= 0 and raw[before] in _SPACE:
        before -= 1
    # After `{` or `,` the quote opens a member's name: in JSON, a string's own quotes are escaped, and an
    # unescaped quote after `{` or `,` inside a string cannot be.
    if before < 0 or raw[before] not in b"{,":
        return None
    colon = _skip_space(raw, key_at + len(_KEY))
    if raw[colon : colon + 1] != b":":
        return None
    start = _skip_space(raw, colon + 1)
    if raw[start : start + 1] != b"[":
        return None
    close = raw.find(b"]", start)
    if close < 0:
        return start, len(raw), False
    inner = raw[start + 1 : close]
    return start, close + 1, not (b"[" in inner or b"\\" in inner or inner.count(b'"') % 2)


def cut_matched_agents(raw: bytes) -> bytes:
    """`raw` with each `matchedAgents` array it can prove the end of replaced by `null` (step 1 above).

    Linear in the body: the search goes on after the `]` each array was checked up to, proven or not (an
    array left whole is the object hook's, and whatever it holds with it)."""
    pieces: list[bytes] = []
    kept_from = 0
    found = raw.find(_KEY)
    while found >= 0:
        span = _array_span(raw, found)
        if span is None:
            found = raw.find(_KEY, found + len(_KEY))
            continue
        start, end, proven = span
        if proven:
            pieces += (raw[kept_from:start], b"null")
            kept_from = end
        found = raw.find(_KEY, end)
    if not pieces:
        return raw
    pieces.append(raw[kept_from:])
    return b"".join(pieces)


def decode_job_requests(raw: bytes) -> Any:
    """The JSON of a job-request list, every `matchedAgents` dropped (ValueError when it is not JSON)."""
    return json.loads(cut_matched_agents(raw), object_hook=without_matched_agents)
