"""The designs the simulator compares. Each is a cadence plus a decision; all act through the same
reconcile loop, so only the decision and the cadence differ."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from adoscale.compute.base import TaskInfo
from adoscale.config import PoolConfig
from adoscale.scaling import Launch, Plan, PoolPolicy, PoolSnapshot, classify, plan
from adoscale.workflow import PLAN_LATENCY_S, ROUND_LATENCY_S, SCHEDULE_INTERVAL_S, schedule_input, tick_input
from adoscale.workflow.backoff import IDLE_EVERY_MINUTES, activity, plan_execution

Decide = Callable[[PoolSnapshot, PoolPolicy], Plan]


def _launch_ignoring_starting(snapshot: PoolSnapshot, policy: PoolPolicy) -> Plan:
    """The seed's rule: launch queued minus idle agents. Tasks still starting are not counted, so every
    poll while Fargate boots launches again for the same jobs. Scale-in keeps the engine's safe rules."""
    decision = plan(snapshot, policy)
    c = classify(snapshot, policy)
    live = len(c.live_tasks)
    count = max(0, min(snapshot.queued - len(c.idle), policy.max_agents - live))
    return replace(decision, launch=Launch(count, "seed rule: queued - idle") if count else None)


def _one_per_queued_job(snapshot: PoolSnapshot, policy: PoolPolicy) -> Plan:
    """KEDA's ScaledJob with the accurate strategy: one agent per queued job, minus pending agents."""
    decision = plan(snapshot, policy)
    c = classify(snapshot, policy)
    live = len(c.live_tasks)
    count = max(0, min(snapshot.queued - len(c.starting) - len(c.idle), policy.max_agents - live))
    return replace(decision, launch=Launch(count, "one per queued job") if count else None)


def working_hours(now: datetime) -> bool:
    return 8 <= now.hour < 18


# A service hook's delivery time, ADO to the endpoint, including the HTTP API and the function's cold path: an
# assumption (Microsoft publishes no figure), uniform between 1 and 2 s.
HOOK_DELAY_S = (1.0, 2.0)

