"""Decide: from a frozen `Observation`, the pass's `Decision`. Pure: no I/O, the clock is the snapshot's.

The engine (`adoscale.scaling.plan`) makes the plan; around it, only the translations a pass needs: the
pool's configuration as the engine's policy, and the warm pool's size from the demand history (the history
record as updated by this observation is part of the decision: act saves it, a dry run does not).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from adoscale.config import PoolConfig
from adoscale.control.observe import Observation
from adoscale.history.base import HistoryRecord, trim
from adoscale.history.base import observe as observe_demand
from adoscale.scaling import Plan, PoolPolicy, PoolSnapshot, plan
from adoscale.scaling.warm import WarmMode, WarmPolicy, WarmSchedule, WarmTarget, warm_target, with_warm_pool

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


def default_policy(pool: PoolConfig, _now: datetime) -> PoolPolicy:
    return policy_for(pool)


@dataclass(frozen=True, slots=True)
class Decision:
    """What the pass will do: the plan, the policy it was made under, the warm pool's target (None without
    a warm pool) and the demand history to keep (None: nothing to save)."""

    plan: Plan
    policy: PoolPolicy
    warm: WarmTarget | None
    history: HistoryRecord | None


def decide(
    pool: PoolConfig,
    observation: Observation,
    *,
    policy: PolicyFor = default_policy,
    engine: Decide = plan,
) -> Decision:
    snapshot = observation.snapshot
    base = policy(pool, snapshot.now)
    warm = warm_policy_for(pool)
    if warm.mode is WarmMode.OFF or observation.history is None:
        return Decision(engine(snapshot, base), base, None, None)
    record = copy.deepcopy(observation.history)
    idle = sum(1 for a in snapshot.agents if a.online and a.enabled and not a.busy)
    observe_demand(record, observation.arrivals, min(idle, max(base.standby_agents, warm.max_agents)), snapshot.now)
    trim(record, snapshot.now, warm.seasonal_days)
    target = warm_target(warm, record.demand(snapshot.now), snapshot.now)
    warmed = with_warm_pool(base, target, warm)
    return Decision(engine(snapshot, warmed), warmed, target, record)


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
