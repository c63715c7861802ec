"""One reconcile pass over one pool (observe -> decide -> act), the only unit of work every runtime drives.

The CLI (`reconcile`, `serve`), the Lambda behind the workflow, the demo and the simulator all call
`Reconciler.run_pool` (or `run`, which loops over pools), built by `adoscale.bootstrap`. A pass:

1. takes the pool's lease (single flight: a pass that finds it held skips the pool and says so);
2. observes within a deadline (`control.observe`): a frozen `Observation`;
3. decides with the pure engine (`control.decide`, `adoscale.scaling.plan`): a frozen `Decision`;
4. acts (`control.act`), confirming every stop, disable and delete against a fresh read: a frozen
   `ActResult`;
5. gives the lease back; the `PoolReport` is built from the three results.

A dry run (`preview`) is the same observe and decide, with the plan reported instead of acted on (no lease,
nothing saved). Level-triggered: nothing is kept between passes that cannot be read again (a cache of pool ids,
the warm pool's demand history and the marks of what the metrics counted aside), so a pass that fails half-way
is repaired by the next one. One
pool's failure is its report's `errors` and `failure` (the caller decides: the Lambda raises a transient one
for the workflow's retry); an authentication failure is raised, since every pool would fail the same way.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import UTC
from typing import Any

from adoscale.ado.errors import AdoAuthError, AdoError, AdoScopeError
from adoscale.ado.models import JobState
from adoscale.ado.placeholder import PlaceholderAction, PlaceholderSpec, confirm_manage, ensure_placeholder
from adoscale.ado.queue import KnownUnservable, SeenJobs
from adoscale.aws import CallBudget
from adoscale.config import Config, PoolConfig
from adoscale.control.act import LAUNCH_ERROR, Actor, ActResult, Guard, LaunchGate, LeaseLostError
from adoscale.control.backoff import StartIncidents
from adoscale.control.decide import Decide, Decision, PolicyFor, decide, default_policy, describe
from adoscale.control.incidents import PassIncidents
from adoscale.control.observe import Observation, ParallelShare, PoolIds, observe
from adoscale.history import HistoryRecord, MemoryHistory
from adoscale.history.seen import AgentStartup, FirstSeen, JobWait, first_seen
from adoscale.lease import Unleased, while_held
from adoscale.ports import AdoPort, Clock, Compute, ComputeFor, History, Lease, Monotonic
from adoscale.scaling import Plan, plan
from adoscale.transient import AwsUnavailableError

log = logging.getLogger("adoscale.reconcile")

# Jobs found unservable by a pool's own agents (`control.observe.refused_by_own_agents`), for this process.
KNOWN_UNSERVABLE = KnownUnservable()
# The critical section around a launch under the organization's parallel-job limit (`_parallel_gate`): a lease
# in the lease table under a key no pool's item uses, held for a launch (about a second), taken over from a
# crashed holder like any lease; a pass that cannot take it within PARALLEL_WAIT_S launches nothing this time.
PARALLEL_LEASE = "parallel-job-limit#"
PARALLEL_LEASE_TTL_S = 15.0
PARALLEL_POLL_S = 0.2
PARALLEL_WAIT_S = 5.0  # a launch takes about a second; longer means a crashed holder: launch next round

# The pools in a start-failure incident, for this process: one alert per incident (`control.backoff`).
START_INCIDENTS = StartIncidents()
# The pools whose passes fail, for this process: one ERROR when an incident opens (`control.incidents`).
PASS_INCIDENTS = PassIncidents()
alerts = logging.getLogger("adoscale.alerts")


@dataclass(frozen=True, slots=True)
class PassLimits:
    """How long a pass may take, and how long its lease lasts: a little longer than the pass, so that a
    crashed pass blocks its pool for at most `lease_ttl_s`."""

    deadline_s: float = 20.0
    lease_ttl_s: float = 60.0

    def __post_init__(self) -> None:
        if self.lease_ttl_s <= self.deadline_s:
            raise ValueError("lease_ttl_s must be longer than deadline_s")


def call_budget(limits: PassLimits) -> CallBudget:
    """Every AWS call of a pass, retries included, ends within what the lease leaves after the pass's deadline:
    no action starts after the deadline (`control.act`), so a pass ends before its lease does, and a throttled
    RunTask (36-45 s with botocore's default retries) cannot carry a pass past it. With the 20 s pass and the
    60 s lease: 2 s to connect, 8 s to answer, 3 tries (about 33 s with the back-off between them)."""
    spare = limits.lease_ttl_s - limits.deadline_s
    read = max(1.0, min(8.0, spare / 4.5))
    return CallBudget(connect_s=min(2.0, read / 2), read_s=read, attempts=3)


def new_pass_id(prefix: str | None = None) -> str:
    """Unique per pass attempt: the lease owner and the root of the launch's idempotency token."""
    origin = prefix or f"{socket.gethostname()}:{os.getpid()}"
    return f"{origin}/{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True, slots=True)
class PoolReport:
    """The outcome of one pass over one pool, as `adoscale reconcile --json` prints it (`as_dict`).

    Built once from the pass's frozen results, which it also carries for consumers that want more than the
    counts (`observation`, `decision`, `act`; not serialised). `failure` is the exception that ended the pass
    early, if any (also one line in `errors`): the caller decides what it means (the Lambda raises it)."""

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
    launched_tasks: list[str] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Tasks failing to start (`control.backoff`): how many in a row, the newest reason, when one is tried again.
    start_failures: int = 0
    start_failure: str | None = None
    launch_retry_at: str | None = None
    unservable: int = 0  # queued jobs whose demands this pool's agents do not meet
    placeholder: str = ""  # what the pass did about the pool's placeholder (keep, create, replace, foreign)
    oldest_queued_s: float | None = None  # how long the oldest queued job this pool can run has waited
    launch_failures: int = 0  # tasks ECS refused to launch in this pass
    # Each job this pass saw assigned and each agent it saw online, for the first time (`adoscale.metrics`).
    job_waits: list[JobWait] = field(default_factory=list)
    agent_startups: list[AgentStartup] = field(default_factory=list)
    # (Further per-pool figures are added here and filled in `report_of`.)
    failure: BaseException | None = field(default=None, compare=False, repr=False)
    observation: Observation | None = field(default=None, compare=False, repr=False)
    decision: Decision | None = field(default=None, compare=False, repr=False)
    act: ActResult | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, object]:
        hidden = {"failure", "observation", "decision", "act"}
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name not in hidden}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


