"""The simulator's main loop: the real reconcile code against the ADO model and a simulated Fargate, in
virtual time. Nothing here decides anything: the policies do, through `Reconciler`."""

from __future__ import annotations

import json
import random
import statistics
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import TypeVar

import httpx

from adoscale.ado import AdoClient, Demand, RetryPolicy
from adoscale.ado.models import Agent, JobRequest
from adoscale.bootstrap import build_controller
from adoscale.config import parse_config
from adoscale.control import Reconciler, policy_for, warm_policy_for
from adoscale.history import HistoryRecord, MemoryHistory
from adoscale.history.base import DURATIONS_KEPT
from adoscale.hooks import HookRejected, HookValidator
from adoscale.hooks.validate import POOL_PARAMETER, SECRET_HEADER
from adoscale.lease import MemoryLease
from adoscale.scaling.warm import WarmMode, local_day, warm_target
from adoscale_lab.emulator import AdoModel, FaultRule, Faults, make_app
from adoscale_lab.emulator.entities import Agent as ModelAgent
from adoscale_lab.emulator.entities import Job as ModelJob
from adoscale_lab.sim.fargate import EventQueue, FargateProfile, SimFargate
from adoscale_lab.sim.policies import SimPolicy
from adoscale_lab.sim.workloads import JobSpec

START = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday, midnight
POOL = "sim"
PLACEHOLDER = "adoscale-placeholder"
TASK_VCPU = 0.25
TASK_GB = 0.5


@dataclass
class PolicyResult:
    policy: str
    jobs: int
    waits_s: list[float]
    stranded: int
    launched: int
    overlaunched: int
    agent_minutes: float
    busy_minutes: float
    idle_agent_minutes: float
    busy_killed: int
    leaked_tasks: int
    leaked_registrations: int
    max_live_tasks: int
    ado_calls: int
    aws_calls: int
    spot_interrupted: int
    capacity_errors: int
    sim_seconds: float
    ticks: int
    timeline: list[tuple[float, int, int, int]] = field(default_factory=list)  # hours, queued, live, busy
    hourly_waits: list[tuple[float, float]] = field(default_factory=list)  # queued at (hours), wait
    hook_passes: int = 0  # passes started by a job-queued hook
    hooks_lost: int = 0
    measured_from_h: float = 0.0
    # Of the idle minutes, the tasks' start-up (launch to the agent online) for the tasks that took a job: idle
    # time that no policy avoids, one start-up per job, but by serving a job from a warm agent's start-up.
    startup_minutes: float = 0.0
    quiet_passes_skipped: int = 0  # passes the event-driven loop did not run through HTTP (`_QuietPasses`)
    executions: int = 0  # runs of the schedule (adoscale: workflow executions)
    observing_executions: int = 0  # of which ran at least one round (the back-off's plan may run none)
    reads_reused: int = 0  # job and agent reads answered from the last identical answer (`_UnchangedReads`)

    def percentile(self, q: float) -> float:
        return self.pooled_percentile(self.waits_s, q)

    @staticmethod
    def pooled_percentile(waits: list[float], q: float) -> float:
        """The nearest-rank percentile of `waits` (one run's, or several runs' pooled)."""
        if not waits:
            return 0.0
        ordered = sorted(waits)
        index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
        return ordered[index]

    @property
    def leaked(self) -> int:
        return self.leaked_tasks + self.leaked_registrations

    def summary(self) -> dict[str, float | int | str]:
        return {
            "policy": self.policy,
            "jobs": self.jobs,
            "wait_p50_s": round(self.percentile(0.5), 1),
            "wait_p95_s": round(self.percentile(0.95), 1),
            "wait_max_s": round(max(self.waits_s, default=0.0), 1),
            "wait_mean_s": round(statistics.fmean(self.waits_s), 1) if self.waits_s else 0.0,
            "stranded": self.stranded,
            "launched": self.launched,
            "overlaunched": self.overlaunched,
            "agent_minutes": round(self.agent_minutes, 1),
            "busy_minutes": round(self.busy_minutes, 1),
            "idle_agent_minutes": round(self.idle_agent_minutes, 1),
            "busy_killed": self.busy_killed,
            "leaked": self.leaked,
            "max_live_tasks": self.max_live_tasks,
            "ado_calls": self.ado_calls,
            "aws_calls": self.aws_calls,
            "hook_passes": self.hook_passes,
            "measured_from_h": self.measured_from_h,
        }


