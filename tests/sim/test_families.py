"""Issue 25's goals for the warm pool over generated families of traces (`adoscale_lab.sim.families`):
`adoscale-predictive` on days it was not built on. ADOSCALE_FAMILY_TRACES=N judges N traces per family: 20
by default, the issue's minimum (seeds 1-20 of each of the four families); more on demand. Each family is
simulated once per worker for the whole file. Figures are printed (`pytest -s`); docs/performance.md has the
distribution over these 80, and over a fresh 80 (seeds 101-120) that nothing was tuned on. The generator is
seeded: a failing trace is named and can be run alone (`generate(family, seed)`)."""

from __future__ import annotations

import os
import random
from functools import cache

import pytest

from adoscale_lab.sim import POLICIES, JobSpec, PolicyResult, simulate
from adoscale_lab.sim.families import (
    BUSY_GAP_S,
    DAY_S,
    FAMILIES,
    NOTICE_S,
    Trace,
    busy_periods,
    family,
    generate,
    idle_floor_minutes,
    judge,
    run,
)

COUNT = int(os.environ.get("ADOSCALE_FAMILY_TRACES", "20"))
NIGHT_IDLE_MINUTES = 45


def test_the_generator_is_seeded_and_draws_within_the_issue_s_ranges() -> None:
    assert generate("burst", 7) == generate("burst", 7)
    assert generate("burst", 7) != generate("burst", 8)
    for trace in family("burst", 30) + family("fanout", 30) + family("trickle", 30):
        days = int(trace.measure_from_s // DAY_S)
        assert 0 <= days <= 14 and trace.measure_from_s == days * DAY_S
        assert 1 <= trace.job_minutes <= 30
        assert all(j.duration_s >= 30 for j in trace.jobs)
        assert all(trace.measure_from_s <= j.queued_at_s < trace.measure_until_s for j in trace.jobs)
        assert all(t < trace.measure_from_s for t in trace.history_s)
    fanouts = [t for t in family("fanout", 30) if t.jobs]
    assert sum(judge(t).busy for t in fanouts) * 3 >= len(fanouts)  # its bursts carry the median in many
    nights = family("night", 30)
    assert all(len(n.jobs) <= 6 for n in nights) and any(not n.jobs for n in nights)


def _trace(today: list[float], bursts: list[tuple[float, float]], day: int = 0) -> Trace:
    jobs = [JobSpec(day * DAY_S + t, 300.0) for t in today]
    return Trace("t", 0, jobs, [], day * DAY_S, (day + 1) * DAY_S, "", False, 5.0, tuple(bursts))


def test_busy_periods_are_dense_runs_of_arrivals() -> None:
    burst = [36000.0 + 20 * i for i in range(10)]  # 10 jobs over 3 minutes
    trickle = [30000.0 + 600 * i for i in range(5)]  # one every 10 minutes
    assert busy_periods(trickle + burst) == [(burst[0], burst[-1])]
    assert busy_periods(trickle) == []


def test_the_median_goal_applies_where_most_jobs_are_in_an_ongoing_burst() -> None:
    """Jobs of today's burst queued a cold start or more after its first are in an ongoing busy period;
    the goal applies when they are most of the day's jobs."""
    burst = [36000.0 + 30 * i for i in range(12)]  # 12 over 5.5 minutes: 8 of them 120 s or more in
    verdict = judge(_trace(burst, [(burst[0], burst[-1])]))
    assert (verdict.ongoing, verdict.busy) == (8, True) and NOTICE_S == 120
    trickle = [30000.0 + 600 * i for i in range(9)]
    assert not judge(_trace(trickle + burst, [(burst[0], burst[-1])])).busy  # 8 of 21: the trickle's median


def test_a_burst_where_it_was_on_most_earlier_days_of_the_same_kind_is_recurring() -> None:
    today = [36000.0 + 10 * i for i in range(11)]  # too short to be noticed in time: only recurrence helps
    earlier = [(d * DAY_S + 36100.0, d * DAY_S + 36200.0) for d in (1, 2, 3)]  # Tuesday to Thursday
    friday = 4 * DAY_S
    bursts = [*earlier, (friday + today[0], friday + today[-1])]
    verdict = judge(_trace(today, bursts, day=4))
    assert verdict.recurring == 11 and verdict.ongoing == 0 and verdict.busy
    moved = [(a + 3 * BUSY_GAP_S, b + 3 * BUSY_GAP_S) for a, b in earlier]
    assert not judge(_trace(today, [*moved, bursts[-1]], day=4)).busy


def _show(trace: Trace, result: PolicyResult) -> None:
    s = result.summary()
    print(
        f"\n{trace.name}: {judge(trace).why}; p50 {s['wait_p50_s']} p95 {s['wait_p95_s']} s, idle "
        f"{s['idle_agent_minutes']} of which start-up {result.startup_minutes:.1f}, busy {s['busy_minutes']} | "
        f"{trace.description}"
    )


@cache
def _judged(name: str) -> list[tuple[Trace, PolicyResult]]:
    """Each family's runs, once for the whole file (the night goal reads the nights' again)."""
    pairs = []
    for trace in family(name, COUNT):
        result = run(trace, POLICIES["adoscale-predictive"])
        _show(trace, result)
        pairs.append((trace, result))
    return pairs


@pytest.fixture(scope="module", params=FAMILIES)
def judged(request: pytest.FixtureRequest) -> list[tuple[Trace, PolicyResult]]:
    return _judged(request.param)


def test_nothing_is_stranded_killed_or_leaked(judged: list[tuple[Trace, PolicyResult]]) -> None:
    for trace, result in judged:
        assert (result.stranded, result.busy_killed, result.leaked) == (0, 0, 0), trace.name


def _not_met(what: str, misses: list[str]) -> None:
    """A goal missed on named traces is reported as not met (xfail, with the traces), never hidden by
    changing a trace: docs/performance.md names and explains each. A goal met everywhere passes."""
    if misses:
        pytest.xfail(f"{what} not met on {len(misses)} trace(s): " + "; ".join(misses))


def test_median_wait_at_most_15_s_where_the_median_job_is_in_a_recurring_or_ongoing_busy_period(
    judged: list[tuple[Trace, PolicyResult]],
) -> None:
    applies = [(t, r) for t, r in judged if judge(t).busy]
    print(f"\nthe median goal applies to {len(applies)} of {len(judged)} traces")
    _not_met(
        "median wait <= 15 s", [f"{t.name} p50 {r.percentile(0.5):.1f} s" for t, r in applies if r.percentile(0.5) > 15]
    )


def test_no_policy_idles_less_than_the_start_up_floor(judged: list[tuple[Trace, PolicyResult]]) -> None:
    """`idle_floor_minutes` is a lower bound (one agent a job, each idle for its start-up, billed a minute
    at least): what makes a trace under it out of reach for every policy, below."""
    for trace, result in judged:
        floor = idle_floor_minutes(trace)
        assert result.idle_agent_minutes >= floor - 1e-6, (trace.name, floor)
        assert result.startup_minutes >= len(trace.jobs) * 40 / 60 - 1e-6, trace.name  # 40 s each at least


def test_idle_at_most_half_the_busy_minutes(judged: list[tuple[Trace, PolicyResult]]) -> None:
    """Where the start-up floor alone is over half the busy minutes (jobs shorter than about 80 s: no policy
    can meet the goal, `idle_floor_minutes`), the trace is named as out of reach and passes; where the
    start-up this run measured is over it but the floor is not, it is named apart among the misses."""
    over = [(t, r) for t, r in judged if r.idle_agent_minutes > r.busy_minutes / 2]
    out_of_reach = [(t, r) for t, r in over if idle_floor_minutes(t) > r.busy_minutes / 2]
    print(
        "\nout of reach for any policy: "
        + ("; ".join(f"{t.name} (floor {idle_floor_minutes(t):.1f})" for t, _ in out_of_reach) or "none")
    )
    named = {t.name for t, _ in out_of_reach}
    rest = [(t, r) for t, r in over if t.name not in named]
    infeasible = [
        f"{t.name} (start-up alone {r.startup_minutes:.1f})" for t, r in rest if r.startup_minutes > r.busy_minutes / 2
    ]
    missed = [
        f"{t.name} idle {r.idle_agent_minutes:.1f} > {r.busy_minutes / 2:.1f}"
        for t, r in rest
        if r.startup_minutes <= r.busy_minutes / 2
    ]
    _not_met("idle <= half the busy minutes", missed + infeasible)


def test_the_start_up_floor_puts_the_idle_goal_out_of_reach_on_a_day_of_one_minute_jobs() -> None:
    """The floor's arithmetic on a trace made for it: 100 jobs of 60 s, busy 100 minutes; each agent idles
    40 s at least (the start-up) and is billed a minute at least, so 66.7 idle minutes at the least, over the
    50 the goal allows, for any policy; the simulator agrees."""
    jobs = [JobSpec(36000.0 + 150 * i, 60.0) for i in range(100)]
    trace = Trace("t", 0, jobs, [], 0.0, DAY_S, "", False, 1.0)
    assert idle_floor_minutes(trace) == pytest.approx(100 * 40 / 60)
    result = run(trace, POLICIES["adoscale-hooks"])  # no warm pool: the floor is all it idles, and more
    assert result.busy_minutes == pytest.approx(100.0)
    assert idle_floor_minutes(trace) <= result.idle_agent_minutes
    assert idle_floor_minutes(trace) > result.busy_minutes / 2


def test_a_quiet_night_idles_at_most_45_agent_minutes() -> None:
    for trace, result in _judged("night"):
        assert result.idle_agent_minutes <= NIGHT_IDLE_MINUTES, trace.name


def _issue_monday() -> list[JobSpec]:
    """Issue 25's example, drawn once: a Monday with no history, 30 jobs in 5 minutes at 09:00, then about
    20 an hour for two hours; jobs of about 5 minutes."""
    rng = random.Random(1)
    start = 9 * 3600.0
    jobs = [JobSpec(start + rng.uniform(0, 300), max(30.0, rng.gauss(300, 90))) for _ in range(30)]
    t = start + 300
    while (t := t + rng.expovariate(20 / 3600)) < start + 300 + 7200:
        jobs.append(JobSpec(t, max(30.0, rng.gauss(300, 90))))
    return sorted(jobs, key=lambda j: j.queued_at_s)


def test_the_issue_s_monday_with_no_history() -> None:
    """Issue 25's example: the median wait was 21.3 s before issue 25. Its median job is one of the stream's
    (about 18 of the 83 jobs are in an ongoing burst: by the families' rule the median goal does not apply),
    and a stream of 20 an hour is served cold by design (`PREDICTIVE_WARM_POOL`'s quantile). The forecast met
    the median here until the stream's chance runs stopped being read as bursts (docs/performance.md, "The
    issue's Monday"): both goals are reported, met or not, never hidden."""
    result = simulate(_issue_monday(), POLICIES["adoscale-predictive"], seed=1)
    print(f"\nissue 25's Monday: {result.summary()}")
    assert (result.stranded, result.busy_killed, result.leaked) == (0, 0, 0)
    misses = []
    if result.percentile(0.5) > 15:
        misses.append(f"median wait {result.percentile(0.5):.1f} s > 15 s")
    if result.idle_agent_minutes > result.busy_minutes / 2:
        misses.append(f"idle {result.idle_agent_minutes:.1f} > {result.busy_minutes / 2:.1f}")
    _not_met("the issue's goals", misses)
