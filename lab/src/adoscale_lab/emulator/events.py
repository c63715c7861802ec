"""Domain events: what the model publishes when a job changes state, for whoever wants to know.

The model's parts publish a `JobEvent` and know nothing of who listens: service-hook delivery
(`hooks.HookService`), the simulator and tests subscribe. That keeps the dependency one way: the model
never imports the service-hook payload or its delivery.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from adoscale_lab.emulator.entities import Job

Transition = Literal["queued", "assigned", "started", "completed"]


@dataclass(frozen=True, slots=True)
class JobEvent:
    """A job after `transition`: a copy of the job as it was then, and where and when it happened.

    `id` and `at` are fixed when the event is published, so every subscriber that renders the event sees the
    same notification id and date, as all of a real event's subscriptions do.
    """

    id: str
    transition: Transition
    job: Job
    at: datetime
    org: str
    host_id: str


EventHandler = Callable[[JobEvent], None]


class EventBus:
    """Synchronous publish/subscribe, on the publisher's thread and under its lock (the model's)."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._handlers: list[EventHandler] = []

    @property
    def active(self) -> bool:
        """Whether anyone listens: publishers skip building events nobody would see."""
        return bool(self._handlers)

    def subscribe(self, handler: EventHandler) -> Callable[[], None]:
        """Call `handler` with every event from now on; returns a function that unsubscribes it."""
        with self._lock:
            self._handlers.append(handler)

        def unsubscribe() -> None:
            with self._lock:
                if handler in self._handlers:
                    self._handlers.remove(handler)

        return unsubscribe

    def publish(self, event: JobEvent) -> None:
        with self._lock:
            handlers = list(self._handlers)
        for handler in handlers:
            handler(event)
