"""One reconcile pass over one pool — observe, decide, act — the only unit of work every runtime drives.

The CLI (`reconcile`, `serve`), the Lambda behind the workflow, the demo and the simulator all call
`Reconciler.run_pool` (or `run`, which loops over pools). A pass:

1. takes the pool's lease (single flight: a pass that finds it held skips the pool and says so);
2. observes within a deadline: the pool's job requests and agents (two ADO calls in a steady pass; the
   pool id is cached), the pool's ECS tasks;
3. decides with the pure engine (`adoscale.scaling.plan`);
4. acts: launches with an idempotency token derived from the pass, and confirms every stop, disable and
   delete against a fresh read of that one agent right before it (never on the strength of step 2);
5. gives the lease back.

Level-triggered: nothing is kept between passes that cannot be read again (a cache of pool ids aside),
so a pass that fails half-way is repaired by the next one. One pool's failure is reported in its own
result and does not stop the others; an authentication failure stops the pass, since every pool would
fail the same way.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from adoscale.ado.demands import satisfies
from adoscale.ado.errors import AdoAuthError, AdoError
from adoscale.ado.models import Agent, JobRequest, ParallelLimit, Pool
from adoscale.ado.placeholder import PlaceholderAction, PlaceholderSpec, ensure_placeholder, pool_agent_capabilities
from adoscale.ado.queue import SeenJobs, count_queued_for, count_running, unservable
from adoscale.compute.base import Compute, TaskInfo
from adoscale.config import Config, PoolConfig
from adoscale.history import History, MemoryHistory, trim
from adoscale.history.base import observe as observe_demand
from adoscale.lease import Lease, Unleased, while_held
from adoscale.scaling import (
    AgentView,
    Drain,
    Plan,
    PoolPolicy,
    PoolSnapshot,
    StopTask,
    TaskStatus,
    TaskView,
    plan,
)
from adoscale.scaling.warm import WarmMode, WarmPolicy, WarmSchedule, WarmTarget, warm_target, with_warm_pool
from adoscale.transient import AwsUnavailableError

log = logging.getLogger("adoscale.reconcile")

Clock = Callable[[], datetime]
Decide = Callable[[PoolSnapshot, PoolPolicy], Plan]
PolicyFor = Callable[[PoolConfig, datetime], PoolPolicy]


class AdoPort(Protocol):
    """What a pass needs of Azure DevOps (`adoscale.ado.AdoClient` is the real one)."""

    def get_pool(self, name: str) -> Pool: ...

    def list_job_requests(self, pool_id: int) -> list[JobRequest]: ...

    def list_agents(self, pool_id: int, *, last_completed: bool = False, name: str | None = None) -> list[Agent]: ...

    def get_agent(self, pool_id: int, agent_id: int) -> Agent | None: ...

    def set_agent_enabled(self, pool_id: int, agent_id: int, enabled: bool) -> Agent: ...

    def delete_agent(self, pool_id: int, agent_id: int) -> bool: ...

    def add_agent(self, pool_id: int, body: Mapping[str, Any]) -> Agent: ...

    def replace_agent(self, pool_id: int, agent_id: int, body: Mapping[str, Any]) -> Agent: ...

    def parallel_job_limit(self) -> ParallelLimit | None: ...

    def bounded(self, seconds: float) -> AbstractContextManager[None]: ...


class PassDeadlineError(AdoError):
    """The pass ran out of time before acting on everything it decided; the next pass carries on."""


@dataclass(frozen=True, slots=True)
class PassLimits:
    """How long a pass may take, and how long its lease lasts: a little longer than the pass, so that a
    crashed pass blocks its pool for at most `lease_ttl_s`."""

    deadline_s: float = 20.0
    lease_ttl_s: float = 60.0

    def __post_init__(self) -> None:
        if self.lease_ttl_s <= self.deadline_s:
            raise ValueError("lease_ttl_s must be longer than deadline_s")


@dataclass(frozen=True, slots=True)
class ParallelShare:
    """The organization's self-hosted parallel-job limit and the jobs running under it, by pool id: read
    once per round for every pool (it is shared), and carried to each pool's pass."""

    total: int
    running_by_pool: Mapping[int, int]

    @classmethod
    def of(cls, limit: ParallelLimit) -> ParallelShare:
        counts: dict[int, int] = {}
        for job in limit.running_requests:
            if job.pool_id is not None:
                counts[job.pool_id] = counts.get(job.pool_id, 0) + 1
        return cls(total=limit.total, running_by_pool=counts)

    def capacity_for(self, pool_id: int) -> int:
        others = sum(n for pid, n in self.running_by_pool.items() if pid != pool_id)
        return max(0, self.total - others)

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "running_by_pool": {str(k): v for k, v in self.running_by_pool.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParallelShare:
        return cls(
            total=int(data["total"]),
            running_by_pool={int(k): int(v) for k, v in dict(data.get("running_by_pool") or {}).items()},
        )


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


def warm_policy_for(pool: PoolConfig) -> WarmPolicy:
    warm = pool.warm_pool
    return WarmPolicy(
        mode=WarmMode(warm.mode),
        max_agents=warm.max_agents,
        budget_agent_hours_per_day=warm.budget_agent_hours_per_day,
        schedules=tuple(WarmSchedule(s.cron, s.duration_minutes, s.agents, s.timezone) for s in warm.schedules),
        quantile=warm.quantile,
        horizon_s=float(warm.horizon_seconds),
        window_s=float(warm.window_seconds),
        seasonal_days=warm.seasonal_days,
        drain_after_s=float(warm.drain_after_seconds),
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


def new_pass_id(prefix: str | None = None) -> str:
    """Unique per pass attempt: the lease owner and the root of the launch's idempotency token."""
    origin = prefix or f"{socket.gethostname()}:{os.getpid()}"
    return f"{origin}/{uuid.uuid4().hex[:12]}"


@dataclass(slots=True)
class PoolReport:
    """The outcome of one pass over one pool, as `adoscale reconcile --json` prints it."""

    pool: str
    pass_id: str = ""
    skipped: str | None = None  # why the pass did nothing (the lease is held elsewhere)
    queued: int = 0
    running: int = 0
    idle: int = 0
    busy: int = 0
    starting: int = 0
    warm: int = 0  # the warm pool's target this pass (part of the standby kept)
    launched: int = 0
    drained: int = 0
    stopped: int = 0
    deleted: int = 0
    unservable: int = 0  # queued jobs in the pool that no agent adoscale launches for it can run
    placeholder: str = ""  # what the pass did about the pool's placeholder (keep, create, replace, foreign)
    launched_tasks: list[str] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(slots=True)
class PassReport:
    pools: list[PoolReport]

    @property
    def ok(self) -> bool:
        return not any(p.errors for p in self.pools)

    def as_dict(self) -> dict[str, object]:
        return {"pools": [p.as_dict() for p in self.pools]}


class Reconciler:
    """Runs reconcile passes for the pools of one configuration."""

    def __init__(
        self,
        config: Config,
        ado: AdoPort,
        compute: Compute,
        clock: Clock,
        *,
        lease: Lease | None = None,
        limits: PassLimits | None = None,
        decide: Decide = plan,
        policy: PolicyFor | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        pass_id_prefix: str | None = None,
        pool_ids: dict[str, int] | None = None,
        history: History | None = None,
    ) -> None:
        self._config = config
        self._ado = ado
        self._compute = compute
        self._clock = clock
        self._lease: Lease = lease or Unleased()
        self._limits = limits or PassLimits()
        # Both seams exist for the simulator, which compares other designs and time-varying policies.
        self._decide = decide
        self._policy = policy or (lambda pool, _now: policy_for(pool))
        self._monotonic = monotonic
        self._pass_id_prefix = pass_id_prefix
        # Pool ids never change for a name: a warm Lambda shares this cache between invocations.
        self._pool_ids: dict[str, int] = pool_ids if pool_ids is not None else {}
        self._history: History = history or MemoryHistory()
        self._unservable_seen = SeenJobs()

    @property
    def config(self) -> Config:
        return self._config

    def pool(self, name: str) -> PoolConfig:
        for pool in self._config.pools:
            if pool.name == name:
                return pool
        raise KeyError(name)

    # -- the organization-wide part of a round ----------------------------------------------------

    def parallel_share(self) -> ParallelShare | None:
        """The parallel-job limit, once for all pools. Optional: a failure other than authentication
        means no cap for this round."""
        try:
            limit = self._ado.parallel_job_limit()
        except AdoAuthError:
            raise
        except AdoError as exc:
            log.warning("parallel-job limit unavailable: %s", exc)
            return None
        return ParallelShare.of(limit) if limit is not None else None

    # -- one pool ----------------------------------------------------------------------------------

    def run_pool(
        self,
        pool: PoolConfig,
        *,
        parallel: ParallelShare | None = None,
        dry_run: bool = False,
        pass_id: str | None = None,
        deadline_s: float | None = None,
        raise_errors: bool = False,
    ) -> PoolReport:
        """One pass over one pool. A failure is in the report's `errors`, or raised when `raise_errors`
        (the workflow retries transient ones); an authentication failure is always raised."""
        pass_id = pass_id or new_pass_id(self._pass_id_prefix)
        report = PoolReport(pool=pool.name, pass_id=pass_id)
        seconds = min(deadline_s, self._limits.deadline_s) if deadline_s is not None else self._limits.deadline_s
        if dry_run:
            self._pass(pool, report, seconds, parallel, dry_run=True, raise_errors=raise_errors)
            return report
        ran = False  # whether the pass itself began
        raised: list[BaseException] = []  # what the pass raised: it has reported that itself

        def work() -> None:
            nonlocal ran
            ran = True
            try:
                self._pass(pool, report, seconds, parallel, dry_run=False, raise_errors=raise_errors)
            except BaseException as exc:
                raised.append(exc)
                raise

        # Acquire, pass and release as one guarded unit: `serve` interrupts a pass by raising from a signal
        # handler, possibly right after the lease was written, and the lease must be given back then too.
        try:
            held = while_held(self._lease, pool.name, pass_id, self._limits.lease_ttl_s, work)
        except AdoAuthError:
            raise
        except Exception as exc:
            if exc in raised:
                raise  # the pass's own failure (`raise_errors`), already reported, for the workflow's retry
            # The lease table failed (throttled, unavailable, access denied): this pool's pass is skipped or
            # its lease left to expire; the other pools go on, and so does `serve`.
            what = "lease not given back (it expires by itself)" if ran else "pass skipped"
            log.error("pool %s: lease table: %s: %s; %s", pool.name, type(exc).__name__, exc, what)  # noqa: TRY400 (expected: one line)
            report.errors.append(f"lease table: {type(exc).__name__}: {exc}; {what}")
            if raise_errors:
                raise
            return report
        if held is not None:
            report.skipped = held.describe()
            log.info("%s: skipped: %s", pool.name, report.skipped)
        return report

    def _pass(
        self,
        pool: PoolConfig,
        report: PoolReport,
        seconds: float,
        parallel: ParallelShare | None,
        *,
        dry_run: bool,
        raise_errors: bool,
    ) -> None:
        try:
            with self._ado.bounded(seconds):
                _PoolPass(self, pool, report, self._monotonic() + seconds).run(parallel, dry_run)
        except AdoAuthError:
            raise
        except Exception as exc:  # one pool's failure must not stop the others
            if isinstance(exc, AdoError | AwsUnavailableError):
                # An expected failure (a service down, slow or answering nonsense): one line, no traceback.
                log.error("pool %s: pass failed: %s", pool.name, exc)  # noqa: TRY400 (no traceback: see above)
            else:
                log.exception("pool %s: pass failed", pool.name)
            report.errors.append(f"{type(exc).__name__}: {exc}")
            if raise_errors:
                raise

    def run(self, pool_names: Iterable[str] | None = None, *, dry_run: bool = False) -> PassReport:
        """One pass over the selected pools (all by default), sharing one read of the parallel limit."""
        wanted = set(pool_names) if pool_names is not None else None
        pools = [p for p in self._config.pools if wanted is None or p.name in wanted]
        parallel = self.parallel_share()
        return PassReport(pools=[self.run_pool(pool, parallel=parallel, dry_run=dry_run) for pool in pools])

    def _pool_id(self, name: str) -> int:
        if name not in self._pool_ids:
            self._pool_ids[name] = self._ado.get_pool(name).id
        return self._pool_ids[name]


class _PoolPass:
    """The steps of one pass over one pool; lives for that pass only."""

    def __init__(self, owner: Reconciler, pool: PoolConfig, report: PoolReport, ends_at: float) -> None:
        self.r = owner
        self.pool = pool
        self.report = report
        self.ends_at = ends_at
        self.ado = owner._ado
        self.compute = owner._compute
        self.dry_run = False

    def run(self, parallel: ParallelShare | None, dry_run: bool) -> None:
        self.dry_run = dry_run
        pool_id, snapshot, arrivals = self.observe(parallel)
        policy = self.r._policy(self.pool, snapshot.now)
        policy, warm = self.warm(snapshot, arrivals, policy, dry_run)
        decision = self.r._decide(snapshot, policy)
        report = self.report
        report.warm = warm.agents if warm is not None else 0
        report.queued, report.running = snapshot.queued, snapshot.running
        report.idle, report.busy, report.starting = decision.idle, decision.busy, decision.starting
        report.warnings.extend(decision.warnings)
        report.plan = describe(decision)
        for line in report.plan:
            log.info("%s: %s%s", self.pool.name, "(dry run) " if dry_run else "", line)
        if dry_run:
            report.launched = decision.launch_count
            report.drained, report.stopped = len(decision.drain), len(decision.stop)
            report.deleted = len(decision.delete)
            return
        self.act(pool_id, decision)

    # -- observe -------------------------------------------------------------------------------

    def placeholder(self, pool_id: int, agents: list[Agent]) -> bool:
        """Keep the pool open at zero (adoscale.ado.placeholder), from the agents just read (no call in a steady
        pass); not in a dry run. A failure is reported and the pass goes on. True: a registration was written."""
        if self.dry_run:
            return False
        pool = self.pool
        spec = PlaceholderSpec.for_pool(
            name=pool.agent_name_prefix + pool.placeholder_name, platform=pool.platform, capabilities=pool.capabilities
        )
        try:
            action = ensure_placeholder(self.ado, pool_id, spec, agents)
        except AdoAuthError:
            raise
        except AdoError as exc:
            log.error("pool %s: placeholder: %s", pool.name, exc)  # noqa: TRY400 (expected: one line)
            self.report.errors.append(f"placeholder: {exc}")
            return False
        self.report.placeholder = action.value
        return action is PlaceholderAction.CREATE

    def observe(self, parallel: ParallelShare | None) -> tuple[int, PoolSnapshot, list[tuple[int, datetime]]]:
        pool_id = self.r._pool_id(self.pool.name)
        jobs = self.ado.list_job_requests(pool_id)
        capabilities = pool_agent_capabilities(self.pool.capabilities, self.pool.platform, self.pool.agent_name_prefix)
        cannot = unservable(jobs, capabilities)
        self.report.unservable = len(cannot)
        for job, demand in cannot:
            if self.r._unservable_seen.first_time(self.pool.name, job.request_id):
                log.warning(
                    "%s: job %d can never run here: no agent of this pool meets its demand %r",
                    self.pool.name,
                    job.request_id,
                    demand,
                )
        # Demand matching once: the jobs this pool's agents can run feed both the queue count and the
        # warm pool's arrivals.
        ours = [job for job in jobs if capabilities is None or satisfies(capabilities, job.demands)]
        arrivals = [(job.request_id, job.queue_time) for job in ours if job.queue_time is not None]
        agents = self.ado.list_agents(pool_id, last_completed=True)
        if self.placeholder(pool_id, agents):
            # Registered just now: read again, so that the plan sees the pool's placeholder.
            agents = self.ado.list_agents(pool_id, last_completed=True)
        tasks = self.compute.list_tasks(self.pool.name)
        snapshot = PoolSnapshot(
            pool=self.pool.name,
            now=self.r._clock(),
            queued=count_queued_for(ours, None),
            running=count_running(jobs),
            agents=tuple(agent_view(a) for a in agents),
            tasks=tuple(task_view(t) for t in tasks),
            parallel_capacity=parallel.capacity_for(pool_id) if parallel is not None else None,
        )
        return pool_id, snapshot, arrivals

    def warm(
        self, snapshot: PoolSnapshot, arrivals: list[tuple[int, datetime]], policy: PoolPolicy, dry_run: bool
    ) -> tuple[PoolPolicy, WarmTarget | None]:
        """The warm pool's size for this pass, from the pool's demand history (recorded here, by the
        lease holder), and the pass's policy with it applied; the policy as it was when the pool has none."""
        warm = warm_policy_for(self.pool)
        if warm.mode is WarmMode.OFF:
            return policy, None
        history = self.r._history
        record = history.load(self.pool.name)
        idle = sum(1 for a in snapshot.agents if a.online and a.enabled and not a.busy)
        observe_demand(record, arrivals, min(idle, max(policy.standby_agents, warm.max_agents)), snapshot.now)
        trim(record, snapshot.now, warm.seasonal_days)
        if not dry_run:
            history.save(self.pool.name, record)
        target = warm_target(warm, record.demand(snapshot.now), snapshot.now)
        log.info("%s: warm pool %d (%s)", self.pool.name, target.agents, target.reason)
        return with_warm_pool(policy, target, warm), target

    # -- act -----------------------------------------------------------------------------------

    def _in_time(self, what: str) -> None:
        """No action starts after the deadline: the lease may be about to expire, and another pass may
        then be observing."""
        if self.r._monotonic() >= self.ends_at:
            raise PassDeadlineError(f"pass deadline reached before: {what}")

    def act(self, pool_id: int, decision: Plan) -> None:
        report = self.report
        if decision.launch_count > 0:
            self._in_time("launch")
            result = self.compute.launch(self.pool.name, decision.launch_count, token=report.pass_id)
            report.launched = len(result.started)
            report.launched_tasks = [task.task_arn for task in result.started]
            report.errors.extend(f"launch: {failure}" for failure in result.failures)
            if result.spot_refusals or result.fell_back_to_fargate:
                # Why Spot refused matters to the operator: a shortage passes, a platform version or CPU
                # architecture that FARGATE_SPOT does not take will refuse every launch until changed.
                reasons = "; ".join(dict.fromkeys(result.spot_refusals)) or "no reason given"
                report.warnings.append(
                    f"{result.fell_back_to_fargate} task(s) fell back from FARGATE_SPOT to FARGATE: {reasons}"
                )
        for enable in decision.enable:
            self._in_time(f"enable {enable.agent_name}")
            self.ado.set_agent_enabled(pool_id, enable.agent_id, True)
        for drain in decision.drain:
            self._in_time(f"drain {drain.agent_name}")
            if self._drain(pool_id, drain):
                report.drained += 1
        for stop in decision.stop:
            self._in_time(f"stop {stop.task_arn}")
            if self._stop(pool_id, stop):
                report.stopped += 1
        for delete in decision.delete:
            self._in_time(f"delete {delete.agent_name}")
            fresh = self.ado.get_agent(pool_id, delete.agent_id)
            if fresh is None:
                continue  # already gone
            if fresh.busy or fresh.status == "online":
                report.warnings.append(f"agent {fresh.name} is {_state(fresh)} again; not deleted")
                continue
            if self.ado.delete_agent(pool_id, delete.agent_id):
                report.deleted += 1

    def _drain(self, pool_id: int, drain: Drain) -> bool:
        """Read, disable, read again, stop only if still idle; otherwise enable again. Never disables an
        agent that the read just before showed busy, never stops one that is busy."""
        fresh = self.ado.get_agent(pool_id, drain.agent_id)
        if fresh is not None and fresh.busy:
            self.report.warnings.append(f"agent {fresh.name} took a job since the pass began; not drained")
            return False
        if fresh is not None:
            self.ado.set_agent_enabled(pool_id, drain.agent_id, False)
            fresh = self.ado.get_agent(pool_id, drain.agent_id)
        if fresh is None:
            # Gone: its task, if any, no longer has an agent to wait for.
            if drain.task_arn:
                reason = f"adoscale: agent {drain.agent_name} vanished while draining"
                self.compute.stop(self.pool.name, drain.task_arn, reason)
            return True
        if fresh.busy or drain.task_arn is None:
            self.ado.set_agent_enabled(pool_id, drain.agent_id, True)
            if fresh.busy:
                self.report.warnings.append(f"agent {fresh.name} took a job while draining; enabled again")
            return False
        self.compute.stop(self.pool.name, drain.task_arn, f"adoscale: {drain.reason}")
        return True

    def _stop(self, pool_id: int, stop: StopTask) -> bool:
        """Stop a task whose agent is not working, after reading that agent again by name: a task whose
        agent came online (or took a job) since the pass began is left alone."""
        if stop.agent_name:
            fresh = [
                a
                for a in self.ado.list_agents(pool_id, name=stop.agent_name)
                if a.name.lower() == stop.agent_name.lower()
            ]
            working = [a for a in fresh if a.busy or a.status == "online"]
            if working:
                self.report.warnings.append(f"agent {working[0].name} is {_state(working[0])} now; task not stopped")
                return False
        self.compute.stop(self.pool.name, stop.task_arn, f"adoscale: {stop.reason}")
        return True


def _state(agent: Agent) -> str:
    return "busy" if agent.busy else str(agent.status or "unknown")


def describe(decision: Plan) -> list[str]:
    """The plan in one line per action, for logs and reports."""
    lines: list[str] = []
    if decision.launch and decision.launch.count:
        lines.append(f"launch {decision.launch.count} ({decision.launch.reason})")
    lines.extend(f"drain {d.agent_name} ({d.reason})" for d in decision.drain)
    lines.extend(f"stop {s.task_arn} ({s.reason})" for s in decision.stop)
    lines.extend(f"delete {d.agent_name} ({d.reason})" for d in decision.delete)
    lines.extend(f"enable {e.agent_name} ({e.reason})" for e in decision.enable)
    return lines


__all__ = [
    "AdoPort",
    "ParallelShare",
    "PassDeadlineError",
    "PassLimits",
    "PassReport",
    "PoolReport",
    "Reconciler",
    "agent_view",
    "describe",
    "new_pass_id",
    "policy_for",
    "task_view",
]
