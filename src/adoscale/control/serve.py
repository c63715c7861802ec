"""`serve`'s loop without the terminal: scheduled passes, and a pass for each pool a hook asked for.

No CLI types here: the loop returns a `ServeOutcome` that the CLI maps to an exit code.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from adoscale.ado.errors import AdoAuthError
from adoscale.control.pass_ import PoolReport, Reconciler, held_after
from adoscale.hooks.server import PendingPools

log = logging.getLogger("adoscale.serve")


class ServeEnd(Enum):
    STOPPED = "stopped"  # asked to stop (`stop` set)
    AUTH_FAILED = "auth_failed"  # Azure DevOps refused the PAT: every pass would fail the same way


@dataclass(frozen=True, slots=True)
class ServeOutcome:
    end: ServeEnd
    detail: str = ""


def one_line(pool: PoolReport) -> str:
    if pool.skipped:
        return f"skipped: {pool.skipped}"
    counts = ("queued", "running", "idle", "starting", "launched", "drained", "stopped", "deleted")
    return " ".join(f"{name}={getattr(pool, name)}" for name in counts) + f" errors={len(pool.errors)}"


def serve_loop(
    reconciler: Reconciler,
    *,
    interval: float,
    stop: threading.Event,
    pending: PendingPools,
    in_pass: threading.Event | None = None,
    on_report: Callable[[PoolReport], None] | None = None,
) -> ServeOutcome:
    """Scheduled passes every `interval` seconds and, between them, a pass for each pool a hook asked
    for. Every pass runs on this thread: one at a time here, single flight across processes by the lease;
    hooks that arrive during a pass coalesce into one follow-up pass per pool."""
    busy = in_pass or threading.Event()

    def record(report: PoolReport) -> None:
        log.info("%s: %s", report.pool, one_line(report))
        if on_report is not None:
            on_report(report)

    try:
        while not stop.is_set():
            busy.set()
            try:
                report = reconciler.run()
            finally:
                busy.clear()
            for pool in report.pools:
                record(pool)
            next_pass = time.monotonic() + interval
            while not stop.is_set() and (left := next_pass - time.monotonic()) > 0:
                pools = sorted(pending.wait(left))
                share = None
                for name in pools:
                    if stop.is_set():
                        break
                    busy.set()
                    try:
                        # A job event reaches every pool's subscription: a pool with no job queued stops
                        # after that one read. The parallel-job cap applies to hook passes too: read once
                        # per batch of hooks.
                        config = reconciler.pool(name)
                        if not reconciler.hook_wanted(config):
                            continue
                        share = share or reconciler.parallel_share()
                        hooked = reconciler.run_pool(config, parallel=share)
                        share = held_after(share, hooked)
                        record(hooked)
                    finally:
                        busy.clear()
    except AdoAuthError as exc:
        return ServeOutcome(ServeEnd.AUTH_FAILED, str(exc))
    return ServeOutcome(ServeEnd.STOPPED)