@dataclass(frozen=True, slots=True)
class PassReport:
    pools: list[PoolReport]

    @property
    def ok(self) -> bool:
        return not any(p.errors for p in self.pools)

    def as_dict(self) -> dict[str, object]:
        return {"pools": [p.as_dict() for p in self.pools]}


def report_of(
    pass_id: str,
    observation: Observation,
    decision: Decision,
    result: ActResult | None,
    *,
    failure_line: str = "",
    seen: FirstSeen | None = None,
) -> PoolReport:
    """The pool's report from the pass's frozen results; `result` None: a dry run (the plan's counts). `seen`:
    the jobs and agents counted for the first time (None: none, or not recorded, so not reported)."""
    snapshot, p, backoff = observation.snapshot, decision.plan, decision.backoff
    errors = [
        *([backoff.describe()] if backoff is not None else []),
        *(result.errors if result else ()),
        *([failure_line] if failure_line else []),
    ]
    return PoolReport(
        pool=observation.pool,
        pass_id=pass_id,
        queued=snapshot.queued,
        running=snapshot.running,
        idle=p.idle,
        busy=p.busy,
        starting=p.starting,
        warm=decision.warm.agents if decision.warm is not None else 0,
        launched=result.launched if result else p.launch_count,
        drained=result.drained if result else len(p.drain),
        stopped=result.stopped if result else len(p.stop),
        deleted=result.deleted if result else len(p.delete),
        launched_tasks=list(result.launched_tasks) if result else [],
        plan=describe(p),
        errors=errors,
        warnings=[
            *([observation.history_error] if observation.history_error else []),
            *p.warnings,
            *(result.warnings if result else ()),
        ],
        start_failures=backoff.failures if backoff is not None else 0,
        start_failure=backoff.reason if backoff is not None else None,
        launch_retry_at=backoff.retry_at.isoformat(timespec="seconds") if backoff is not None else None,
        unservable=observation.unservable,
        oldest_queued_s=(
            round(max(0.0, (snapshot.now - observation.oldest_queued_at).total_seconds()), 1)
            if observation.oldest_queued_at is not None
            else None
        ),
        launch_failures=sum(1 for e in result.errors if e.startswith(LAUNCH_ERROR)) if result else 0,
        job_waits=list(seen.job_waits) if seen else [],
        agent_startups=list(seen.agent_startups) if seen else [],
        failure=result.failure if result else None,
        observation=observation,
        decision=decision,
        act=result,
    )


