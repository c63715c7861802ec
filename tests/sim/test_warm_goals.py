"""Issue 14's goals in the simulator: hook-triggered passes and the predictive warm pool, on the issue's own
traces (`adoscale.sim.workloads`: bursty, quiet, seed-day), seed 1 as `adoscale simulate` defaults to.
Targets are asserted, figures printed (`pytest -s`); docs/performance.md has the full tables.

The bursty trace runs 4 days (3 days of history, the 4th measured); ADOSCALE_BURSTY_DAYS=8 gives the
warm pool its full week of seasonal history (docs/performance.md has that run's figures too).
"""

from __future__ import annotations

import os
import random

import pytest

from adoscale.sim import POLICIES, PolicyResult, seed_day, simulate
from adoscale.sim.workloads import BURST_JOBS, BURST_S, WORK_END_H, named

SEED = 1
BURSTY_DAYS = int(os.environ.get("ADOSCALE_BURSTY_DAYS", "4"))


def _show(label: str, result: PolicyResult) -> None:
    s = result.summary()
    keys = ("jobs", "wait_p50_s", "wait_p95_s", "agent_minutes", "busy_minutes", "idle_agent_minutes")
    keys += ("overlaunched", "stranded", "busy_killed", "leaked", "hook_passes")
    print(f"\n{label}: " + ", ".join(f"{k}={s[k]}" for k in keys))


def _safe(result: PolicyResult) -> None:
    assert result.stranded == 0 and result.busy_killed == 0 and result.leaked == 0
    # A warm agent that never got a job is idle time: nothing of a task's life goes uncounted.
    assert result.idle_agent_minutes == pytest.approx(result.agent_minutes - result.busy_minutes)
    assert result.idle_agent_minutes >= result.overlaunched * 1.0  # each is billed a minute at least


@pytest.fixture(scope="module")
def bursty_day() -> dict[str, PolicyResult]:
    jobs, since = named("bursty", 1, SEED)
    results = {p: simulate(jobs, POLICIES[p], seed=SEED, measure_from_s=since) for p in ("adoscale", "adoscale-hooks")}
    for name, result in results.items():
        _show(f"bursty, 1 day, {name}", result)
    return results


def test_hooks_cut_the_p95_wait_by_5_s_and_over_launch_nothing(bursty_day: dict[str, PolicyResult]) -> None:
    scheduled, hooks = bursty_day["adoscale"], bursty_day["adoscale-hooks"]
    assert hooks.percentile(0.95) <= scheduled.percentile(0.95) - 5
    assert hooks.overlaunched == 0 and hooks.launched == hooks.jobs
    assert hooks.hook_passes >= hooks.jobs  # every job's hook started a pass (none lost here)
    _safe(hooks)


def test_lost_hooks_fall_back_on_the_schedule() -> None:
    jobs, since = named("bursty", 1, SEED)
    result = simulate(jobs, POLICIES["adoscale-hooks"], seed=SEED, measure_from_s=since, hook_loss=0.5)
    _show("bursty, 1 day, adoscale-hooks with half the hooks lost", result)
    assert result.hooks_lost > 0 and 0 < result.hook_passes < result.jobs
    assert result.overlaunched == 0 and len(result.waits_s) == result.jobs
    _safe(result)


@pytest.fixture(scope="module")
def predictive_bursty() -> PolicyResult:
    jobs, since = named("bursty", BURSTY_DAYS, SEED)
    result = simulate(jobs, POLICIES["adoscale-predictive"], seed=SEED, measure_from_s=since)
    _show(f"bursty, last of {BURSTY_DAYS} days, adoscale-predictive", result)
    return result


def test_predictive_on_bursty_median_wait_at_most_15_s(predictive_bursty: PolicyResult) -> None:
    assert predictive_bursty.percentile(0.5) <= 15
    _safe(predictive_bursty)


@pytest.mark.xfail(
    strict=True,
    reason="not met: 361.6 idle agent-minutes against 448 busy (goal: at most 224). 59 of the day's 89 jobs "
    "are a Poisson trickle: a median under 15 s needs 45 jobs served warm, the burst has 30, and a warm agent "
    "waits the mean gap (9.1 min) for each trickle job it catches. Even with the burst served warm for free, "
    "91.5 start-up minutes + 15 x 9.1 = 227.3 > 224 in expectation, for any policy "
    "(test_the_idle_goal_is_out_of_reach_of_any_policy_on_this_trace; docs/performance.md).",
)
def test_predictive_on_bursty_idle_at_most_half_the_busy_minutes(predictive_bursty: PolicyResult) -> None:
    assert predictive_bursty.idle_agent_minutes <= predictive_bursty.busy_minutes / 2


def test_the_idle_goal_is_out_of_reach_of_any_policy_on_this_trace(predictive_bursty: PolicyResult) -> None:
    """The xfail's reason as arithmetic on the measured day, so it is checked, not claimed. A job waits 15 s
    or less only on an agent already warm (a cold start is longer: `adoscale-hooks`' shortest wait). Each job's
    agent idles its start-up (what `adoscale-hooks` idles: no warm agent at all). A warm agent waiting for a
    Poisson arrival waits the mean gap between arrivals whenever it starts to wait. So even with the whole
    burst served warm at no extra cost, the median needs the remaining warm jobs from the trickle, each at
    the mean gap: a floor on idle time for any policy, in expectation."""
    jobs, since = named("bursty", BURSTY_DAYS, SEED)
    hooks = simulate(jobs, POLICIES["adoscale-hooks"], seed=SEED, measure_from_s=since)
    day = sorted(j.queued_at_s for j in jobs if j.queued_at_s >= since)
    burst, trickle = day[:BURST_JOBS], day[BURST_JOBS:]
    trickle_gap_min = (since + WORK_END_H * 3600 - (burst[0] + BURST_S)) / len(trickle) / 60
    median_index = round(0.5 * (len(day) - 1))  # as PolicyResult.percentile
    warm_needed_from_trickle = median_index + 1 - len(burst)
    floor = hooks.idle_agent_minutes + warm_needed_from_trickle * trickle_gap_min
    print(
        f"\nidle floor: {hooks.idle_agent_minutes:.1f} start-up min + {warm_needed_from_trickle} trickle jobs x "
        f"{trickle_gap_min:.1f} min = {floor:.1f}; goal <= {predictive_bursty.busy_minutes / 2:.1f}; "
        f"adoscale-predictive idles {predictive_bursty.idle_agent_minutes:.1f}"
    )
    assert min(hooks.waits_s) > 15 and hooks.busy_minutes == predictive_bursty.busy_minutes
    assert floor > predictive_bursty.busy_minutes / 2


def test_predictive_on_a_quiet_night_idles_at_most_45_agent_minutes() -> None:
    jobs, since = named("quiet", 1, SEED)
    result = simulate(jobs, POLICIES["adoscale-predictive"], seed=SEED, measure_from_s=since)
    _show("quiet night, adoscale-predictive", result)
    assert result.idle_agent_minutes <= 45
    _safe(result)


def test_predictive_on_the_seed_day_under_10_s_for_less_than_two_standby() -> None:
    jobs = seed_day(1, random.Random(SEED))
    predictive = simulate(jobs, POLICIES["adoscale-predictive"], seed=SEED)
    standby = simulate(jobs, POLICIES["adoscale-standby"], seed=SEED)
    _show("seed-day, adoscale-predictive", predictive)
    _show("seed-day, adoscale-standby", standby)
    assert predictive.percentile(0.5) < 10
    assert predictive.agent_minutes < standby.agent_minutes
    _safe(predictive)
