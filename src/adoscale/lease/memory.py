"""An in-memory lease with an injected clock, for the simulator and tests (same rules as DynamoDB)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from adoscale.lease.base import LeaseHeld


class MemoryLease:
    def __init__(self, clock: Callable[[], datetime], *, skew_margin_s: float = 0.0) -> None:
        self._clock = clock
        self._skew = timedelta(seconds=skew_margin_s)
        self._held: dict[str, tuple[str, datetime]] = {}
        self._lock = threading.Lock()
        self.acquired = 0
        self.refused = 0

    def acquire(self, pool: str, owner: str, ttl_s: float) -> LeaseHeld | None:
        now = self._clock()
        with self._lock:
            current = self._held.get(pool)
            if current is not None and current[0] != owner and current[1] + self._skew > now:
                self.refused += 1
                return LeaseHeld(current[0], current[1])
            self._held[pool] = (owner, now + timedelta(seconds=ttl_s))
            self.acquired += 1
            return None

    def release(self, pool: str, owner: str) -> None:
        with self._lock:
            current = self._held.get(pool)
            if current is not None and current[0] == owner:
                del self._held[pool]

    def renew(self, pool: str, owner: str, ttl_s: float) -> bool:
        with self._lock:
            current = self._held.get(pool)
            if current is None or current[0] != owner:
                return False
            self._held[pool] = (owner, self._clock() + timedelta(seconds=ttl_s))
            return True

    def holder(self, pool: str) -> str | None:
        current = self._held.get(pool)
        return None if current is None or current[1] <= self._clock() else current[0]