def _failure_line(pool: str, exc: BaseException) -> str:
    # A WARNING each failed pass; the ERROR is the incident's, once (`Reconciler._note_incident`): a pool that
    # keeps failing is one ERROR, not four a minute.
    if isinstance(exc, AdoError | AwsUnavailableError):
        # An expected failure (a service down, slow or answering nonsense): one line, no traceback.
        log.warning("pool %s: pass failed: %s", pool, exc)
    else:
        log.warning("pool %s: pass failed", pool, exc_info=exc)
    return f"{type(exc).__name__}: {exc}"


class Reconciler:
    """Runs reconcile passes for the pools of one configuration, on the ports it is given (see
    `adoscale.bootstrap.build_controller`, the one place that wires them for a runtime)."""

    def __init__(
        self,
        config: Config,
        ado: AdoPort,
        compute: Compute | None,
        clock: Clock,
        *,
        lease: Lease | None = None,
        limits: PassLimits | None = None,
        decide: Decide = plan,
        policy: PolicyFor | None = None,
        monotonic: Monotonic = time.monotonic,
        pass_id_prefix: str | None = None,
        pool_ids: MutableMapping[str, int] | None = None,
        history: History | None = None,
        compute_for: ComputeFor | None = None,
        known_unservable: KnownUnservable | None = None,
        incidents: StartIncidents | None = None,
        pass_incidents: PassIncidents | None = None,
    ) -> None:
        self._config = config
        self._ado = ado
        if compute_for is None:
            if compute is None:
                raise ValueError("a controller needs compute (every pool) or compute_for (per pool)")
            compute_for = _everywhere(compute)
        self._compute_for: ComputeFor = compute_for
        self._clock = clock
        self._lease: Lease = lease or Unleased()
        self._limits = limits or PassLimits()
        # Both seams exist for the simulator, which compares other designs and time-varying policies.
        self._engine = decide
        self._policy: PolicyFor = policy or default_policy
        self._monotonic = monotonic
        self._pass_id_prefix = pass_id_prefix
        self._pool_ids = PoolIds(ado, pool_ids)
        self._history: History = history or MemoryHistory()
        self._unservable_seen = SeenJobs()
        # Process-wide by default, so that a warm Lambda container remembers across its invocations too.
        self._known_unservable = known_unservable if known_unservable is not None else KNOWN_UNSERVABLE
        self._incidents = incidents if incidents is not None else START_INCIDENTS
        self._pass_incidents = pass_incidents if pass_incidents is not None else PASS_INCIDENTS

    @property
    def config(self) -> Config:
        return self._config

    @property
    def limits(self) -> PassLimits:
        return self._limits

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
        pass_id: str | None = None,
        deadline_s: float | None = None,
    ) -> PoolReport:
        """One pass over one pool, under its lease. A failure is the report's `errors` and `failure`; an
        authentication failure is raised."""
        report = self._run_pool(pool, parallel=parallel, pass_id=pass_id, deadline_s=deadline_s)
        self._note_incident(report)
        return report

    def _run_pool(
        self, pool: PoolConfig, *, parallel: ParallelShare | None, pass_id: str | None, deadline_s: float | None
    ) -> PoolReport:
        pass_id = pass_id or new_pass_id(self._pass_id_prefix)
        seconds = self._seconds(deadline_s)
        done: list[PoolReport] = []  # the pass's report, once it ran

        def work() -> None:
            done.append(self._pass(pool, pass_id, seconds, parallel, act=True))

        # Acquire, pass and release as one guarded unit: `serve` interrupts a pass by raising from a signal
        # handler, possibly right after the lease was written, and the lease must be given back then too.
        try:
            held = while_held(self._lease, pool.name, pass_id, self._limits.lease_ttl_s, work)
        except AdoAuthError:
            raise
        except Exception as exc:
            # The lease table failed (throttled, unavailable, access denied): this pool's pass is skipped or
            # its lease left to expire; the other pools go on, and so does `serve`.
            what = "lease not given back (it expires by itself)" if done else "pass skipped"
            log.error("pool %s: lease table: %s: %s; %s", pool.name, type(exc).__name__, exc, what)  # noqa: TRY400 (expected: one line)
            base = done[0] if done else PoolReport(pool=pool.name, pass_id=pass_id)
            return _with_error(base, f"lease table: {type(exc).__name__}: {exc}; {what}", exc)
        if held is not None:
            log.info("%s: skipped: %s", pool.name, held.describe())
            return PoolReport(pool=pool.name, pass_id=pass_id, skipped=held.describe())
        return done[0]

    def hook_wanted(self, pool: PoolConfig) -> bool:
        """Whether a job-waiting hook for `pool` calls for a pass: a job is queued in the pool. Azure DevOps'
        job events name no pool, so every pool's subscription receives every job event (with 20 pools, one
        job is 20 deliveries); this one read of the pool's job requests keeps the others from reading the
        parallel-job limit, the agents and the lease. A failing read answers True: the pass reports it."""
        try:
            jobs = self._ado.list_job_requests(self._pool_ids(pool.name))
        except AdoAuthError:
            raise
        except AdoError as exc:
            log.info("%s: hook: the queue read failed (%s); running the pass", pool.name, exc)
            return True
        if any(job.state is JobState.QUEUED for job in jobs):
            return True
        log.info("%s: hook: no job queued in this pool; nothing to do", pool.name)
        return False

    def hook_pass(
        self, pool: PoolConfig, *, pass_id: str | None = None, deadline_s: float | None = None
    ) -> PoolReport | None:
        """The pass a job-waiting hook asks for (`hook_wanted` first; None when not): the parallel-job share,
        then the pool's pass."""
        if not self.hook_wanted(pool):
            return None
        share = self.parallel_share()
        return self.run_pool(pool, parallel=share, pass_id=pass_id, deadline_s=deadline_s)

    def preview(self, pool: PoolConfig, *, parallel: ParallelShare | None = None) -> PoolReport:
        """A dry run: observe and decide, report the plan, change nothing (no lease, no history saved)."""
        return self._pass(pool, new_pass_id(self._pass_id_prefix), self._limits.deadline_s, parallel, act=False)

    def _fence(self, pool: str, pass_id: str) -> Guard:
        """The check before each action: the lease is renewed, or this pass stops acting (another took the
        pool over after this one outlived its lease)."""

        def guard(what: str) -> None:
            if not self._lease.renew(pool, pass_id, self._limits.lease_ttl_s):
                raise LeaseLostError(f"lease lost before: {what} (another pass holds the pool)")

        return guard

    def _parallel_gate(
        self, pool: PoolConfig, pass_id: str, parallel: ParallelShare | None, observation: Observation, ends_at: float
    ) -> LaunchGate | None:
        """The organization's parallel-job share, applied in the same round when pools' passes run at once
        (the workflow's Map, hook passes): the launch happens inside a critical section, an org-wide lease in
        the lease table (`PARALLEL_LEASE`), where the share is counted again with the other pools' live tasks
        as ECS lists them now (tasks a concurrent pass has just launched included: they exist once RunTask has
        answered, before that pass leaves the section). None when there is nothing to share: no limit known,
        or one pool."""
        others = [p for p in self._config.pools if p.name != pool.name]
        if parallel is None or not others:
            return None

        @contextmanager
        def gate(wanted: int) -> Iterator[int]:
            key = PARALLEL_LEASE
            give_up = min(ends_at, self._monotonic() + PARALLEL_WAIT_S)
            while self._lease.acquire(key, pass_id, PARALLEL_LEASE_TTL_S) is not None:
                if self._monotonic() + PARALLEL_POLL_S >= give_up:
                    log.warning("%s: launch held back: the parallel-job share stayed taken by another pass", pool.name)
                    yield 0
                    return
                time.sleep(PARALLEL_POLL_S)  # another pass is launching: its tasks count against this one
            try:
                share = parallel
                for other in others:
                    try:
                        other_id = self._pool_ids(other.name)
                    except AdoAuthError:
                        raise
                    except AdoError as exc:  # another pool's fault (say, not in ADO) is that pool's to report
                        log.warning("%s: parallel share: pool %s left out: %s", pool.name, other.name, exc)
                        continue
                    live = sum(1 for t in self._compute_for(other).list_tasks(other.name) if t.last_status != "STOPPED")
                    share = share.after(other_id, live)
                yield max(0, min(wanted, share.capacity_for(observation.pool_id) - observation.live_tasks))
            finally:
                self._lease.release(key, pass_id)

        return gate

    def _seconds(self, deadline_s: float | None) -> float:
        return min(deadline_s, self._limits.deadline_s) if deadline_s is not None else self._limits.deadline_s

    def _pass(
        self, pool: PoolConfig, pass_id: str, seconds: float, parallel: ParallelShare | None, *, act: bool
    ) -> PoolReport:
        compute = self._compute_for(pool)
        # Every pool's record is read and kept: the warm pool's demand, and the marks of what the metrics
        # counted (a record that could not be saved is not counted from).
        history = _Saving(self._history)
        placeholder = ""
        try:
            with self._ado.bounded(seconds):
                ends_at = self._monotonic() + seconds

                def look() -> Observation:
                    return observe(
                        pool,
                        ado=self._ado,
                        compute=compute,
                        clock=self._clock,
                        pool_ids=self._pool_ids,
                        history=history,
                        parallel=parallel,
                        known=self._known_unservable,
                        organization=self._config.organization_url,
                    )

                observation = look()
                if act:
                    # Keep the pool open at zero, from the agents just read (no call in a steady pass); a
                    # placeholder registered just now is read again so that the plan sees it.
                    placeholder = self._placeholder(pool, observation)
                    if placeholder == PlaceholderAction.CREATE.value:
                        observation = look()
                self._log_unservable(pool, observation)
                decision = decide(pool, observation, policy=self._policy, engine=self._engine)
                seen, decision = _count_first_seen(pool, observation, decision)
                if observation.history_error:
                    log.warning("%s: %s", pool.name, observation.history_error)
                if decision.backoff is not None:
                    log.info("%s: %s", pool.name, decision.backoff.describe())
                if decision.warm is not None:
                    log.info("%s: warm pool %d (%s)", pool.name, decision.warm.agents, decision.warm.reason)
                for line in describe(decision.plan):
                    log.info("%s: %s%s", pool.name, "" if act else "(dry run) ", line)
                if not act:
                    return report_of(pass_id, observation, decision, None, seen=seen)
                self._alert_on_incident(pool.name, decision)
                if placeholder not in _WROTE and _changes_ado(decision.plan):
                    # The manage scope before anything is launched or changed (a registration this pass made
                    # has just proved it): `AdoScopeError` fails this pool's pass, never the controller.
                    name = pool.agent_name_prefix + pool.placeholder_name
                    confirm_manage(self._ado, observation.pool_id, name, observation.agents, pool=pool.name)
                actor = Actor(
                    pool.name,
                    observation.pool_id,
                    ado=self._ado,
                    compute=compute,
                    history=history,
                    token=launch_token(observation, decision.plan.launch_count),
                    ends_at=ends_at,
                    monotonic=self._monotonic,
                    guard=self._fence(pool.name, pass_id),
                    launch_gate=self._parallel_gate(pool, pass_id, parallel, observation, ends_at),
                )
                result = actor.act(decision)
        except AdoAuthError:
            raise
        except Exception as exc:  # one pool's failure must not stop the others
            return PoolReport(pool=pool.name, pass_id=pass_id, errors=[_failure_line(pool.name, exc)], failure=exc)
        counted = seen if history.saved else None
        if result.failure is not None:
            line = _failure_line(pool.name, result.failure)
            report = report_of(pass_id, observation, decision, result, failure_line=line, seen=counted)
        else:
            report = report_of(pass_id, observation, decision, result, seen=counted)
        if placeholder.startswith("error: "):
            errors = [*report.errors, f"placeholder: {placeholder.removeprefix('error: ')}"]
            return replace(report, errors=errors)
        return replace(report, placeholder=placeholder)

    def _placeholder(self, pool: PoolConfig, observation: Observation) -> str:
        """Create or re-register the pool's placeholder (adoscale.ado.placeholder); "error: ..." when that
        failed (reported, and the pass goes on)."""
        spec = PlaceholderSpec.for_pool(
            name=pool.agent_name_prefix + pool.placeholder_name, platform=pool.platform, capabilities=pool.capabilities
        )
        try:
            return ensure_placeholder(self._ado, observation.pool_id, spec, observation.agents, pool=pool.name).value
        except (AdoAuthError, AdoScopeError):
            raise  # the PAT refused (every pool), or it may not manage this pool (this pass fails)
        except AdoError as exc:
            log.error("pool %s: placeholder: %s", pool.name, exc)  # noqa: TRY400 (expected: one line)
            return f"error: {exc}"

    def _alert_on_incident(self, pool: str, decision: Decision) -> None:
        """One alert when the pool's tasks begin failing to start, one notice when a task starts again; not
        one a pass (`control.backoff`, "one alert per incident")."""
        change = self._incidents.update((self._config.organization_url, pool), decision.backoff)
        if change == "opened" and decision.backoff is not None:
            alerts.error(
                "ALERT pool %s: tasks fail to start: %s (the jobs stay queued; launches back off; one alert until "
                "a task starts)",
                pool,
                decision.backoff.reason,
            )
        elif change == "closed":
            alerts.warning("pool %s: tasks start again (the start-failure incident is over)", pool)

    def _note_incident(self, report: PoolReport) -> None:
        """One ERROR when the pool's passes begin failing (and a reminder a day while they go on), one WARNING
        when a pass succeeds again; not one a failed pass (`control.incidents`). A skipped pass (another holds
        the lease) says nothing either way."""
        if report.skipped:
            return
        key = (self._config.organization_url, report.pool)
        if report.failure is not None:
            reason = f"{type(report.failure).__name__}: {report.failure}"
            change = self._pass_incidents.failed(key, reason, self._clock())
        else:
            change = self._pass_incidents.succeeded(key, self._clock())
        if change.notice in ("opened", "reminder"):
            alerts.error("ALERT %s", change.message)
        elif change.notice == "closed":
            alerts.warning("%s (the failing-pass incident is over)", change.message)

    def _log_unservable(self, pool: PoolConfig, observation: Observation) -> None:
        for request_id, demand in observation.unservable_jobs:
            if self._unservable_seen.first_time(pool.name, request_id):
                log.warning(
                    "%s: job %d can never run here: no agent of this pool meets its demand %r",
                    pool.name,
                    request_id,
                    demand,
                )

    # -- every pool ----------------------------------------------------------------------------------

    def _pools(self, pool_names: Iterable[str] | None) -> list[PoolConfig]:
        wanted = set(pool_names) if pool_names is not None else None
        return [p for p in self._config.pools if wanted is None or p.name in wanted]

    def run(self, pool_names: Iterable[str] | None = None) -> PassReport:
        """One pass over the selected pools (all by default), sharing one read of the parallel limit: each
        pool's pass leaves the slots its tasks hold out of the next pool's share."""
        parallel = self.parallel_share()
        reports: list[PoolReport] = []
        for pool in self._pools(pool_names):
            report = self.run_pool(pool, parallel=parallel)
            parallel = held_after(parallel, report)
            reports.append(report)
        return PassReport(pools=reports)

    def preview_all(self, pool_names: Iterable[str] | None = None) -> PassReport:
        """A dry run over the selected pools: each pool's plan, nothing changed."""
        parallel = self.parallel_share()
        return PassReport(pools=[self.preview(pool, parallel=parallel) for pool in self._pools(pool_names)])