HOOK_SECRET = "sim-hook-secret"  # noqa: S105 - the simulator's own, checked by the real validator


class _HookDelivery:
    """ADO's service hooks in virtual time: each job event the model emits reaches the production
    validator `delay_s` later (uniform), as the HTTP endpoint would receive it; a delivery it accepts
    (a job waiting) starts that pool's hook pass (`Reconciler.hook_pass`: its queue read, then the same
    `Reconciler.run_pool` and lease as the schedule). `loss` of them never arrive.

    The emulator also reports a job's assignment to an agent as a "waiting" event; the service's own
    states are waiting, inProgress and completed, so that one is not delivered here, lest the simulator
    credit hooks with a pass that the real service would not trigger."""

    def __init__(
        self,
        events: EventQueue,
        reconciler: Reconciler,
        delay_s: tuple[float, float],
        rng: random.Random,
        loss: float,
    ) -> None:
        self._events = events
        self._reconciler = reconciler
        self._delay_s = delay_s
        self._rng = rng
        self._loss = loss
        self._validator = HookValidator(HOOK_SECRET, [p.name for p in reconciler.config.pools], clock=events.clock)
        self.passes = 0
        self.lost = 0
        self.rejected: list[str] = []

    def on_event(self, event: dict[str, object]) -> None:
        # Called under the model's lock: only schedule the delivery here, never run a pass.
        extra = event.get("x-emulator")
        if isinstance(extra, dict) and extra.get("transition") == "assigned":
            return
        if self._loss and self._rng.random() < self._loss:
            self.lost += 1
            return
        body = json.dumps(event).encode()
        self._events.after(self._rng.uniform(*self._delay_s), lambda: self._deliver(body))

    def _deliver(self, body: bytes) -> None:
        try:
            decision = self._validator.check(
                headers={SECRET_HEADER: HOOK_SECRET}, query={POOL_PARAMETER: POOL}, body=body
            )
        except HookRejected as exc:
            self.rejected.append(exc.reason)
            return
        if decision.action != "run":
            return
        self.passes += 1
        self._reconciler.hook_pass(self._reconciler.pool(decision.pool))


class _SimHistory(MemoryHistory):
    """`MemoryHistory` (a pass gets its own cheap copy of the record, `HistoryRecord.copy`), and a look at the
    stored record without a copy for the simulator's own questions between passes."""

    def peek(self, pool: str) -> HistoryRecord:
        """The stored record itself, to read without a copy."""
        return self._records.get(pool) or HistoryRecord()


class _ClientTime:
    """The ADO client's monotonic clock and sleep in virtual time: retries wait without real waiting."""

    def __init__(self, events: EventQueue) -> None:
        self._events = events
        self._slept = 0.0

    def clock(self) -> float:
        return (self._events.now - START).total_seconds() + self._slept

    def sleep(self, seconds: float) -> None:
        self._slept += seconds


