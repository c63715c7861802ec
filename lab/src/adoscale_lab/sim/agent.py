"""The agent inside one task, played against the ADO emulator's model: the one emulation that both the demo
(real time, tasks in moto's ECS) and the simulator (virtual time, simulated Fargate) drive.

It does what `agent/entrypoint.sh` and `run.sh --once` do: register under the task id once the container
has started, come online, take at most one job, run it for its duration, finish it, remove its own
registration and exit, which stops the task. A task stopped from outside (scale-in, SIGTERM) takes the
agent with it, and a job it was running dies with it: counted as killed, which adoscale must never cause.
A Spot interruption stops the task the same way, but it is the platform's doing: the job is abandoned and
queued again, as the user's pipeline would retry it, and it is counted apart.

The agent is a state machine in time: `advance(now)` does whatever the agent would have done by `now` and
says when it next needs to act on its own. A real-time driver polls it; an event-driven one wakes it then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from adoscale_lab.emulator import AdoModel

EXITED_REASON = "Essential container in task exited"


class AgentState(Enum):
    STARTING = "starting"  # the container is starting; not registered yet
    IDLE = "idle"  # registered and online, waiting for the service to assign a job
    BUSY = "busy"  # running its one job
    EXITED = "exited"  # ran its job, removed its registration, its task must stop
    GONE = "gone"  # its task was stopped from outside


@dataclass(slots=True)
class AgentStats:
    """Counters shared by all the agents of one driver."""

    registered: int = 0
    jobs_run: int = 0
    busy_killed: int = 0
    spot_interrupted: int = 0
    exited: int = 0
    agent_seconds: float = 0.0  # task created to agent gone, summed
    waits: list[float] = field(default_factory=list)  # queued to assigned, per job taken


class EmulatedAgent:
    """One task's agent. `job_seconds(request_id)` says how long a job runs once taken."""

    __slots__ = (
        "_capabilities",
        "_job_seconds",
        "_model",
        "_name",
        "_pool_id",
        "_stats",
        "agent_id",
        "created_at",
        "ended_at",
        "job_ends_at",
        "job_started_at",
        "online_at",
        "request_id",
        "state",
    )

    def __init__(
        self,
        model: AdoModel,
        pool_id: int,
        task_id: str,
        *,
        created_at: datetime,
        online_at: datetime,
        capabilities: dict[str, str],
        job_seconds: Callable[[int], float],
        stats: AgentStats,
        name_prefix: str = "",
    ) -> None:
        self._model = model
        self._pool_id = pool_id
        self._name = f"{name_prefix}{task_id}"  # as entrypoint.sh names it: the task id
        self._capabilities = capabilities
        self._job_seconds = job_seconds
        self._stats = stats
        self.created_at = created_at
        self.online_at = online_at
        self.state = AgentState.STARTING
        self.agent_id: int | None = None
        self.request_id: int | None = None
        self.job_started_at: datetime | None = None
        self.job_ends_at: datetime | None = None
        self.ended_at: datetime | None = None

    @property
    def took_job(self) -> bool:
        return self.job_started_at is not None

    @property
    def job_seconds(self) -> float:
        if self.job_started_at is None or self.job_ends_at is None:
            return 0.0
        return (self.job_ends_at - self.job_started_at).total_seconds()

    @property
    def done(self) -> bool:
        return self.state in (AgentState.EXITED, AgentState.GONE)

    def advance(self, now: datetime) -> datetime | None:
        """Act as the agent would have by `now`. Returns when it next acts on its own (None: it waits for
        the service to assign a job, or it is done). After it exits, the driver stops its task."""
        if self.state is AgentState.STARTING:
            if now < self.online_at:
                return self.online_at
            self.agent_id = self._model.register_agent(
                self._pool_id, self._name, dict(self._capabilities), online=True, enabled=True, once=True
            )
            self._stats.registered += 1
            self.state = AgentState.IDLE
        if self.state is AgentState.IDLE:
            assert self.agent_id is not None
            job = self._model.assigned_job(self._pool_id, self.agent_id)
            if job is None:
                return None
            self.request_id = job.request_id
            self.job_started_at = now
            self.job_ends_at = now + timedelta(seconds=self._job_seconds(job.request_id))
            self._stats.waits.append(((job.assign_time or now) - job.queue_time).total_seconds())
            self.state = AgentState.BUSY
            return self.job_ends_at
        if self.state is AgentState.BUSY:
            assert self.request_id is not None
            assert self.job_ends_at is not None
            if now < self.job_ends_at:
                return self.job_ends_at
            self._model.finish_job(self.request_id, result="succeeded")
            self._stats.jobs_run += 1
            self.request_id = None
            self._stats.exited += 1
            self._leave(now, AgentState.EXITED)
        return None

    def stopped(self, now: datetime) -> bool:
        """The task was stopped from outside: SIGTERM, then `config.sh remove`. Returns whether a running
        job was killed with it."""
        if self.done:
            return False
        killed = False
        if self.state is AgentState.BUSY:
            assert self.request_id is not None
            assert self.job_ends_at is not None
            if now < self.job_ends_at:
                killed = True
                self._stats.busy_killed += 1
                self._model.finish_job(self.request_id, result="abandoned")
            else:  # the job ended before the stop reached the agent
                self._model.finish_job(self.request_id, result="succeeded")
                self._stats.jobs_run += 1
            self.request_id = None
        self._leave(now, AgentState.GONE)
        return killed

    def interrupted(self, now: datetime) -> int | None:
        """A Spot interruption: the platform stops the task. A running job is abandoned and queued again
        (the pipeline's retry); returns the new request id, if any."""
        if self.done:
            return None
        self._stats.spot_interrupted += 1
        requeued: int | None = None
        if self.request_id is not None:
            job = self._model.job(self.request_id)
            self._model.finish_job(self.request_id, result="abandoned")
            self.request_id = None
            requeued = self._model.queue_job(job.pool_id, list(job.demands))
        self._leave(now, AgentState.GONE)
        return requeued

    def _leave(self, now: datetime, state: AgentState) -> None:
        if self.agent_id is not None:
            self._model.remove_agent(self._pool_id, self.agent_id)  # config.sh remove, on exit or SIGTERM
            self.agent_id = None
        self.state = state
        self.ended_at = now
        self._stats.agent_seconds += (now - self.created_at).total_seconds()
