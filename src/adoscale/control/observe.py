"""Observe: everything a pass decides from, read once and frozen.

Two ADO reads in a steady pass (job requests, agents; the pool id is cached), one compute read (the pool's
tasks, stopped ones included), and the pool's demand history when it has a warm pool. Nothing here decides
or acts; the result is an `Observation` that decide and act, the report and the CLI only read.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from adoscale.ado.demands import satisfies
from adoscale.ado.models import Agent, JobRequest, JobState, ParallelLimit
from adoscale.ado.placeholder import pool_agent_capabilities
from adoscale.ado.queue import KnownUnservable, count_queued_for, count_running, unmet_by_agents, unservable
from adoscale.compute.base import TaskInfo
from adoscale.config import PoolConfig
from adoscale.history.base import HistoryCorruptError, HistoryRecord
from adoscale.history.seen import assigned_jobs, finished_jobs
from adoscale.ports import AdoPort, Clock, Compute, History
from adoscale.scaling import AgentView, PoolSnapshot, TaskStatus, TaskView


@dataclass(frozen=True, slots=True)
class ParallelShare:
    """The organization's self-hosted parallel-job limit and the jobs running under it, by pool id: read
    once per round for every pool (it is shared), and carried to each pool's pass.

    A pool's agents hold slots of the limit as soon as they exist, not only once they run a job: an agent
    started beyond the limit waits idle. So after each pool's pass, a round run in one process (`run`,
    `serve`, the demo, the simulator) records what that pool now holds, its live tasks (`after`), and the
    next pool's capacity leaves those slots out: limit 4 and two pools of 4 queued jobs start 4 tasks in all,
    not 8. Where passes run at once (the workflow's Map), the launch is made in a critical section that counts
    the other pools' live tasks again (`control.pass_.Reconciler._parallel_gate`)."""

    total: int
    running_by_pool: Mapping[int, int]
    holding_by_pool: Mapping[int, int] = field(default_factory=dict)  # live tasks, by pool, seen this round

    @classmethod
    def of(cls, limit: ParallelLimit) -> ParallelShare:
        counts: dict[int, int] = {}
        for job in limit.running_requests:
            if job.pool_id is not None:
                counts[job.pool_id] = counts.get(job.pool_id, 0) + 1
        return cls(total=limit.total, running_by_pool=counts)

    def capacity_for(self, pool_id: int) -> int:
        pools = set(self.running_by_pool) | set(self.holding_by_pool)
        others = sum(
            max(self.running_by_pool.get(pid, 0), self.holding_by_pool.get(pid, 0)) for pid in pools if pid != pool_id
        )
        return max(0, self.total - others)

    def after(self, pool_id: int, holding: int) -> ParallelShare:
        """The share once `pool_id`'s pass has left it holding `holding` live tasks."""
        return replace(self, holding_by_pool={**self.holding_by_pool, pool_id: holding})

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "running_by_pool": {str(k): v for k, v in self.running_by_pool.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParallelShare:
        return cls(
            total=int(data["total"]),
            running_by_pool={int(k): int(v) for k, v in dict(data.get("running_by_pool") or {}).items()},
        )


@dataclass(frozen=True, slots=True)
class Observation:
    """One pool as one pass saw it. `snapshot` is the engine's input; `arrivals` (request id, queued at)
    are the jobs this pool's agents can run, for the warm pool's history; `history` is the pool's demand
    history as loaded (None when the pool has no warm pool); `tasks` are the compute adapter's own records
    (stop codes and reasons included)."""

    pool: str
    pool_id: int
    snapshot: PoolSnapshot
    arrivals: tuple[tuple[int, datetime], ...]
    tasks: tuple[TaskInfo, ...]
    history: HistoryRecord | None = None
    history_error: str | None = None  # the history could not be read: the pass goes on without it
    # For the operator (status, metrics, alarms), from the same reads: queued jobs whose demands this pool's
    # agents do not meet, and when the oldest queued job this pool can run was queued.
    unservable: int = 0
    oldest_queued_at: datetime | None = None
    # The queued jobs no agent of this pool can ever run, each with the demand that fails (logged once each).
    unservable_jobs: tuple[tuple[int, str], ...] = ()
    # The pool's agents as read (with their capabilities): the placeholder step compares from them.
    agents: tuple[Agent, ...] = ()
    # (request id, queue time, assign time) of the jobs these reads show assigned, for the wait metric.
    assigned_jobs: tuple[tuple[int, datetime, datetime], ...] = ()
    # (request id, finish time) of the jobs these reads show finished, for the durations the history keeps.
    finished_jobs: tuple[tuple[int, datetime], ...] = ()

    @property
    def live_tasks(self) -> int:
        return sum(1 for t in self.snapshot.tasks if t.status.live)

    def as_dict(self) -> dict[str, Any]:
        """A summary for status views and metrics: counts, not the raw records."""
        s = self.snapshot
        return {
            "pool": self.pool,
            "pool_id": self.pool_id,
            "now": s.now.isoformat(),
            "queued": s.queued,
            "running": s.running,
            "agents": len(s.agents),
            "tasks": len(s.tasks),
            "live_tasks": self.live_tasks,
            "parallel_capacity": s.parallel_capacity,
        }


def agent_view(agent: Agent) -> AgentView:
    last_finished = agent.last_completed_request.finish_time if agent.last_completed_request else None
    return AgentView(
        agent_id=agent.id,
        name=agent.name,
        online=agent.status == "online",
        enabled=bool(agent.enabled),
        busy=agent.busy,
        status_changed_on=agent.status_changed_on,
        last_finished=last_finished,
    )


def task_view(task: TaskInfo) -> TaskView:
    return TaskView(
        task_arn=task.task_arn,
        task_id=task.task_id,
        status=TaskStatus.from_ecs(task.last_status),
        created_at=task.created_at,
    )


class PoolIds:
    """Pool ids by name: they never change for a name, so a warm Lambda shares this cache between
    invocations and a steady pass makes two ADO calls, not three."""

    def __init__(self, ado: AdoPort, cache: MutableMapping[str, int] | None = None) -> None:
        self._ado = ado
        self._cache: MutableMapping[str, int] = cache if cache is not None else {}

    def __call__(self, name: str) -> int:
        if name not in self._cache:
            self._cache[name] = self._ado.get_pool(name).id
        return self._cache[name]


def observe(
    pool: PoolConfig,
    *,
    ado: AdoPort,
    compute: Compute,
    clock: Clock,
    pool_ids: PoolIds,
    history: History | None,
    parallel: ParallelShare | None,
    known: KnownUnservable | None = None,
    organization: str = "",
) -> Observation:
    """Read the pool: its jobs and agents in ADO, its tasks, and its demand history when `history` is given
    (the pool has a warm pool). `known`: the jobs already found unservable by the pool's own agents (kept by
    the caller across passes, by `organization` and pool)."""
    pool_id = pool_ids(pool.name)
    jobs = ado.list_job_requests(pool_id)
    # The pool's agents offer their platform's system capabilities (Agent.OS, ...) and the configured ones.
    capabilities = pool_agent_capabilities(pool.capabilities, pool.platform, pool.agent_name_prefix)
    agents = ado.list_agents(pool_id, last_completed=True)
    tasks = tuple(compute.list_tasks(pool.name))
    # Demand matching once: the jobs this pool's agents can run feed both the queue count and the warm
    # pool's arrivals. What the pool's own agents report overrules the configuration: a job none of them can
    # take is not demand (its idle agents are surplus, drained as any other).
    matching = [job for job in jobs if capabilities is None or satisfies(capabilities, job.demands)]
    refused = refused_by_own_agents(pool, matching, agents, tasks, known, (organization, pool.name))
    refused_ids = {job.request_id for job, _ in refused}
    ours = [job for job in matching if job.request_id not in refused_ids]
    arrivals = tuple((job.request_id, job.queue_time) for job in ours if job.queue_time is not None)
    snapshot = PoolSnapshot(
        pool=pool.name,
        now=clock(),
        queued=count_queued_for(ours, None),
        running=count_running(jobs),
        agents=tuple(agent_view(a) for a in agents),
        tasks=tuple(task_view(t) for t in tasks),
        parallel_capacity=parallel.capacity_for(pool_id) if parallel is not None else None,
    )
    record: HistoryRecord | None = None
    problem: str | None = None
    if history is not None:
        try:
            # The port hands out a record of the caller's own (its contract, tests/contract/test_history.py): no
            # copy here, which cost a week of warm history's arrivals on every pass of every pool.
            record = history.load(pool.name)
        except HistoryCorruptError as exc:
            # Ignored and reported: the pool is served without its past demand, and this pass's record
            # replaces the damaged one.
            record, problem = HistoryRecord(), f"{exc}; the warm pool's history starts afresh"
    waiting = [job.queue_time for job in ours if job.state is JobState.QUEUED and job.queue_time is not None]
    return Observation(
        pool.name,
        pool_id,
        snapshot,
        arrivals,
        tasks,
        record,
        problem,
        unservable=count_queued_for(jobs, None) - snapshot.queued,
        oldest_queued_at=min(waiting, default=None),
        unservable_jobs=tuple((job.request_id, demand) for job, demand in [*unservable(jobs, capabilities), *refused]),
        agents=tuple(agents),
        assigned_jobs=assigned_jobs(jobs, agents),
        finished_jobs=finished_jobs(jobs, agents),
    )


def refused_by_own_agents(
    pool: PoolConfig,
    jobs: list[JobRequest],
    agents: list[Agent],
    tasks: tuple[TaskInfo, ...],
    known: KnownUnservable | None,
    scope: tuple[str, str],
) -> list[tuple[JobRequest, str]]:
    """Queued `jobs` that the pool's own agents cannot take, with the demand that fails: those none of its
    online agents launched by adoscale (named after a live task) meets, as they report their capabilities
    (an image without what the configuration claims, or a pool without `capabilities` given jobs its image
    cannot run: ADO leaves such a job queued while another registration meets it, and the agents launched for
    it idle). Found once, a job is remembered in `known`, so that it is not taken for demand again once those
    agents are drained (with no agent online, nothing else would tell)."""
    live = {(pool.agent_name_prefix + task.task_id).lower() for task in tasks if task.last_status.upper() != "STOPPED"}
    own = [agent.capabilities for agent in agents if agent.online and agent.name.lower() in live]
    found = unmet_by_agents(jobs, own)
    if known is None:
        return found
    for job, demand in found:
        known.remember(scope, job.request_id, demand)
    seen = {job.request_id for job, _ in found}
    for job in jobs:
        if job.state is JobState.QUEUED and job.request_id not in seen:
            remembered = known.demand(scope, job.request_id)
            if remembered is not None:
                found.append((job, remembered))
    return found