class _QuietPasses:
    """Passes in virtual time that skip the ones known to change nothing: the event-driven simulator.

    A pass over a quiet pool (no job queued or running, no live task, no registration but the
    placeholder, no standby or warm agent wanted, no job the history last saw running: the pass after a
    job's end records how long it ran) observes an empty pool and decides nothing, and what
    it costs is a fixed number of calls. Such a pass is not run through HTTP: its calls are counted as
    the last quiet pass that did run made them (`quiet_calls`), and time goes on to the next event. The
    warm pool's forecast is asked at each skipped pass (a pure function: microseconds), so a pass that
    would warm agents before a recurring burst still runs. Nothing of the results changes (the
    before/after table in docs/performance.md); with ADO faults every pass runs, since a fault's draw
    depends on the calls made before it."""

    def __init__(
        self,
        model: AdoModel,
        pool_id: int,
        fargate: SimFargate,
        reconciler: Reconciler,
        policy: SimPolicy,
        history: _SimHistory,
        clock: Callable[[], datetime],
    ) -> None:
        self._model = model
        self._pool_id = pool_id
        self._fargate = fargate
        self._reconciler = reconciler
        self._policy = policy
        self._clock = clock
        self._pool = reconciler.pool(POOL)
        self._warm = warm_policy_for(self._pool)
        self._history = history
        # What one quiet pass calls of ADO, learnt from the last one that ran, by route. (Its AWS call, the
        # task list, is made: what it costs depends on the tasks stopped within the hour.)
        self.quiet_calls: Counter[tuple[str, str]] | None = None
        self._last_quiet: Counter[tuple[str, str]] | None = None
        self.skipped = 0

    def quiet(self) -> bool:
        if self._model.unfinished_jobs(self._pool_id) or self._fargate.live_tasks():
            return False
        if any(agent.name != PLACEHOLDER for agent in self._model.agents(self._pool_id)):
            return False
        now = self._clock()
        if self._policy.policy_at(policy_for(self._pool), now).standby_agents > 0:
            return False
        if self._warm.mode is WarmMode.OFF:
            return True
        record = self._history.peek(POOL)
        if record.running:
            # A job the history last saw running has finished since (nothing is unfinished): the pass that
            # follows records how long it ran, from the time between it and the last pass, as a deployed
            # pass would. Skipped, the next pass to run (maybe the next morning's) would take the night for it.
            return False
        # The idle counted on the pool's own day, as `decide` reads it.
        return warm_target(self._warm, record.demand(now, local_day(now, self._warm.timezone)), now).agents == 0

    def run(self) -> None:
        """What `Reconciler.run` does for the one pool: the parallel-job limit (read for real: the client
        caches a failure for a time), then the pool's pass, or its quiet calls."""
        quiet = self.quiet()
        parallel = self._reconciler.parallel_share()
        if quiet and self.quiet_calls is not None:
            self._model.stats.total += self.quiet_calls.total()
            self._model.stats.by_route.update(self.quiet_calls)
            self._fargate.list_tasks(POOL)
            self.skipped += 1
            return
        routes = Counter(self._model.stats.by_route)
        self._reconciler.run_pool(self._pool, parallel=parallel)
        if quiet and self.quiet():  # quiet before and after: a pass that changed nothing
            calls = self._model.stats.by_route - routes
            # Two quiet passes alike: the first pass of all also looks the pool up, once.
            if calls == self._last_quiet:
                self.quiet_calls = calls
            self._last_quiet = calls


_T = TypeVar("_T")


_Values = Callable[[object], tuple[object, ...]]


def _fields_of(kind: type[ModelAgent] | type[ModelJob]) -> _Values:
    """Every field of an emulator record as one tuple: the immutable ones read at once (in C), the ones the
    model may change in place (dicts and lists) copied."""
    names = [f.name for f in fields(kind)]
    mutable = [f.name for f in fields(kind) if str(f.type).startswith(("dict", "list"))]
    plain = attrgetter(*(n for n in names if n not in mutable))
    changing = attrgetter(*mutable, *mutable)  # (named twice: a single name would give a value, not a tuple)
    count = len(mutable)

    def values(record: object) -> tuple[object, ...]:
        return plain(record), *[None if v is None else v.copy() for v in changing(record)[:count]]

    return values


_AGENT_VALUES = _fields_of(ModelAgent)
_JOB_VALUES = _fields_of(ModelJob)


