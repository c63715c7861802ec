"""Observe, decide, act: one reconcile pass over every configured agent pool.

The pass is level-triggered: it keeps nothing between passes that cannot be read again from Azure DevOps
or ECS (the one exception is a cache of pool ids, which never change for a pool name). A pass that fails
half-way is simply repeated by the next one. One pool's failure is reported in its own result and does not
stop the others; an authentication failure stops the pass, since every pool would fail the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime

from adoscale.ado.client import AdoClient
from adoscale.ado.errors import AdoAuthError, AdoError
from adoscale.ado.models import Agent, JobRequest
from adoscale.ado.queue import count_queued_for, count_running
from adoscale.compute.base import Compute, TaskInfo
from adoscale.config import Config, PoolConfig
from adoscale.scaling import (
    AgentView,
    Plan,
    PoolPolicy,
    PoolSnapshot,
    TaskStatus,
    TaskView,
    plan,
)

log = logging.getLogger("adoscale.reconcile")

Clock = Callable[[], datetime]
Decide = Callable[[PoolSnapshot, PoolPolicy], Plan]
PolicyFor = Callable[[PoolConfig, datetime], PoolPolicy]


def policy_for(pool: PoolConfig) -> PoolPolicy:
    """The scaling engine's view of a pool's configuration."""
    return PoolPolicy(
        min_agents=pool.min_agents,
        max_agents=pool.max_agents,
        standby_agents=pool.standby_agents,
        idle_timeout_seconds=pool.idle_timeout_seconds,
        startup_timeout_seconds=pool.startup_timeout_seconds,
        agent_name_prefix=pool.agent_name_prefix,
        placeholder_name=pool.placeholder_name,
    )


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


@dataclass(frozen=True, slots=True)
class Observation:
    """What one pass saw of one pool: the engine's snapshot plus the raw records the act step needs."""

    pool_id: int
    snapshot: PoolSnapshot
    agents: tuple[Agent, ...]
    tasks: tuple[TaskInfo, ...]


@dataclass(slots=True)
class PoolReport:
    """The outcome of one pass over one pool, as `adoscale reconcile --json` prints it."""

    pool: str
    queued: int = 0
    running: int = 0
    idle: int = 0
    starting: int = 0
    launched: int = 0
    drained: int = 0
    stopped: int = 0
    deleted: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(slots=True)
class PassReport:
    pools: list[PoolReport]
    auth_failed: bool = False

    @property
    def ok(self) -> bool:
        return not self.auth_failed and not any(p.errors for p in self.pools)

    def as_dict(self) -> dict[str, object]:
        return {"pools": [p.as_dict() for p in self.pools]}


