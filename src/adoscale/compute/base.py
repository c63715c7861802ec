"""Where agents run: the port the reconcile loop and the simulator talk to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class TaskInfo:
    task_arn: str
    task_id: str
    last_status: str
    desired_status: str
    created_at: datetime
    started_by: str | None
    pool: str | None
    stopped_reason: str | None = None
    capacity_provider: str | None = None
    # When the task reached RUNNING; None while it starts, and for ever when it stopped before running.
    started_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LaunchResult:
    started: tuple[TaskInfo, ...]
    failures: tuple[str, ...] = ()
    fell_back_to_fargate: int = 0
    # Why FARGATE_SPOT refused the tasks that fell back (a shortage, or a platform version or CPU
    # architecture Spot does not take): the pass reports them.
    spot_refusals: tuple[str, ...] = ()


class Compute(Protocol):
    """Where a pool's agents run, by pool name: the adapter knows each pool's placement.

    `token` makes a launch idempotent: the same token launches at most once (ECS RunTask `clientToken`),
    so a call retried after a lost response starts nothing twice. A launch that fails part-way still
    returns what did start, with the failures."""

    def launch(self, pool: str, count: int, token: str) -> LaunchResult: ...

    def list_tasks(self, pool: str) -> list[TaskInfo]: ...

    def stop(self, pool: str, task_arn: str, reason: str) -> None: ...

    def describe(self, pool: str, task_arns: Sequence[str]) -> list[TaskInfo]:
        """The named tasks of `pool` as they are now (the waiter's read after a launch); a task the
        service does not know (or not of this pool) is absent from the answer."""
        ...


def task_id_of(task_arn: str) -> str:
    """The last path segment of a task ARN (`arn:aws:ecs:…:task/cluster/<id>`)."""
    return task_arn.rsplit("/", 1)[-1]
