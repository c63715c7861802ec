"""The schedule's back-off with service hooks: which rounds an execution runs, and for which pools. Pure.

With hooks on, Azure DevOps starts a pool's pass 1-2 s after a job starts waiting, so the schedule is only
the backstop (a lost or coalesced hook, a pass that failed, a pool's agents going away). Each execution
then starts with a plan (the pass function's `plan` action, `plan_execution` below) that reads no Azure
DevOps data at all, only the pools' configuration and their live tasks (one compute read a pool: ECS
ListTasks, or EC2 DescribeInstances), and decides:

- a pool **has work** when a task or instance is starting (a job waits for its agent), or when it keeps
  agents by configuration (`min_agents`, `standby_agents`, a warm pool that is not off: their targets
  change with the clock, so they are never backed off); it is observed at every offset, every minute;
- any other pool (nothing running, or agents that only run their jobs: each leaves after its job by
  itself) is observed once, at the first offset, only on minutes divisible by `idle_every_minutes` (Unix
  minutes of the schedule's time, so every tick agrees without any state kept between them);
- with no pool to observe, no execution is started: the tick ends there, with no Azure DevOps call.

The bound this gives: a job whose hook is lost is seen at most `idle_every_minutes` minutes after it was
queued (plus the tick's and the round's latency, about two seconds), or within a minute while its pool has
a task starting. Once a pass launches for it, the pool has a task starting and is observed every minute
until the task runs.

Without hooks, the schedule starts the workflow itself each minute: every pool at every offset.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from adoscale.compute.base import TaskInfo
from adoscale.config import PoolConfig

IDLE_EVERY_MINUTES = 10
MAX_IDLE_EVERY_MINUTES = 60
STARTING_STATUSES = frozenset({"PROVISIONING", "PENDING", "ACTIVATING"})


@dataclass(frozen=True, slots=True)
class PoolActivity:
    """What the plan knows of a pool: its name and why it has work ("" when it is idle)."""

    pool: str
    work: str = ""

    @property
    def idle(self) -> bool:
        return not self.work


@dataclass(frozen=True, slots=True)
class ExecutionPlan:
    """The rounds one execution runs (offsets from its start) and the pools they visit, with why."""

    offsets: tuple[int, ...]
    pools: tuple[str, ...]
    reason: str

    def as_dict(self, task_wait_s: int) -> dict[str, object]:
        return {
            "offsets": list(self.offsets),
            "pools": list(self.pools),
            "task_wait_s": task_wait_s,
            "reason": self.reason,
        }


def keeps_agents(pool: PoolConfig) -> str:
    """Why the pool's configuration keeps agents whatever the queue ("" when it does not)."""
    if pool.min_agents > 0:
        return f"min_agents {pool.min_agents}"
    if pool.standby_agents > 0:
        return f"standby_agents {pool.standby_agents}"
    if pool.warm_pool.mode != "off":
        return f"warm pool {pool.warm_pool.mode}"
    return ""


def starting(task: TaskInfo) -> bool:
    """A task (or instance) on its way to an agent, for a job that waits for it: not yet RUNNING, not being
    stopped. (ECS: PROVISIONING, PENDING, ACTIVATING; EC2: pending.)"""
    return task.last_status.upper() in STARTING_STATUSES and task.desired_status.upper() != "STOPPED"


def activity(pool: PoolConfig, tasks: Iterable[TaskInfo]) -> PoolActivity:
    """The pool has work when its configuration keeps agents or a task is starting. A pool whose agents only
    run their jobs is observed as an idle one: each agent leaves after its job by itself, and a job queued
    meanwhile is the hooks' (a lost hook: the bound)."""
    kept = keeps_agents(pool)
    if kept:
        return PoolActivity(pool.name, kept)
    count = sum(1 for task in tasks if starting(task))
    return PoolActivity(pool.name, f"{count} task(s) starting" if count else "")


def due(started: datetime, idle_every_minutes: int) -> bool:
    """Whether an execution started at `started` observes the idle pools: it starts on a minute divisible by
    `idle_every_minutes` (Unix minutes; Scheduler starts executions within a second or two of the minute, and
    the `rate()` schedule's seconds are the same every time, so each minute has exactly one execution)."""
    if idle_every_minutes <= 1:
        return True
    return int(started.timestamp() // 60) % idle_every_minutes == 0


def plan_execution(
    offsets: Sequence[int], started: datetime, pools: Sequence[PoolActivity], idle_every_minutes: int
) -> ExecutionPlan:
    """The rounds and pools of one execution (the module docstring's rules)."""
    if not offsets:
        raise ValueError("an execution needs at least one offset")
    if not 1 <= idle_every_minutes <= MAX_IDLE_EVERY_MINUTES:
        raise ValueError(f"idle_every_minutes must be between 1 and {MAX_IDLE_EVERY_MINUTES}")
    working = [p.pool for p in pools if not p.idle]
    idle = [p.pool for p in pools if p.idle]
    observe_idle = due(started, idle_every_minutes)
    if working:
        visited = working + (idle if observe_idle else [])
        return ExecutionPlan(tuple(offsets), tuple(visited), f"{len(working)} pool(s) with work")
    if idle and observe_idle:
        return ExecutionPlan((offsets[0],), tuple(idle), f"idle pools observed every {idle_every_minutes} min")
    return ExecutionPlan((), (), "no pool with work, none due: no round")