class Reconciler:
    """Runs reconcile passes for the pools of one configuration."""

    def __init__(
        self,
        config: Config,
        ado: AdoClient,
        compute: Compute,
        clock: Clock,
        *,
        decide: Decide = plan,
        policy: PolicyFor | None = None,
    ) -> None:
        self._config = config
        self._ado = ado
        self._compute = compute
        self._clock = clock
        # Both seams exist for the simulator, which compares other designs and time-varying policies.
        self._decide = decide
        self._policy = policy or (lambda pool, _now: policy_for(pool))
        self._pool_ids: dict[str, int] = {}

    # -- observe -------------------------------------------------------------------------------

    def _pool_id(self, name: str) -> int:
        if name not in self._pool_ids:
            self._pool_ids[name] = self._ado.get_pool(name).id
        return self._pool_ids[name]

    def observe(self, pool: PoolConfig, parallel: tuple[int, Sequence[JobRequest]] | None = None) -> Observation:
        """Read one pool's queue, agents and tasks: two ADO calls and one or two ECS listings."""
        pool_id = self._pool_id(pool.name)
        jobs = self._ado.list_job_requests(pool_id)
        agents = self._ado.list_agents(pool_id, last_completed=True)
        tasks = self._compute.list_tasks(pool)
        capacity: int | None = None
        if parallel is not None:
            total, running = parallel
            # The org-wide limit is shared: jobs running in other pools use part of it.
            others = sum(1 for job in running if job.pool_id != pool_id)
            capacity = max(0, total - others)
        snapshot = PoolSnapshot(
            pool=pool.name,
            now=self._clock(),
            queued=count_queued_for(jobs, pool.capability_map()),
            running=count_running(jobs),
            agents=tuple(agent_view(a) for a in agents),
            tasks=tuple(task_view(t) for t in tasks),
            parallel_capacity=capacity,
        )
        return Observation(pool_id=pool_id, snapshot=snapshot, agents=tuple(agents), tasks=tuple(tasks))

    # -- act -----------------------------------------------------------------------------------

    def act(self, pool: PoolConfig, observation: Observation, decision: Plan, report: PoolReport) -> None:
        self.act_plan(pool, observation.pool_id, decision, report)

    def act_plan(self, pool: PoolConfig, pool_id: int, decision: Plan, report: PoolReport) -> list[str]:
        """Carry out a plan; returns the ARNs of the tasks launched. Each action is idempotent, so a
        repeated pass repairs a half-done one."""
        launched: list[str] = []
        if decision.launch and decision.launch.count > 0:
            result = self._compute.launch(pool, decision.launch.count)
            launched = [task.task_arn for task in result.started]
            report.launched = len(result.started)
            report.errors.extend(f"launch: {failure}" for failure in result.failures)
            if result.fell_back_to_fargate:
                report.warnings.append(f"{result.fell_back_to_fargate} task(s) fell back from FARGATE_SPOT to FARGATE")
        for enable in decision.enable:
            self._ado.set_agent_enabled(pool_id, enable.agent_id, True)
        for drain in decision.drain:
            if self._drain(pool, pool_id, drain.agent_id, drain.task_arn, drain.reason, report):
                report.drained += 1
        for stop in decision.stop:
            self._compute.stop(pool, stop.task_arn, stop.reason)
            report.stopped += 1
        for delete in decision.delete:
            self._ado.delete_agent(pool_id, delete.agent_id)
            report.deleted += 1
        return launched

    def _drain(
        self,
        pool: PoolConfig,
        pool_id: int,
        agent_id: int,
        task_arn: str | None,
        reason: str,
        report: PoolReport,
    ) -> bool:
        """Disable, read again, stop only if still idle; otherwise enable again. Never stops a busy agent."""
        self._ado.set_agent_enabled(pool_id, agent_id, False)
        fresh = self._ado.get_agent(pool_id, agent_id)
        if fresh is None:
            # Gone between the two reads: its task, if any, no longer has an agent to wait for.
            if task_arn:
                self._compute.stop(pool, task_arn, f"adoscale: agent {agent_id} vanished while draining")
            return True
        if fresh.busy or task_arn is None:
            self._ado.set_agent_enabled(pool_id, agent_id, True)
            if fresh.busy:
                report.warnings.append(f"agent {fresh.name} took a job while draining; enabled again")
            return False
        self._compute.stop(pool, task_arn, f"adoscale: {reason}")
        return True

    # -- passes --------------------------------------------------------------------------------

    def _parallel(self) -> tuple[int, Sequence[JobRequest]] | None:
        limit = self._ado.parallel_job_limit()
        if limit is None:
            return None
        return limit.total, limit.running_requests

    def run_pool(
        self,
        pool: PoolConfig,
        *,
        dry_run: bool = False,
        parallel: tuple[int, Sequence[JobRequest]] | None = None,
    ) -> PoolReport:
        report = PoolReport(pool=pool.name)
        observation = self.observe(pool, parallel)
        decision = self._decide(observation.snapshot, self._policy(pool, observation.snapshot.now))
        report.queued = observation.snapshot.queued
        report.running = observation.snapshot.running
        report.idle = decision.idle
        report.starting = decision.starting
        report.warnings.extend(decision.warnings)
        if dry_run:
            report.launched = decision.launch.count if decision.launch else 0
            report.drained = len(decision.drain)
            report.stopped = len(decision.stop)
            report.deleted = len(decision.delete)
            return report
        self.act(pool, observation, decision, report)
        for line in _describe(decision):
            log.info("%s: %s", pool.name, line)
        return report

    def run(self, pool_names: Iterable[str] | None = None, *, dry_run: bool = False) -> PassReport:
        """One pass over the selected pools (all by default)."""
        wanted = set(pool_names) if pool_names is not None else None
        pools = [p for p in self._config.pools if wanted is None or p.name in wanted]
        reports: list[PoolReport] = []
        try:
            parallel = self._parallel()
        except AdoAuthError:
            raise
        except AdoError as exc:  # the limit is optional: carry on without it
            log.warning("parallel-job limit unavailable: %s", exc)
            parallel = None
        for pool in pools:
            try:
                reports.append(self.run_pool(pool, dry_run=dry_run, parallel=parallel))
            except AdoAuthError:
                raise
            except Exception as exc:  # one pool's failure must not stop the others
                log.exception("pool %s: pass failed", pool.name)
                reports.append(PoolReport(pool=pool.name, errors=[f"{type(exc).__name__}: {exc}"]))
        return PassReport(pools=reports)


def _describe(decision: Plan) -> list[str]:
    lines: list[str] = []
    if decision.launch and decision.launch.count:
        lines.append(f"launch {decision.launch.count} ({decision.launch.reason})")
    lines.extend(f"drain {d.agent_name} ({d.reason})" for d in decision.drain)
    lines.extend(f"stop {s.task_arn} ({s.reason})" for s in decision.stop)
    lines.extend(f"delete {d.agent_name} ({d.reason})" for d in decision.delete)
    lines.extend(f"enable {e.agent_name} ({e.reason})" for e in decision.enable)
    return lines


__all__ = [
    "Observation",
    "PassReport",
    "PoolReport",
    "Reconciler",
    "agent_view",
    "policy_for",
    "task_view",
]
