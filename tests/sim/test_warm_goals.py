"""Issue 14's goals in the simulator: hook-triggered passes and the predictive warm pool, on the project's
traces (`adoscale_lab.sim.workloads`: bursty, bursty-steady, quiet, seed-day). Targets are asserted, figures
printed (`pytest -s`); docs/performance.md has the full tables.

The bursty traces run 4 days (3 days of history, the 4th measured); ADOSCALE_BURSTY_DAYS=8 gives the
warm pool its full week of seasonal history. The warm pool's goals hold on three seeds, not one: a
setting tuned to one day's draw would not.
"""

from __future__ import annotations

import os
import random

import pytest

from adoscale_lab.sim import POLICIES, PolicyResult, seed_day, simulate
from adoscale_lab.sim.workloads import BURST_JOBS, BURST_S, WORK_END_H, named

SEED = 1
SEEDS = (1, 2, 3)
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


HOOK_SEEDS = (1, 2, 3, 4)


def test_hooks_cut_the_p95_wait_by_5_s_and_over_launch_nothing() -> None:
    """The p95 over four independently drawn days (about 200 jobs): over one day's 49 jobs it is the
    third-longest wait, and one day's draw moved the difference from 3.4 s (seed 1) to 11.5 s (seed 3)."""
    waits: dict[str, list[float]] = {"adoscale": [], "adoscale-hooks": []}
    for seed in HOOK_SEEDS:
        jobs, since = named("bursty", 1, seed)
        for name, pooled in waits.items():
            result = simulate(jobs, POLICIES[name], seed=seed, measure_from_s=since)
            _show(f"bursty, 1 day, seed {seed}, {name}", result)
            pooled.extend(result.waits_s)
            if name == "adoscale-hooks":
                assert result.overlaunched == 0 and result.launched == result.jobs
                assert result.hook_passes >= result.jobs  # every job's hook started a pass (none lost here)
                _safe(result)
    scheduled, hooks = (PolicyResult.pooled_percentile(w, 0.95) for w in waits.values())
    print(f"\np95 over {len(waits['adoscale'])} jobs: adoscale {scheduled:.1f} s, adoscale-hooks {hooks:.1f} s")
    assert hooks <= scheduled - 5


def test_lost_hooks_fall_back_on_the_schedule() -> None:
    jobs, since = named("bursty", 1, SEED)
    result = simulate(jobs, POLICIES["adoscale-hooks"], seed=SEED, measure_from_s=since, hook_loss=0.5)
    _show("bursty, 1 day, adoscale-hooks with half the hooks lost", result)
    assert result.hooks_lost > 0 and 0 < result.hook_passes < result.jobs
    assert result.overlaunched == 0 and len(result.waits_s) == result.jobs
    _safe(result)


@pytest.fixture(scope="module", params=SEEDS, ids=lambda seed: f"seed{seed}")
def predictive_bursty(request: pytest.FixtureRequest) -> PolicyResult:
    jobs, since = named("bursty", BURSTY_DAYS, request.param)
    result = simulate(jobs, POLICIES["adoscale-predictive"], seed=request.param, measure_from_s=since)
    _show(f"bursty, last of {BURSTY_DAYS} days, seed {request.param}, adoscale-predictive", result)
    return result


def test_predictive_on_bursty_median_wait_at_most_15_s(predictive_bursty: PolicyResult) -> None:
    assert predictive_bursty.percentile(0.5) <= 15
    _safe(predictive_bursty)


def test_predictive_on_bursty_idle_at_most_half_the_busy_minutes(predictive_bursty: PolicyResult) -> None:
    assert predictive_bursty.idle_agent_minutes <= predictive_bursty.busy_minutes / 2


