"""Emulated agents: what runs inside each Fargate task, played against the ADO emulator's model.

One agent per task, the one emulation the simulator uses too (`adoscale_lab.sim.agent`): it comes online a
start-up delay after its task was created, takes at most one job, finishes it after the job's duration,
removes its own registration and exits, which stops its task. A task stopped from outside (scale-in) takes
its agent with it; if that agent was running a job, it counts a killed job, which must never happen.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from adoscale_lab.emulator import AdoModel
from adoscale_lab.sim.agent import EXITED_REASON, AgentState, AgentStats, EmulatedAgent


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


@dataclass(frozen=True, slots=True)
class PoolProfile:
    """What an emulated agent of a pool offers."""

    pool_id: int
    capabilities: dict[str, str]
    agent_name_prefix: str = ""


class Fleet:
    """Drives the emulated agents (`sim/agent.py`, the simulator's too) in real time: call `step()` as
    often as you like (it is idempotent for a given time)."""

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
        self._agents: dict[str, EmulatedAgent] = {}
        self.stats = AgentStats()

    def step(self) -> None:
        now = self._clock()
        for task in self._world.fleet_tasks():
            agent = self._agents.get(task.task_arn)
            if agent is None and task.running:
                agent = self._agent_for(task)
                self._agents[task.task_arn] = agent
            if agent is None or agent.done:
                continue
            if not task.running:
                agent.stopped(now)
                continue
            agent.advance(now)
            if agent.state is AgentState.EXITED:
                self._world.task_exited(task.task_arn, EXITED_REASON)

    def _agent_for(self, task: FleetTask) -> EmulatedAgent:
        profile = self._pools[task.pool]
        delay = self._rng.uniform(*self._startup)
        return EmulatedAgent(
            self._model,
            profile.pool_id,
            task.task_id,
            created_at=task.created_at,
            online_at=task.created_at + timedelta(seconds=delay),
            capabilities=profile.capabilities,
            job_seconds=lambda _request_id: self._rng.uniform(*self._job),
            stats=self.stats,
            name_prefix=profile.agent_name_prefix,
        )

    @property
    def active(self) -> int:
        return sum(1 for agent in self._agents.values() if not agent.done)
