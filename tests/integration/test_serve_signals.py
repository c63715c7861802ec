"""`serve`'s signal handler (`SignalStop`), on its own: Python runs it in the main thread between two bytecodes
of whatever that thread is doing, so it must not wait for anything that thread may hold at that moment."""

from __future__ import annotations

import signal
import threading

import pytest

from adoscale.cli.reconcile_cmd import SignalStop, _Shutdown
from adoscale.hooks.server import PendingPools


def test_the_handler_does_not_deadlock_when_the_signal_lands_inside_the_loops_wait() -> None:
    """Between passes the main thread waits in `PendingPools.wait`, i.e. `threading.Event.wait`, which holds
    the Event's (non re-entrant) lock around its checks; a signal landing there runs the handler with that
    lock held. The handler that woke the wait (`pending.wake()`, which takes that same lock) hung forever;
    this one raises at once."""
    pending = PendingPools()
    handler = SignalStop(threading.Event(), threading.Event())
    outcome: list[str] = []

    def signal_lands_inside_event_wait() -> None:
        with pending._wake._cond:  # type: ignore[attr-defined] # where Event.wait holds it
            try:
                handler(signal.SIGTERM, None)
            except _Shutdown:
                outcome.append("stopping")

    thread = threading.Thread(target=signal_lands_inside_event_wait, daemon=True)
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive(), "the handler blocked on a lock its own thread holds"
    assert outcome == ["stopping"] and handler.stop.is_set()


def test_a_later_signal_raises_only_during_a_pass() -> None:
    in_pass = threading.Event()
    handler = SignalStop(threading.Event(), in_pass)
    with pytest.raises(_Shutdown):
        handler(signal.SIGTERM, None)  # the first: serve stops wherever it is
    handler(signal.SIGINT, None)  # during the clean-up after it: no second exception (no traceback)
    in_pass.set()
    with pytest.raises(_Shutdown):
        handler(signal.SIGINT, None)  # insisting while a pass (its lease release) hangs: out of it