def test_the_idle_goal_is_out_of_reach_of_any_policy_when_a_steady_stream_carries_the_median() -> None:
    """Why `bursty` is a burst and a trickle, not a burst and a steady stream: on `bursty-steady` (6 an
    hour all day after the burst, two thirds of the day's jobs) no policy can meet both goals, and this is
    that arithmetic on the measured day, checked rather than claimed. A job waits 15 s or less only on an
    agent already warm (a cold start is longer: `adoscale-hooks`' shortest wait). Each job's agent idles
    its start-up (what `adoscale-hooks` idles: no warm agent at all). A warm agent waiting for a Poisson
    arrival waits the mean gap between arrivals whenever it starts to wait. So even with the whole burst
    served warm at no extra cost, the median needs the remaining warm jobs from the steady stream, each at
    the mean gap: a floor on idle time for any policy, in expectation."""
    jobs, since = named("bursty-steady", 1, SEED)
    hooks = simulate(jobs, POLICIES["adoscale-hooks"], seed=SEED, measure_from_s=since)
    day = sorted(j.queued_at_s for j in jobs if j.queued_at_s >= since)
    burst, steady = day[:BURST_JOBS], day[BURST_JOBS:]
    steady_gap_min = (since + WORK_END_H * 3600 - (burst[0] + BURST_S)) / len(steady) / 60
    median_index = round(0.5 * (len(day) - 1))  # as PolicyResult.percentile
    warm_needed_from_steady = median_index + 1 - len(burst)
    floor = hooks.idle_agent_minutes + warm_needed_from_steady * steady_gap_min
    print(
        f"\nbursty-steady idle floor: {hooks.idle_agent_minutes:.1f} start-up min + {warm_needed_from_steady} "
        f"steady jobs x {steady_gap_min:.1f} min = {floor:.1f}; goal <= {hooks.busy_minutes / 2:.1f}"
    )
    assert min(hooks.waits_s) > 15
    assert floor > hooks.busy_minutes / 2


def test_predictive_on_a_quiet_night_idles_at_most_45_agent_minutes() -> None:
    jobs, since = named("quiet", 1, SEED)
    result = simulate(jobs, POLICIES["adoscale-predictive"], seed=SEED, measure_from_s=since)
    _show("quiet night, adoscale-predictive", result)
    assert result.idle_agent_minutes <= 45
    _safe(result)


def test_on_the_seed_day_the_idle_goal_rules_out_a_median_under_10_s_for_any_policy() -> None:
    """Issue 14 asked for a median under 10 s on the seed's day (a steady 10 jobs an hour) for fewer agent-
    minutes than two standby agents; issue 25 asks for idle time at most half the busy minutes on every
    trace. Both cannot hold there, whatever the policy, and this is that arithmetic, checked: a median
    under 10 s needs more than half the jobs served by an agent already warm (a cold start is longer), and
    a warm agent waiting for a Poisson arrival waits the mean gap whenever it starts to wait, on top of
    the start-up that every job's agent idles (what `adoscale-hooks` idles: no warm agent at all).
    `adoscale-predictive` now keeps issue 25's goal there (a trickle this thin keeps no agent warm)."""
    jobs = seed_day(1, random.Random(SEED))
    hooks = simulate(jobs, POLICIES["adoscale-hooks"], seed=SEED)
    predictive = simulate(jobs, POLICIES["adoscale-predictive"], seed=SEED)
    _show("seed-day, adoscale-predictive", predictive)
    arrivals = sorted(j.queued_at_s for j in jobs)
    gap_min = (arrivals[-1] - arrivals[0]) / (len(arrivals) - 1) / 60
    warm_needed = round(0.5 * (len(arrivals) - 1)) + 1
    floor = hooks.idle_agent_minutes + warm_needed * gap_min
    print(f"\nseed-day floor for p50 < 10 s: {floor:.1f} idle min; issue 25's goal <= {hooks.busy_minutes / 2:.1f}")
    assert floor > hooks.busy_minutes / 2
    assert predictive.idle_agent_minutes <= predictive.busy_minutes / 2
    _safe(predictive)
