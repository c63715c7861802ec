"""What crosses the lease port (`adoscale.ports.Lease`), and `Unleased`. A lease is (pool, owner, expiry):
taken with a conditional write that succeeds only when nobody holds it or the holder's expiry has passed, so
a crashed pass blocks its pool for at most the expiry; released by its owner only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class LeaseHeld:
    """Someone else holds the pool: who, and until when (None when not known)."""

    owner: str
    expires_at: datetime | None

    def describe(self) -> str:
        until = f" until {self.expires_at.isoformat(timespec='seconds')}" if self.expires_at else ""
        return f"another pass holds the lease ({self.owner}{until})"


class Unleased:
    """No coordination: every acquire succeeds. For a single controller without a lease table."""

    def acquire(self, pool: str, owner: str, ttl_s: float) -> LeaseHeld | None:
        return None

    def release(self, pool: str, owner: str) -> None:
        return None

    def renew(self, pool: str, owner: str, ttl_s: float) -> bool:
        return True