class _UnchangedReads(AdoClient):
    """The ADO client, with a pass's two reads of the pool (its job requests, its agents) answered from the
    last answer while nothing they show has changed in the model: the event-driven simulator's second half.

    A day of 30-minute jobs keeps the pool busy for ten hours, so `_QuietPasses` skips none of its 2,400
    passes, and most of them read the same jobs and agents as the pass before (a job starts or ends every
    few minutes, a pass runs every 15 s). Such a read's answer is a function of the pool's records alone
    (the jobs, the agents, the jobs the agents name; the emulator's wire format adds constants), so when
    every field of those records equals what it was at the last read with the same arguments, the answer
    is the last one (the client's models are frozen, so sharing them is safe). The read is counted as the
    real one was, in the emulator's and the client's statistics, and the model's clock tick that every
    request makes still happens; the pass decides and acts on it for real. Nothing of the results changes
    (`tests/sim/test_event_driven.py`, against `simulate(..., event_driven=False)`). With ADO faults every
    read goes through HTTP (a fault's draw depends on the calls before it)."""

    def __init__(self, *args: object, model: AdoModel, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._model = model
        self._last: dict[Hashable, tuple[object, object, Counter[tuple[str, str]], Counter[str], int]] = {}
        self.reused = 0

    def _state(self, pool_id: int, *, jobs: bool) -> object:
        """What a read's answer is a function of: the pool's agents and the jobs they name, and for the job
        requests (`jobs`) the pool's unfinished jobs too. (An agent list shows each agent's assigned and last
        completed job and, in those, their reserved agent: an agent of the pool. It shows no other job, so a
        job queued does not change it.)"""
        model = self._model
        with model.lock:
            pool = model.pool(pool_id)
            agents = list(pool.agents.values())
            named = [r for a in agents for r in (a.assigned_request, a.last_completed_request) if r is not None]
            seen = ([_AGENT_VALUES(a) for a in agents], [_JOB_VALUES(model.job(r)) for r in named])
            if not jobs:
                return seen
            return pool.finished_count, [_JOB_VALUES(j) for j in pool.unfinished.values()], seen

    def _read(self, key: tuple[Hashable, ...], pool_id: int, read: Callable[[], _T]) -> _T:
        self._model.tick()  # what the request would do first: finish the jobs due by now
        state = self._state(pool_id, jobs=key[0] == "jobrequests")
        last = self._last.get(key)
        if last is not None and last[0] == state:
            _, answer, routes, client_routes, requests = last
            self._model.stats.total += routes.total()
            self._model.stats.by_route.update(routes)
            self.stats.calls += client_routes.total()
            self.stats.by_route.update(client_routes)
            self.stats.requests += requests
            self.reused += 1
            return answer  # type: ignore[return-value]
        routes_before, client_before = Counter(self._model.stats.by_route), Counter(self.stats.by_route)
        requests_before = self.stats.requests
        answer = read()
        routes = self._model.stats.by_route - routes_before
        client_routes = self.stats.by_route - client_before
        self._last[key] = (state, answer, routes, client_routes, self.stats.requests - requests_before)
        return answer

    def list_job_requests(self, pool_id: int) -> list[JobRequest]:
        return list(self._read(("jobrequests", pool_id), pool_id, lambda: AdoClient.list_job_requests(self, pool_id)))

    def list_agents(
        self,
        pool_id: int,
        *,
        capabilities: bool = True,
        assigned_request: bool = True,
        last_completed: bool = False,
        name: str | None = None,
    ) -> list[Agent]:
        flags = {
            "capabilities": capabilities,
            "assigned_request": assigned_request,
            "last_completed": last_completed,
            "name": name,
        }
        key = ("agents", pool_id, capabilities, assigned_request, last_completed, name)
        return list(self._read(key, pool_id, lambda: AdoClient.list_agents(self, pool_id, **flags)))  # type: ignore[arg-type]


def _capabilities_for(jobs: list[JobSpec]) -> dict[str, str]:
    caps: dict[str, str] = {}
    for job in jobs:
        for text in job.demands:
            demand = Demand.parse(text)
            caps[demand.name] = demand.value if demand.operator == "equals" and demand.value else "999"
    return caps


def _earlier_days(history_s: Sequence[float], history_job_s: Sequence[float]) -> HistoryRecord:
    """The history record the earlier days' passes would have left: every arrival, and the durations of the
    last DURATIONS_KEPT jobs to finish (each finishing its duration after it was queued: the earlier days'
    waits are not simulated), oldest first."""
    if history_job_s and len(history_job_s) != len(history_s):
        raise ValueError(f"{len(history_job_s)} durations for {len(history_s)} earlier arrivals")
    finished = sorted(zip(history_s, history_job_s, strict=False), key=lambda job: job[0] + job[1])
    return HistoryRecord(
        arrivals=[START + timedelta(seconds=t) for t in sorted(history_s)],
        durations=[seconds for _, seconds in finished][-DURATIONS_KEPT:],
    )


def simulate(
    jobs: list[JobSpec],
    policy: SimPolicy,
    *,
    seed: int = 1,
    fault_rate: float = 0.0,
    max_agents: int = 50,
    profile: FargateProfile | None = None,
    on_progress: Callable[[float], None] | None = None,
    measure_from_s: float = 0.0,
    hook_loss: float = 0.0,
    event_driven: bool = True,
    history_s: Sequence[float] = (),
    observe_s: tuple[float, float] | None = None,
    history_job_s: Sequence[float] = (),
    on_history: Callable[[HistoryRecord], None] | None = None,
) -> PolicyResult:
    """Run `jobs` under `policy`. Only the jobs queued, and the tasks launched, from `measure_from_s` on
    are measured: the days before it are there for the warm pool's history to learn from. With
    `hook_loss`, that share of job-queued hooks never arrives (the schedule is the backstop).

    `history_s`: arrival times (seconds from the start) of earlier days that are not simulated but given to
    the warm pool's history as the pool's passes would have recorded them, so a trace with two weeks of
    history costs one simulated day. `history_job_s`: how long each of those jobs ran (in the order of
    `history_s`; empty: not known), the last DURATIONS_KEPT of them (by when they finished) given to the
    history's durations as the passes would have recorded them.

    `on_history`: called at the end with the pool's history record as the last pass saved it.

    `observe_s` (from, until): the schedule runs over all of it, even with no job in it (what a warm pool
    spends on a day with no work counts too); by default from ten minutes before the first job.

    `event_driven` (the default) skips the passes that would observe a quiet pool and change nothing
    (`_QuietPasses`), with the same results; False runs every pass through HTTP, to check that."""
    rng = random.Random(seed)
    events = EventQueue(START)
    pat = f"sim-pat-{seed:08d}"
    model = AdoModel(org="sim", pat=pat, clock=events.clock)
    pool_id = model.create_pool(POOL)
    caps = _capabilities_for(jobs)
    model.register_agent(pool_id, PLACEHOLDER, dict(caps), online=False)
    # --faults RATE: two thirds 5xx, one third 429 (the soak's 2 % and 1 %).
    faults = Faults(
        seed=seed,
        rules=[FaultRule(route="/_apis/", error_5xx=fault_rate * 2 / 3, throttle_429=fault_rate / 3, retry_after_s=1)]
        if fault_rate > 0
        else [],
    )
    app = make_app(model, faults)
    durations: dict[int, float] = {}
    fargate = SimFargate(
        events,
        model,
        {POOL: pool_id},
        job_seconds=lambda request_id: durations.get(request_id, 300.0),
        rng=rng,
        profile=profile,
        capabilities={POOL: caps},
    )
    fargate_requeue = fargate.requeued
    pool_config: dict[str, object] = {
        "name": POOL,
        "max_agents": max_agents,
        "ecs": {"cluster": "sim", "task_definition": "agent", "subnets": ["subnet-sim"]},
    }
    if policy.warm_pool:
        pool_config["warm_pool"] = dict(policy.warm_pool)
    config = parse_config(
        json.dumps({"organization_url": "http://ado.sim/sim", "pools": [pool_config]}),
        "<simulation>",
    )
    client_time = _ClientTime(events)
    history = _SimHistory()
    if history_s:
        history.save(POOL, _earlier_days(history_s, history_job_s))
    http = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://ado.sim")
    client_args: dict[str, object] = {
        "http": http,
        "retry": RetryPolicy(deadline_s=30.0),
        "sleep": client_time.sleep,
        "clock": client_time.clock,
        "rng": random.Random(seed + 1),
    }
    skipping = event_driven and not fault_rate
    ado = (
        _UnchangedReads(config.organization_url, pat, model=model, **client_args)
        if skipping
        else AdoClient(config.organization_url, pat, **client_args)  # type: ignore[arg-type]
    )
    reconciler = build_controller(
        config,
        ado,
        fargate,
        clock=events.clock,
        lease=MemoryLease(events.clock),
        monotonic=client_time.clock,
        decide=policy.decide,
        policy=lambda pool, now: policy.policy_at(policy_for(pool), now),
        history=history,
    )

    hooks: _HookDelivery | None = None
    if policy.hook_delay_s is not None:
        hooks = _HookDelivery(events, reconciler, policy.hook_delay_s, random.Random(seed + 2), hook_loss)
        model.subscribe(hooks.on_event)
    originals: dict[int, float] = {}  # request id -> queued at (hours), for the original arrivals
    for spec in jobs:

        def arrive(spec: JobSpec = spec) -> None:
            request_id = model.queue_job(pool_id, list(spec.demands))
            durations[request_id] = spec.duration_s
            originals[request_id] = spec.queued_at_s / 3600
            fargate.collect_assignments()

        events.at(START + timedelta(seconds=spec.queued_at_s), arrive)

    last_arrival = max((j.queued_at_s for j in jobs), default=0.0)
    if observe_s is not None:
        last_arrival = max(last_arrival, observe_s[1])
    horizon = START + timedelta(seconds=last_arrival + 86400)
    timeline: list[tuple[float, int, int, int]] = []
    state = {"ticks": 0, "max_live": 0, "done": False}

    def all_done() -> bool:
        finished = model.finished_count(pool_id)
        return finished >= len(jobs) + len(fargate_requeue) and not fargate.live_tasks()

    skipper = _QuietPasses(model, pool_id, fargate, reconciler, policy, history, events.clock) if skipping else None

    def tick() -> None:
        state["ticks"] += 1
        if skipper is None:
            reconciler.run()
        else:
            skipper.run()
        fargate.collect_assignments()
        live = len(fargate.live_tasks())
        state["max_live"] = max(state["max_live"], live)
        unfinished = model.unfinished_jobs(pool_id)
        queued = sum(1 for j in unfinished if j.reserved_agent is None)
        hours = (events.now - START).total_seconds() / 3600
        timeline.append((hours, queued, live, len(unfinished) - queued))
        if on_progress is not None:
            on_progress(hours)
        past_last = events.now >= START + timedelta(seconds=last_arrival)
        if (past_last and all_done()) or events.now >= horizon:
            state["done"] = True

    schedule = policy.schedule
    executions = {"all": 0, "observing": 0}

    def run() -> None:
        """One run of the schedule (for adoscale, one workflow execution): an observation at each offset (with
        the back-off, at the offsets its plan picks: `Schedule.offsets_now`)."""
        if state["done"]:
            return
        offsets = schedule.offsets_now(events.now, reconciler.pool(POOL), lambda: fargate.list_tasks(POOL))
        executions["all"] += 1
        executions["observing"] += bool(offsets)
        for offset in offsets:
            events.after(offset + schedule.latency_s, tick)
        events.after(schedule.interval_s, run)

    first_arrival = min((j.queued_at_s for j in jobs), default=0.0)
    # Start observing ten minutes before the first job: the empty night before it changes nothing. (The
    # schedule's phase against the arrivals is arbitrary, as a deployed schedule's is: it counts from the
    # schedule's creation.)
    if observe_s is None:
        observe_from = max(0.0, first_arrival - 600)
    else:
        observe_from = min([observe_s[0], *(j.queued_at_s for j in jobs)])
    events.at(START + timedelta(seconds=observe_from), run)
    while not state["done"] and events.next_time() is not None:
        events.run_next()
    ado.close()

    if on_history is not None:
        on_history(history.peek(POOL))
    measure_from = START + timedelta(seconds=measure_from_s)
    tasks = [t for t in fargate.tasks.values() if t.launched_at >= measure_from]
    end = events.now
    agent_minutes = 0.0
    busy_minutes = 0.0
    startup_minutes = 0.0
    for task in tasks:
        stopped = task.stopped_at or end
        agent_minutes += max(60.0, (stopped - task.launched_at).total_seconds()) / 60
        if task.took_job:
            busy_minutes += task.job_seconds / 60
            if task.agent is not None:
                startup_minutes += (task.agent.online_at - task.launched_at).total_seconds() / 60
    waits: list[float] = []
    hourly: list[tuple[float, float]] = []
    stranded = 0
    measured = 0
    for request_id, queued_h in originals.items():
        if queued_h * 3600 < measure_from_s:
            continue
        measured += 1
        job = model.job(request_id)
        if job.assign_time is None:
            stranded += 1
            continue
        wait = (job.assign_time - job.queue_time).total_seconds()
        waits.append(wait)
        hourly.append((queued_h, wait))
    registrations = sum(1 for a in model.agents(pool_id) if a.name != PLACEHOLDER)
    return PolicyResult(
        policy=policy.name,
        jobs=measured,
        waits_s=waits,
        stranded=stranded,
        launched=len(tasks),
        overlaunched=sum(1 for t in tasks if not t.took_job),
        agent_minutes=agent_minutes,
        busy_minutes=busy_minutes,
        idle_agent_minutes=max(0.0, agent_minutes - busy_minutes),
        busy_killed=fargate.stats.busy_killed,
        leaked_tasks=len(fargate.live_tasks()),
        leaked_registrations=registrations,
        max_live_tasks=state["max_live"],
        ado_calls=model.stats.total,
        aws_calls=fargate.stats.calls,
        spot_interrupted=fargate.stats.spot_interrupted,
        capacity_errors=fargate.stats.capacity_errors,
        sim_seconds=(end - START).total_seconds(),
        ticks=state["ticks"],
        timeline=timeline,
        hourly_waits=hourly,
        hook_passes=hooks.passes if hooks is not None else 0,
        hooks_lost=hooks.lost if hooks is not None else 0,
        measured_from_h=measure_from_s / 3600,
        startup_minutes=startup_minutes,
        quiet_passes_skipped=skipper.skipped if skipper is not None else 0,
        executions=executions["all"],
        observing_executions=executions["observing"],
        reads_reused=ado.reused if isinstance(ado, _UnchangedReads) else 0,
    )
