"""Acquire and release as one guarded unit: the lease is given back whatever interrupts the work.

`serve` stops a pass by raising from its signal handler (so that even a read blocked on a slow answer
ends), which means an exception can appear between any two lines of the pass, the lease's own calls
included. A lease left behind blocks its pool until it expires (60 s), so:

- acquisition happens inside the `try` whose `finally` releases: a signal that lands after the conditional
  write succeeded but before `acquire` returned (or before the caller noted it) still gives it back;
  release is conditional on the owner token, so giving back a lease that was never written, or that
  another pass holds, changes nothing;
- the release is attempted a second time, in an outer `finally`, when the first one was interrupted
  (the signal landed just before or during it), so one interruption at any point cannot leave the lease
  behind. A plain failure of the release (the table refusing or unavailable) is not retried here.

This is a function rather than a context manager on purpose: a `with` block's `__exit__` is a Python
call, and an exception raised by a signal as that call begins skips it entirely (CPython checks for
pending signals on entering a function), whereas nested `try`/`finally` in one frame has no such gap.
"""

from __future__ import annotations

from collections.abc import Callable

from adoscale.lease.base import LeaseHeld
from adoscale.ports import Lease


def while_held(lease: Lease, pool: str, owner: str, ttl_s: float, work: Callable[[], None]) -> LeaseHeld | None:
    """Take `pool`'s lease as `owner`, run `work`, give the lease back; None when the work ran, else who
    holds the lease (the work did not run). Exceptions from `work` or the lease propagate, after the
    release."""
    owed = True  # a lease of ours may exist from the moment acquire is called
    held: LeaseHeld | None = None
    # No `return` and no nested `try` inside these blocks: CPython 3.11 leaves the line of such a statement
    # outside the exception handlers, and an exception raised there (by a tracer) would skip both releases.
    try:
        try:
            held = lease.acquire(pool, owner, ttl_s)
            if held is None:
                work()
            else:
                owed = False  # someone else's: nothing of ours to give back
        finally:
            if owed:
                failure = _release(lease, pool, owner)
                owed = False
                if failure is not None:
                    raise failure  # the table failed, not an interruption: no second attempt
    finally:
        if owed:
            # The release above never completed: a signal landed just before or inside it.
            lease.release(pool, owner)
    return held


def _release(lease: Lease, pool: str, owner: str) -> Exception | None:
    """Release, handing back a failure of the table's instead of raising it (an interruption still raises)."""
    try:
        lease.release(pool, owner)
    except Exception as exc:
        return exc
    return None
