"""Emulated agents: what runs inside each Fargate task, played against the ADO emulator's model.

One agent per task, named after the task id (as `agent/entrypoint.sh` does). It comes online a start-up
delay after its task was created, takes at most one job, finishes it after the job's duration, removes its
own registration and exits, which stops its task. A task stopped from outside (scale-in) takes its agent
with it; if that agent was running a job, the fleet records a killed job, which must never happen.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from adoscale.emulator import AdoModel


@dataclass(frozen=True, slots=True)
class FleetTask:
    """A task as the fleet sees it: enough to pair it with an agent."""

    task_arn: str
    task_id: str
    pool: str
    created_at: datetime
    running: bool  # False once the task is stopped or stopping


class TaskWorld(Protocol):
    """The compute side the fleet needs: list tasks, and stop a task when its agent exits."""

    def fleet_tasks(self) -> Iterable[FleetTask]: ...

    def task_exited(self, task_arn: str, reason: str) -> None: ...


@dataclass(slots=True)
class _AgentRun:
    task: FleetTask
    online_at: datetime
    agent_id: int | None = None
    request_id: int | None = None
    job_ends_at: datetime | None = None
    done: bool = False


@dataclass(slots=True)
class FleetStats:
    registered: int = 0
    jobs_run: int = 0
    busy_killed: int = 0
    exited: int = 0
    agent_seconds: float = 0.0
    waits: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PoolProfile:
    """What an emulated agent of a pool offers and how long things take."""

    pool_id: int
    capabilities: dict[str, str]
    agent_name_prefix: str = ""


class Fleet:
    """Drives emulated agents; call `step()` as often as you like (it is idempotent for a given time)."""

    def __init__(
        self,
        model: AdoModel,
        world: TaskWorld,
        pools: dict[str, PoolProfile],
        clock: Callable[[], datetime],
        rng: random.Random,
        startup_s: tuple[float, float] = (1.5, 3.0),
        job_s: tuple[float, float] = (3.0, 7.0),
    ) -> None:
        self._model = model
        self._world = world
        self._pools = pools
        self._clock = clock
        self._rng = rng
        self._startup = startup_s
        self._job = job_s
        self._runs: dict[str, _AgentRun] = {}
        self.stats = FleetStats()

    def step(self) -> None:
        now = self._clock()
        for task in self._world.fleet_tasks():
            run = self._runs.get(task.task_arn)
            if run is None and task.running:
                delay = self._rng.uniform(*self._startup)
                run = _AgentRun(task=task, online_at=task.created_at + timedelta(seconds=delay))
                self._runs[task.task_arn] = run
            if run is None or run.done:
                continue
            if not task.running:
                self._task_gone(run, now)
                continue
            self._advance(run, now)

    def _advance(self, run: _AgentRun, now: datetime) -> None:
        profile = self._pools[run.task.pool]
        if run.agent_id is None:
            if now < run.online_at:
                return
            run.agent_id = self._model.register_agent(
                profile.pool_id,
                f"{profile.agent_name_prefix}{run.task.task_id}",
                capabilities=dict(profile.capabilities),
                online=True,
                enabled=True,
                once=True,
            )
            self.stats.registered += 1
        if run.request_id is None:
            request = self._model.assigned_job(profile.pool_id, run.agent_id)
            if request is None:
                return
            run.request_id = request.request_id
            run.job_ends_at = now + timedelta(seconds=self._rng.uniform(*self._job))
            assigned = request.assign_time or now
            self.stats.waits.append((assigned - request.queue_time).total_seconds())
            return
        if run.job_ends_at is not None and now >= run.job_ends_at:
            self._model.finish_job(run.request_id, result="succeeded")
            self.stats.jobs_run += 1
            self._exit(run, now, "Essential container in task exited (agent ran its one job)")

    def _exit(self, run: _AgentRun, now: datetime, reason: str) -> None:
        profile = self._pools[run.task.pool]
        if run.agent_id is not None:
            self._model.remove_agent(profile.pool_id, run.agent_id)
        run.done = True
        self.stats.exited += 1
        self.stats.agent_seconds += (now - run.task.created_at).total_seconds()
        self._world.task_exited(run.task.task_arn, reason)

    def _task_gone(self, run: _AgentRun, now: datetime) -> None:
        """The task was stopped from outside: the agent dies with it (SIGTERM, then `config.sh remove`)."""
        profile = self._pools[run.task.pool]
        if run.agent_id is not None:
            if run.request_id is not None and run.job_ends_at is not None and now < run.job_ends_at:
                self.stats.busy_killed += 1
                self._model.finish_job(run.request_id, result="abandoned")
            self._model.remove_agent(profile.pool_id, run.agent_id)
        run.done = True
        self.stats.agent_seconds += (now - run.task.created_at).total_seconds()

    @property
    def active(self) -> int:
        return sum(1 for run in self._runs.values() if not run.done)
