"""What crosses the compute port (`adoscale.ports.Compute`): the tasks a pool runs and what a launch did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
    # Why and when ECS stopped it (`stopCode`: TaskFailedToStart, EssentialContainerExited, UserInitiated,
    # SpotInterruption, ...), when its containers started (ECS's own clock), and the exit code of a container
    # that exited non-zero (0 when all exited cleanly, None when none has exited).
    stop_code: str | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    exit_code: int | None = None


@dataclass(frozen=True, slots=True)
class LaunchResult:
    started: tuple[TaskInfo, ...]
    failures: tuple[str, ...] = ()
    fell_back_to_fargate: int = 0
    # Why FARGATE_SPOT refused the tasks that fell back (a shortage, or a platform version or CPU
    # architecture Spot does not take): the pass reports them.
    spot_refusals: tuple[str, ...] = ()


def task_id_of(task_arn: str) -> str:
    """The last path segment of a task ARN (`arn:aws:ecs:…:task/cluster/<id>`)."""
    return task_arn.rsplit("/", 1)[-1]
