"""The generated families of traces (`adoscale_lab.sim.families`): the generator, which traces issue 25's
median goal applies to, the start-up floor's arithmetic, and the issue's own Monday. The goals over each
family are judged in tests/sim/test_family_*.py (tests/sim/family_goals.py)."""

from __future__ import annotations

import importlib
import random
from datetime import datetime, time

import pytest

from adoscale.scaling.warm import Demand, WarmPolicy, WarmTarget
from adoscale_lab.sim import POLICIES, JobSpec, simulate
from adoscale_lab.sim.families import (
    BUSY_GAP_S,
    DAY_S,
    NOTICE_S,
    Trace,
    busy_periods,
    expected_idle_floor_minutes,
    family,
    generate,
    idle_floor_minutes,
    judge,
    run,
)
from tests.sim.family_goals import not_met


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


def test_the_mean_start_up_puts_the_idle_goal_out_of_reach_on_average_on_a_day_of_100_s_jobs() -> None:
    """Jobs of 100 s leave 50 s of idle each; the floor (40 s) is under it, the mean start-up (60 s: 45 s to
    RUNNING and 15 s to connect) over it. Every policy's agents draw their start-ups from the same
    distribution, so the cold start, which idles its start-up and nothing else, shows what every policy
    pays on average: over the goal."""
    jobs = [JobSpec(36000.0 + 150 * i, 100.0) for i in range(100)]
    trace = Trace("t", 0, jobs, [], 0.0, DAY_S, "", False, 1.0)
    assert (idle_floor_minutes(trace), expected_idle_floor_minutes(trace)) == pytest.approx((100 * 40 / 60, 100.0))
    cold = run(trace, POLICIES["adoscale-hooks"])
    assert cold.busy_minutes / 2 == pytest.approx(250 / 3)
    assert idle_floor_minutes(trace) < cold.busy_minutes / 2 < expected_idle_floor_minutes(trace)
    assert cold.idle_agent_minutes == pytest.approx(cold.startup_minutes, abs=0.1)  # start-up and nothing else
    assert cold.idle_agent_minutes == pytest.approx(expected_idle_floor_minutes(trace), rel=0.05)
    assert cold.idle_agent_minutes > cold.busy_minutes / 2


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
    and a stream of 20 an hour of 4.6-minute jobs is served cold by design (`idle_share`: such jobs cannot pay
    for an agent waiting the stream's mean gap). The forecast met
    the median here until the stream's chance runs stopped being read as bursts (docs/performance.md, "The
    issue's Monday"; the next test measures what serving the stream warm costs): both goals are reported, met
    or not, never hidden."""
    result = simulate(_issue_monday(), POLICIES["adoscale-predictive"], seed=1)
    print(f"\nissue 25's Monday: {result.summary()}")
    assert (result.stranded, result.busy_killed, result.leaked) == (0, 0, 0)
    misses = []
    if result.percentile(0.5) > 15:
        misses.append(f"median wait {result.percentile(0.5):.1f} s > 15 s")
    if result.idle_agent_minutes > result.busy_minutes / 2:
        misses.append(f"idle {result.idle_agent_minutes:.1f} > {result.busy_minutes / 2:.1f}")
    not_met("the issue's goals", misses)


def test_on_the_issue_s_monday_an_agent_warm_through_the_stream_meets_the_median_and_breaks_the_idle_goal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Why the Monday's median is left unmet: the forecast's size with one agent more from 09:05 to 11:05, the
    stream's two hours, known in advance (which no forecast on a pool's first day knows). The stream's jobs
    are then served warm and the median is met, but each of its 4.6-minute jobs costs the mean gap (3
    minutes) of waiting, and the day's idle goes over half the busy minutes (docs/performance.md, "The
    issue's Monday")."""
    decide = importlib.import_module("adoscale.control.decide")  # the module: `adoscale.control.decide` is a function
    forecast = decide.warm_target

    def one_more_through_the_stream(policy: WarmPolicy, demand: Demand, now: datetime) -> WarmTarget:
        target = forecast(policy, demand, now)
        if time(9, 5) <= now.time() < time(11, 5):
            return WarmTarget(target.agents + 1, target.reason + "; one more for the stream")
        return target

    monkeypatch.setattr(decide, "warm_target", one_more_through_the_stream)
    result = simulate(_issue_monday(), POLICIES["adoscale-predictive"], seed=1)
    print(f"\nthe Monday with an agent warm through the stream: {result.summary()}")
    assert result.percentile(0.5) <= 15
    assert result.idle_agent_minutes > result.busy_minutes / 2
