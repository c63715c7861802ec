"""The designs the simulator compares. Each is a cadence plus a decision; all act through the same
reconcile loop, so only the decision and the cadence differ."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from adoscale.scaling import Launch, Plan, PoolPolicy, PoolSnapshot, classify, plan

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


@dataclass(frozen=True, slots=True)
class SimPolicy:
    name: str
    interval_s: float
    decide: Decide
    standby_in_hours: int = 0
    description: str = ""

    def policy_at(self, base: PoolPolicy, now: datetime) -> PoolPolicy:
        if self.standby_in_hours and working_hours(now):
            return replace(base, standby_agents=self.standby_in_hours)
        return base


POLICIES: dict[str, SimPolicy] = {
    p.name: p
    for p in (
        SimPolicy("seed", 120, _launch_ignoring_starting, description="poll every 2 min, launch queued - idle"),
        SimPolicy("naive-fast", 30, _launch_ignoring_starting, description="the seed's rule every 30 s"),
        SimPolicy("keda-scaledjob", 30, _one_per_queued_job, description="every 30 s, one agent per queued job"),
        SimPolicy("adoscale", 15, plan, description="the engine, observed every 15 s (4 per 1-min execution)"),
        SimPolicy("adoscale-standby", 15, plan, standby_in_hours=2, description="adoscale + 2 standby agents 08-18h"),
    )
}
