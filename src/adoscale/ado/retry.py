"""When to try a call again, and how long to wait: a pure policy, tested with properties."""

from __future__ import annotations

import random
from dataclasses import dataclass

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter, inside a total deadline per call.

    `Retry-After` (429 and 503) is a floor: the wait is never shorter. A wait that would end past the
    deadline is not scheduled: the call gives up instead, so a call never outlives its deadline.
    """

    deadline_s: float = 30.0
    base_s: float = 0.5
    cap_s: float = 8.0
    max_attempts: int | None = None

    def should_retry(self, status: int | None) -> bool:
        """`status` None means a connection error or timeout, which is retried."""
        return status is None or status in RETRYABLE_STATUS

    def next_delay(
        self,
        attempt: int,
        *,
        elapsed: float,
        rng: random.Random,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> float | None:
        """Seconds to wait before attempt `attempt + 1` (attempts count from 0), or None to give up."""
        if not self.should_retry(status):
            return None
        if self.max_attempts is not None and attempt + 1 >= self.max_attempts:
            return None
        delay = rng.uniform(0.0, min(self.cap_s, self.base_s * (2**attempt)))
        if retry_after is not None:
            delay = max(delay, retry_after)
        if elapsed + delay > self.deadline_s:
            return None
        return delay


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the service sends seconds; HTTP dates are not used by ADO)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds)