def launch_token(observation: Observation, count: int) -> str:
    """The launch's idempotency token (RunTask `clientToken`), from what the decision was made on: the pool,
    the jobs and tasks it saw, the count, and the hour. Two passes that saw the same thing make the same
    launch once: a pass that outlived its lease and the pass that took the pool over (neither saw the other's
    tasks) start one set of tasks, not two; so does the workflow's retry of a pass whose RunTask answer was
    lost. The hour keeps a state seen again much later (every task gone) from reusing an old token."""
    seen = observation.snapshot
    digest = hashlib.sha256()
    for part in (
        observation.pool,
        str(count),
        seen.now.astimezone(UTC).strftime("%Y%m%d%H"),
        ",".join(str(rid) for rid, _ in sorted(observation.arrivals)),
        ",".join(sorted(t.task_arn for t in observation.tasks)),
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    return f"launch/{digest.hexdigest()[:40]}"


def held_after(parallel: ParallelShare | None, report: PoolReport) -> ParallelShare | None:
    """The round's share once `report`'s pool holds its live tasks and those it launched (unchanged when the
    pass saw nothing)."""
    observation = report.observation
    if parallel is None or observation is None:
        return parallel
    return parallel.after(observation.pool_id, observation.live_tasks + report.launched)


# Placeholder actions that wrote a registration in this pass: the PAT's manage scope is proven.
_WROTE = frozenset({PlaceholderAction.CREATE.value, PlaceholderAction.REPLACE.value})


def _changes_ado(decision: Plan) -> bool:
    """The plan launches agents or changes registrations (what needs the manage scope, or strands agents
    without it); stopping tasks alone reads ADO only."""
    return decision.launch_count > 0 or bool(decision.enable or decision.drain or decision.delete)


def _count_first_seen(pool: PoolConfig, observation: Observation, decision: Decision) -> tuple[FirstSeen, Decision]:
    """The jobs and agents this pass counts for the first time, and the decision with the record to save
    carrying the pool's marks past them, the agents counted and the new agents' start-ups (the warm pool's
    record, saved by every pass; a pool without a warm pool's record as loaded, saved only when it counted a
    job or an agent, or once when its item was written before the agents' ids were kept: a steady pass writes
    nothing more, and the counted agents it would prune are agents gone).

    The start-ups are kept for every pool, so a warm pool turned on later starts from them. They serve the
    warm pool from the next pass on: this pass's target was decided before they were counted (the agents come
    online since the last pass, one pass late, among the twenty the median is taken over)."""
    record = decision.history if decision.history is not None else observation.history
    record = record if record is not None else HistoryRecord()
    seen = first_seen(
        observation.assigned_jobs,
        observation.agents,
        observation.tasks,
        agent_name_prefix=pool.agent_name_prefix,
        jobs=record.jobs_counted,
        started=record.agents_counted,
        started_agents=record.started_agents,
    )
    unchanged = not seen.agent_startups and seen.jobs == record.jobs_counted and record.started_agents is not None
    if decision.history is None and unchanged:
        # Nothing new (a new job always moves its mark; a new agent need not: it is counted by its id). An item
        # from before the agents' ids were kept is saved once with them, so an agent it counted that reconnects
        # later is not counted again.
        return seen, decision
    # A new record (sharing the arrivals, which nothing changes from here on): the observation stays as read.
    kept = record.with_startups(s["startup_s"] for s in seen.agent_startups)
    kept = replace(kept, jobs_counted=seen.jobs, agents_counted=seen.agents, started_agents=seen.started_agents)
    return seen, replace(decision, history=kept)


class _Saving:
    """The history port for one pass, noting whether the pass's record was saved."""

    def __init__(self, history: History) -> None:
        self._history = history
        self.saved = False

    def load(self, pool: str) -> HistoryRecord:
        return self._history.load(pool)

    def save(self, pool: str, record: HistoryRecord) -> None:
        self._history.save(pool, record)
        self.saved = True


def _everywhere(compute: Compute) -> ComputeFor:
    def compute_for(pool: PoolConfig) -> Compute:
        return compute

    return compute_for


def _with_error(report: PoolReport, line: str, exc: BaseException) -> PoolReport:
    return replace(report, errors=[*report.errors, line], failure=report.failure or exc)


__all__ = ["PassLimits", "PassReport", "PoolReport", "Reconciler", "held_after", "new_pass_id", "report_of"]
