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
    # How many were started by the adapter's fallback from Spot (FARGATE_SPOT to FARGATE on ECS, Spot to
    # On-Demand instances on EC2), whatever the service.
    fell_back: int = 0
    # Why Spot refused the ones that fell back (a shortage, its quota, or a platform version or CPU
    # architecture FARGATE_SPOT does not take): the pass reports them.
    spot_refusals: tuple[str, ...] = ()
    # What fell back to what, in the service's own terms; the adapter says, since only it knows (the pass
    # report's warning is `fallback_warning`).
    fallback: str = "launched without Spot"

    def fallback_warning(self) -> str | None:
        """The pass report's line for a Spot fallback, or None when Spot refused nothing."""
        if not (self.spot_refusals or self.fell_back):
            return None
        reasons = "; ".join(dict.fromkeys(self.spot_refusals)) or "no reason given"
        return f"{self.fell_back} {self.fallback}: {reasons}"


def task_id_of(task_arn: str) -> str:
    """The last path segment of a task ARN (`arn:aws:ecs:…:task/cluster/<id>`)."""
    return task_arn.rsplit("/", 1)[-1]
