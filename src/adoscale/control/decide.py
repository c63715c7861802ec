"""Decide: from a frozen `Observation`, the pass's `Decision`. Pure: no I/O, the clock is the snapshot's.

The engine (`adoscale.scaling.plan`) makes the plan; around it, only the translations a pass needs: the
pool's configuration as the engine's policy, and the warm pool's size from the demand history (the history
record as updated by this observation is part of the decision: act saves it, a dry run does not).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from adoscale.config import PoolConfig
from adoscale.control.backoff import StartBackoff, start_backoff
from adoscale.control.observe import Observation
from adoscale.history.base import HistoryRecord, trim
from adoscale.history.base import observe as observe_demand
from adoscale.scaling import Launch, Plan, PoolPolicy, PoolSnapshot, plan
from adoscale.scaling.warm import (
    WarmMode,
    WarmPolicy,
    WarmSchedule,
    WarmTarget,
    history_days,
    local_day,
    warm_target,
    with_warm_pool,
)

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


_ASSUMED_STARTUP_S = WarmPolicy().startup_s  # the start-up assumed until the pool's agents' is learnt


def warm_policy_for(pool: PoolConfig) -> WarmPolicy:
    warm = pool.warm_pool
    return WarmPolicy(
        mode=WarmMode(warm.mode),
        max_agents=warm.max_agents,
        budget_agent_hours_per_day=warm.budget_agent_hours_per_day,
        # A schedule without its own zone reads the clock in the warm pool's.
        schedules=tuple(
            WarmSchedule(s.cron, s.duration_minutes, s.agents, s.timezone or warm.timezone) for s in warm.schedules
        ),
        quantile=warm.quantile,
        horizon_s=float(warm.horizon_seconds),
        window_s=float(warm.window_seconds),
        seasonal_days=warm.seasonal_days,
        drain_after_s=float(warm.drain_after_seconds),
        idle_share=warm.idle_share,
        # Not configured: learnt from the pool's agents, the default start-up until then; configured: as given.
        startup_s=float(warm.startup_seconds) if warm.startup_seconds is not None else _ASSUMED_STARTUP_S,
        learn_startup=warm.startup_seconds is None,
        timezone=warm.timezone,
    )


def default_policy(pool: PoolConfig, _now: datetime) -> PoolPolicy:
    return policy_for(pool)


@dataclass(frozen=True, slots=True)
class Decision:
    """What the pass will do: the plan, the policy it was made under, the warm pool's target (None without
    a warm pool), the demand history to keep (None: nothing to save) and the start-failure back-off (None:
    the pool's tasks start)."""

    plan: Plan
    policy: PoolPolicy
    warm: WarmTarget | None
    history: HistoryRecord | None
    backoff: StartBackoff | None = None


def decide(
    pool: PoolConfig,
    observation: Observation,
    *,
    policy: PolicyFor = default_policy,
    engine: Decide = plan,
) -> Decision:
    snapshot = observation.snapshot
    base = policy(pool, snapshot.now)
    backoff = start_backoff(observation.tasks, (a.name for a in snapshot.agents), base.agent_name_prefix)
    warm = warm_policy_for(pool)
    if warm.mode is WarmMode.OFF or observation.history is None:
        return Decision(_backed_off(engine(snapshot, base), backoff, snapshot.now), base, None, None, backoff)
    record = observation.history.copy()
    idle = sum(1 for a in snapshot.agents if a.online and a.enabled and not a.busy)
    today = local_day(snapshot.now, warm.timezone)  # the idle budget's day starts at the pool's own midnight
    observe_demand(
        record,
        observation.arrivals,
        min(idle, max(base.standby_agents, warm.max_agents)),
        snapshot.now,
        observation.assigned_jobs,
        observation.finished_jobs,
        today,
    )
    trim(record, snapshot.now, history_days(warm.seasonal_days, warm.timezone))
    target = warm_target(warm, record.demand(snapshot.now, today), snapshot.now)
    warmed = with_warm_pool(base, target, warm)
    return Decision(_backed_off(engine(snapshot, warmed), backoff, snapshot.now), warmed, target, record, backoff)


def _backed_off(decision: Plan, backoff: StartBackoff | None, now: datetime) -> Plan:
    """The plan with its launch held back while the pool's tasks fail to start: nothing before the retry
    time or while a task is still starting, then one task (`control.backoff`)."""
    if backoff is None or decision.launch_count == 0:
        return decision
    if now < backoff.retry_at or decision.starting > 0:
        why = f"held back: {backoff.describe()}"
        return replace(decision, launch=Launch(0, why))
    return replace(decision, launch=Launch(1, f"one task to try again after {backoff.failures} failed to start"))


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
