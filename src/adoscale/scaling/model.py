"""The scaling engine's own view of the world: snapshots in, plans out. No I/O types here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class TaskStatus(StrEnum):
    PROVISIONING = "PROVISIONING"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"

    @classmethod
    def from_ecs(cls, last_status: str) -> TaskStatus:
        """ECS `lastStatus`, folded onto five states (ACTIVATING counts as starting, DEACTIVATING as stopping)."""
        status = last_status.upper()
        if status in cls.__members__:
            return cls(status)
        if status == "ACTIVATING":
            return cls.PENDING
        if status in ("DEACTIVATING", "DEPROVISIONING"):
            return cls.STOPPING
        return cls.PROVISIONING

    @property
    def live(self) -> bool:
        return self not in (TaskStatus.STOPPING, TaskStatus.STOPPED)


@dataclass(frozen=True, slots=True)
class AgentView:
    agent_id: int
    name: str
    online: bool
    enabled: bool
    busy: bool  # has an assigned request: ADO's status never says "busy"
    status_changed_on: datetime | None
    last_finished: datetime | None = None

    @property
    def idle_since(self) -> datetime | None:
        stamps = [s for s in (self.status_changed_on, self.last_finished) if s is not None]
        return max(stamps) if stamps else None


@dataclass(frozen=True, slots=True)
class TaskView:
    task_arn: str
    task_id: str  # the agent inside names itself f"{agent_name_prefix}{task_id}"
    status: TaskStatus
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PoolSnapshot:
    pool: str
    now: datetime
    queued: int  # queued (unassigned) jobs this pool's agents can run, after demand matching
    running: int  # jobs assigned or running in this pool
    agents: tuple[AgentView, ...]
    tasks: tuple[TaskView, ...]  # the pool's tasks, including recently stopped ones
    parallel_capacity: int | None = None  # most agents worth having under the org's parallel-job limit


@dataclass(frozen=True, slots=True)
class PoolPolicy:
    min_agents: int = 0
    max_agents: int = 10
    standby_agents: int = 0
    idle_timeout_seconds: int = 300
    startup_timeout_seconds: int = 600
    agent_name_prefix: str = ""
    placeholder_name: str = "adoscale-placeholder"


@dataclass(frozen=True, slots=True)
class Launch:
    count: int
    reason: str


@dataclass(frozen=True, slots=True)
class Drain:
    """Disable in ADO, read again, stop the task only if still idle, else enable again."""

    agent_id: int
    agent_name: str
    task_arn: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class StopTask:
    """Stop a task whose agent is not working; `agent_name` is the name its agent has or will have, which
    the act step reads again right before stopping."""

    task_arn: str
    reason: str
    agent_name: str = ""


@dataclass(frozen=True, slots=True)
class DeleteAgent:
    agent_id: int
    agent_name: str
    reason: str


@dataclass(frozen=True, slots=True)
class EnableAgent:
    agent_id: int
    agent_name: str
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    pool: str
    launch: Launch | None
    drain: tuple[Drain, ...]
    stop: tuple[StopTask, ...]
    delete: tuple[DeleteAgent, ...]
    enable: tuple[EnableAgent, ...]
    warnings: tuple[str, ...]
    idle: int
    busy: int
    starting: int
    offline: int
    disabled: int

    @property
    def launch_count(self) -> int:
        return self.launch.count if self.launch else 0

    @property
    def empty(self) -> bool:
        return not (self.launch_count or self.drain or self.stop or self.delete or self.enable)