# `adoscale-predictive`'s pool configuration (docs/performance.md says why each value, and what the others
# measured): up to 30 warm agents (a burst in progress is served in proportion to its rate: the family's
# bursts reach 15 jobs a minute); issue 25's idle goal as the idle share (0.5: the quantile falls to what
# the jobs' lengths afford, none for jobs of 2 minutes or less), under a quantile of 0.9 where they afford
# it or are not known yet (jobs of 20 minutes and more); the trickle's rate over an hour, a week of days.
PREDICTIVE_WARM_POOL: Mapping[str, Any] = {
    "mode": "predictive",
    "max_agents": 30,
    "quantile": 0.9,
    "window_seconds": 3600,
    "seasonal_days": 7,
    "horizon_seconds": 90,
    "idle_share": 0.5,
}


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a policy observes the pool: a run starts every `interval_s` (from the first run), and observes
    `latency_s` after each of its `offsets` (seconds from the run's start)."""

    interval_s: float
    offsets: tuple[float, ...] = (0.0,)
    latency_s: float = 0.0
    # The workflow's back-off with hooks (`adoscale.workflow.backoff`): each run first asks the plan, which
    # reads the pool's tasks; None: every offset of every run.
    idle_every_minutes: int | None = None

    @property
    def observations_per_run(self) -> int:
        return len(self.offsets)

    def offsets_now(self, now: datetime, pool: PoolConfig, tasks: Callable[[], list[TaskInfo]]) -> tuple[float, ...]:
        """The offsets of the run starting at `now`: the deployed plan's decision (`plan_execution`) with the
        back-off, else all of them. `tasks` reads the pool's tasks (an AWS call, as the deployed plan makes)."""
        if self.idle_every_minutes is None:
            return self.offsets
        whole = [int(o) for o in self.offsets]
        plan = plan_execution(whole, now, [activity(pool, tasks())], self.idle_every_minutes)
        return tuple(float(o) for o in plan.offsets)


def polled(interval_s: float) -> Schedule:
    """A poller that observes once every `interval_s` (the seed, KEDA): one observation a run."""
    return Schedule(interval_s)


def hooks_workflow(idle_every_minutes: int = IDLE_EVERY_MINUTES) -> Schedule:
    """The schedule as Terraform deploys it with `enable_hooks` (`adoscale.workflow.tick_input`): a tick a
    minute that starts an execution of one round while the pool has work, and for an idle pool every
    `idle_every_minutes`; the tick's own latency comes before the round's."""
    body = tick_input("arn:aws:states:us-east-1:123456789012:stateMachine:sim", idle_every_minutes)
    return Schedule(
        float(SCHEDULE_INTERVAL_S),
        tuple(float(o) for o in body["offsets"]),
        ROUND_LATENCY_S + PLAN_LATENCY_S,
        idle_every_minutes=body["idle_every_minutes"],
    )


def deployed_workflow() -> Schedule:
    """The deployed workflow's cadence: one Express execution per schedule tick (Terraform's default
    `rate(1 minute)`), observing at each offset of the schedule's input, from the same function that the
    Terraform input is tested against, plus the modelled round latency (`adoscale.workflow`)."""
    offsets = schedule_input()["offsets"]
    return Schedule(float(SCHEDULE_INTERVAL_S), tuple(float(o) for o in offsets), ROUND_LATENCY_S)


@dataclass(frozen=True, slots=True)
class SimPolicy:
    name: str
    schedule: Schedule
    decide: Decide
    standby_in_hours: int = 0
    description: str = ""
    # A pass is also started when the model reports a job queued, this long after (a service hook's
    # delivery, ADO to the endpoint); None: the schedule alone.
    hook_delay_s: tuple[float, float] | None = None
    # The pool's `warm_pool:` configuration, parsed by the real config code: the production forecast runs.
    warm_pool: Mapping[str, Any] = field(default_factory=dict)

    def policy_at(self, base: PoolPolicy, now: datetime) -> PoolPolicy:
        if self.standby_in_hours and working_hours(now):
            return replace(base, standby_agents=self.standby_in_hours)
        return base


POLICIES: dict[str, SimPolicy] = {
    p.name: p
    for p in (
        SimPolicy("seed", polled(120), _launch_ignoring_starting, description="poll every 2 min, launch queued - idle"),
        SimPolicy("naive-fast", polled(30), _launch_ignoring_starting, description="the seed's rule every 30 s"),
        SimPolicy(
            "keda-scaledjob", polled(30), _one_per_queued_job, description="every 30 s, one agent per queued job"
        ),
        SimPolicy(
            "adoscale",
            deployed_workflow(),
            plan,
            description="the engine, observed as the deployed workflow does (each minute at +0, 15, 30, 45 s)",
        ),
        SimPolicy(
            "adoscale-standby",
            deployed_workflow(),
            plan,
            standby_in_hours=2,
            description="adoscale + 2 standby agents 08-18h",
        ),
        SimPolicy(
            "adoscale-hooks",
            deployed_workflow(),
            plan,
            hook_delay_s=HOOK_DELAY_S,
            description="adoscale + a pass on each job-queued hook (1-2 s after the job is queued)",
        ),
        SimPolicy(
            "adoscale-backoff",
            hooks_workflow(),
            plan,
            hook_delay_s=HOOK_DELAY_S,
            description="adoscale-hooks as deployed with enable_hooks: a round a minute while the pool has a task, "
            "other pools every 10 minutes",
        ),
        SimPolicy(
            "adoscale-predictive",
            deployed_workflow(),
            plan,
            hook_delay_s=HOOK_DELAY_S,
            warm_pool=PREDICTIVE_WARM_POOL,
            description="adoscale-hooks + the predictive warm pool",
        ),
    )
}
