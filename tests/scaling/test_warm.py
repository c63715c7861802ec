"""The warm pool's size: schedules, the predictive forecast, the budget, and the demand history."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from adoscale.history import DynamoHistory, HistoryRecord, MemoryHistory
from adoscale.history.base import observe, trim
from adoscale.scaling import AgentView, PoolPolicy, PoolSnapshot, TaskStatus, TaskView, plan
from adoscale.scaling.warm import (
    BURST_SPAN_S,
    PACE_SHARE,
    RECURRING_MIN_DAYS,
    SEASONAL_LEAD_S,
    Demand,
    UnderWay,
    WarmMode,
    WarmPolicy,
    WarmSchedule,
    WarmTarget,
    affordable_quantile,
    background_rate,
    burst_in_progress,
    burst_under_way,
    expected_arrivals,
    history_days,
    lead_s,
    lookahead_s,
    paced_agents,
    parse_cron,
    poisson_quantile,
    recurring_count,
    schedule_open,
    warm_target,
    with_warm_pool,
)
from tests.aws import create_lease_table

MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@given(st.floats(min_value=0.0, max_value=50.0), st.floats(min_value=0.01, max_value=0.99))
def test_poisson_quantile_is_monotone_in_mean_and_quantile(mean: float, q: float) -> None:
    k = poisson_quantile(mean, q)
    assert k >= 0
    assert poisson_quantile(mean + 1.0, q) >= k
    assert poisson_quantile(mean, min(0.995, q + 0.005)) >= k
    if mean == 0:
        assert k == 0


def test_poisson_quantile_known_values() -> None:
    assert poisson_quantile(1.0, 0.5) == 1  # P(N=0) = 0.37 < 0.5
    assert poisson_quantile(1.0, 0.3) == 0
    assert poisson_quantile(4.0, 0.9) == 7


@pytest.mark.parametrize(("quantile", "per_hour"), [(0.7, 14.3), (0.8, 8.9), (0.85, 6.5), (0.9, 4.2), (0.95, 2.1)])
def test_the_documented_rate_from_which_one_agent_is_kept_warm(quantile: float, per_hour: float) -> None:
    # docs/scaling.md, "Choosing quantile": the table's rates, with horizon_seconds 90.
    def agents_at(rate_per_hour: float) -> int:
        return poisson_quantile(rate_per_hour * 90 / 3600, quantile)

    assert agents_at(per_hour - 0.1) == 0
    assert agents_at(per_hour + 0.1) == 1


def test_cron_windows_open_and_close_in_their_time_zone() -> None:
    weekdays_8_berlin = WarmSchedule("0 8 * * 1-5", duration_minutes=120, agents=2, timezone="Europe/Berlin")
    # 09:00 UTC is 10:00 in Berlin in November: the window opened at 08:00 and closes at 10:00.
    assert schedule_open(weekdays_8_berlin, MONDAY_9 - timedelta(minutes=1))
    assert not schedule_open(weekdays_8_berlin, MONDAY_9)
    assert not schedule_open(weekdays_8_berlin, MONDAY_9 - timedelta(hours=2, minutes=1))
    assert not schedule_open(weekdays_8_berlin, MONDAY_9 - timedelta(days=2))  # Saturday
    with pytest.raises(ValueError, match="outside"):
        parse_cron("61 * * * *")
    with pytest.raises(ValueError, match="5 fields"):
        parse_cron("* * *")
    assert parse_cron("*/15 * * * 0,7")[0] == frozenset({0, 15, 30, 45})
    assert parse_cron("*/15 * * * 0,7")[4] == frozenset({0})


def test_schedule_mode_keeps_the_open_window_size_within_max() -> None:
    policy = WarmPolicy(mode=WarmMode.SCHEDULE, max_agents=3, schedules=(WarmSchedule("0 9 * * *", 60, agents=5),))
    assert warm_target(policy, Demand(), MONDAY_9).agents == 3
    assert warm_target(policy, Demand(), MONDAY_9 + timedelta(hours=2)).agents == 0


def test_predictive_follows_recent_arrivals_and_falls_to_zero() -> None:
    policy = WarmPolicy(mode=WarmMode.PREDICTIVE, max_agents=10, quantile=0.9, window_s=600, horizon_s=90)
    burst = [MONDAY_9 - timedelta(seconds=s) for s in range(0, 600, 20)]  # 30 jobs in 10 minutes
    busy = warm_target(policy, Demand(arrivals=burst), MONDAY_9)
    assert busy.agents >= 4  # 4.5 expected within a cold start
    quiet = warm_target(policy, Demand(arrivals=burst), MONDAY_9 + timedelta(hours=1))
    assert quiet.agents == 0


def test_predictive_warms_up_before_a_burst_seen_on_earlier_days() -> None:
    policy = WarmPolicy(mode=WarmMode.PREDICTIVE, max_agents=10, quantile=0.8, horizon_s=90, seasonal_days=3)
    arrivals = [
        MONDAY_9 - timedelta(days=d) + timedelta(seconds=s) for d in (1, 2, 3) for s in range(0, 90, 15)
    ]  # six jobs in the 90 s after 09:00 on each of the last three days
    assert warm_target(policy, Demand(arrivals=arrivals), MONDAY_9).agents >= 6
    assert warm_target(policy, Demand(arrivals=arrivals), MONDAY_9 + timedelta(hours=3)).agents == 0


def test_seasonal_averages_over_the_days_the_history_covers() -> None:
    # Three days of history under a 7-day setting: six jobs after 09:00 on each is six expected, not 6 x 3/7.
    policy = WarmPolicy(mode=WarmMode.PREDICTIVE, max_agents=10, horizon_s=90, seasonal_days=7)
    arrivals = [MONDAY_9 - timedelta(days=d) + timedelta(seconds=s) for d in (1, 2, 3) for s in range(1, 90, 15)]
    expected, why = expected_arrivals(policy, arrivals, MONDAY_9)
    assert expected == 6 and "3 day(s)" in why


def test_one_unusual_day_does_not_warm_the_pool_for_a_week() -> None:
    policy = WarmPolicy(mode=WarmMode.PREDICTIVE, max_agents=10, horizon_s=90, seasonal_days=7)
    quiet_days = [MONDAY_9 - timedelta(days=d, hours=3) for d in range(1, 6)]  # history on five days
    one_off = [MONDAY_9 - timedelta(days=2) + timedelta(seconds=s) for s in range(0, 90, 10)]
    assert warm_target(policy, Demand(arrivals=quiet_days + one_off), MONDAY_9).agents == 0


def test_a_trickle_is_not_read_as_recurring_but_a_daily_job_is() -> None:
    policy = WarmPolicy(mode=WarmMode.PREDICTIVE, max_agents=10, quantile=0.8, horizon_s=90, seasonal_days=7)
    history_from = MONDAY_9 - timedelta(days=3, hours=6)  # three days of history
    # A trickle's chance: an arrival in the 90 s after 09:00 on two days of three.
    chance = [history_from, *(MONDAY_9 - timedelta(days=d) + timedelta(seconds=30) for d in (1, 2))]
    assert expected_arrivals(policy, chance, MONDAY_9)[0] == 0
    assert warm_target(policy, Demand(arrivals=chance), MONDAY_9).agents == 0
    # A scheduled pipeline: one job at 09:00:30 on every day.
    daily = [*chance, MONDAY_9 - timedelta(days=3) + timedelta(seconds=30)]
    assert expected_arrivals(policy, daily, MONDAY_9)[0] == 1
    assert warm_target(policy, Demand(arrivals=daily), MONDAY_9).agents >= 1


def _daily_burst(days: tuple[int, ...], start: timedelta, jobs: int, every_s: int) -> list[datetime]:
    return [MONDAY_9 - timedelta(days=d) + start + timedelta(seconds=i * every_s) for d in days for i in range(jobs)]


BURSTY_POLICY = WarmPolicy(
    mode=WarmMode.PREDICTIVE, max_agents=20, quantile=0.85, window_s=3600, horizon_s=90, seasonal_days=7
)


def test_a_recurring_burst_is_not_counted_again_as_a_recent_rate_once_it_is_over() -> None:
    """Counted as a rate, today's 30 burst jobs would keep agents warm for the hour after the burst; the
    seasonal forecast foresaw them, so they do not count, while the burst goes on or after it."""
    recurring = _daily_burst((0, 1, 2, 3), timedelta(0), 30, 10)
    for after in (timedelta(minutes=2), timedelta(minutes=15)):
        now = MONDAY_9 + timedelta(seconds=290) + after
        assert expected_arrivals(BURSTY_POLICY, recurring, now)[0] == 0
        assert warm_target(BURSTY_POLICY, Demand(arrivals=recurring), now).agents == 0


def test_a_burst_never_seen_before_is_served_while_it_lasts_from_the_first_day() -> None:
    """No history at all: 8 jobs in the last 70 s (one every 10 s) read as a burst in progress, 7 in 70 s,
    9 expected within the next cold start; once it has stopped, the estimate falls with the open gap, and
    is gone once the silence is BURST_OVER + ln(gaps) of its mean gaps: a burst that is over keeps no agent
    for the hour after."""
    one_off = [MONDAY_9 + timedelta(seconds=10 * i) for i in range(8)]
    now = one_off[-1]
    expected, why = expected_arrivals(BURSTY_POLICY, one_off, now)
    assert expected == pytest.approx(7 / 70 * 90) and "burst in progress" in why
    assert warm_target(BURSTY_POLICY, Demand(arrivals=one_off), now).agents >= 9
    later = [expected_arrivals(BURSTY_POLICY, one_off, now + timedelta(seconds=s))[0] for s in (30, 120, 400)]
    assert later == sorted(later, reverse=True) and later[0] < expected
    gone = one_off[-1] + timedelta(seconds=BURST_SPAN_S + 1)
    assert expected_arrivals(BURSTY_POLICY, one_off, gone)[0] == 0


def test_a_trickle_rate_is_learnt_within_the_day_and_a_burst_is_not_part_of_it() -> None:
    """A steady 30 an hour over the last hour, no history: 0.75 expected within 90 s. The same hour with a
    burst of 20 in it, over for half an hour: the burst's arrivals are not the trickle's (and the trickle's
    own arrivals within 150 s of the burst cannot be told from it: 3 of 30 here)."""
    policy = replace(BURSTY_POLICY, window_s=3600)
    trickle = [MONDAY_9 - timedelta(seconds=120 * i + 60) for i in range(30)]
    assert expected_arrivals(policy, trickle, MONDAY_9)[0] == pytest.approx(0.75)
    burst = [MONDAY_9 - timedelta(minutes=30) + timedelta(seconds=5 * i) for i in range(20)]
    expected, why = expected_arrivals(policy, sorted(trickle + burst), MONDAY_9)
    assert expected == pytest.approx(27 * 90 / 3600) and "outside bursts" in why
    assert background_rate(sorted(burst), MONDAY_9, 3600) == 0


def test_a_weekday_burst_does_not_warm_the_pool_on_a_saturday() -> None:
    """Bursts at 09:00 on the five weekdays: on most of any seven days, but a weekend day is compared with
    weekend days only, and those were quiet; the next Monday still finds agents warm."""
    saturday_9 = MONDAY_9 + timedelta(days=5)
    weekdays = [MONDAY_9 + timedelta(days=d, seconds=10 * i) for d in range(5) for i in range(6)]
    assert expected_arrivals(BURSTY_POLICY, weekdays, saturday_9 - timedelta(seconds=30))[0] == 0
    next_monday = MONDAY_9 + timedelta(days=7)
    assert expected_arrivals(BURSTY_POLICY, weekdays, next_monday - timedelta(seconds=30))[0] >= 3


def test_a_burst_every_day_warms_the_pool_at_the_weekend_too() -> None:
    """Six jobs at 09:00 on each of the last 14 days, weekends included. Seven days hold two weekend days,
    fewer than anything needs to recur on (RECURRING_MIN_DAYS): on a Sunday the forecast compares with the
    weekend days of the last 14 (four), and the history keeps them (`history_days`, `trim`)."""
    sunday_9 = MONDAY_9 + timedelta(days=6)
    daily = [sunday_9 - timedelta(days=d) + timedelta(seconds=10 * i) for d in range(14, 0, -1) for i in range(6)]
    now = sunday_9 - timedelta(seconds=30)
    record = trim(HistoryRecord(arrivals=list(daily)), now, history_days(BURSTY_POLICY.seasonal_days))
    assert record.arrivals == daily
    expected, why = expected_arrivals(BURSTY_POLICY, record.arrivals, now)
    assert expected == 6 and "same time on 4 day(s)" in why
    # A week's history holds Saturday and Sunday once: that is not yet recurring.
    assert expected_arrivals(BURSTY_POLICY, [t for t in daily if t > now - timedelta(days=7)], now)[0] == 0
    # A weekday still compares with the last seven days, whatever their kind.
    friday = sunday_9 - timedelta(days=2)
    expected, why = expected_arrivals(BURSTY_POLICY, [t for t in daily if t < friday], friday - timedelta(seconds=30))
    assert expected == 6 and "same time on 7 day(s)" in why


def test_a_recurring_burst_that_runs_late_today_is_still_served_in_full() -> None:
    """Earlier days: 12 jobs from 09:00:00 to 09:01:50. Today the first 4 come from 09:01:30, when the
    earlier days' burst is over: it is 8 jobs behind, not finished."""
    earlier = _daily_burst((1, 2, 3), timedelta(0), 12, 10)
    today = _daily_burst((0,), timedelta(seconds=90), 4, 10)
    now = MONDAY_9 + timedelta(seconds=125)
    expected, _why = expected_arrivals(BURSTY_POLICY, earlier + today, now)
    assert expected == 12 - 4
    # Once today's burst has delivered what the earlier days' did, no agent is kept warm for it.
    done = _daily_burst((0,), timedelta(seconds=90), 12, 10)
    assert warm_target(BURSTY_POLICY, Demand(arrivals=earlier + done), MONDAY_9 + timedelta(seconds=205)).agents == 0


def test_agents_are_warm_for_a_recurring_burst_that_comes_a_minute_early() -> None:
    """The seasonal window looks a minute past the horizon: 100 s before 09:00 the horizon alone sees
    nothing of the earlier days' burst, and today's may come a minute early."""
    earlier = _daily_burst((1, 2, 3), timedelta(0), 6, 10)
    now = MONDAY_9 - timedelta(seconds=100)
    expected, why = expected_arrivals(BURSTY_POLICY, earlier, now)
    assert expected == 6 and "same time" in why
    assert expected_arrivals(BURSTY_POLICY, earlier, now - timedelta(seconds=SEASONAL_LEAD_S))[0] == 0


@given(st.lists(st.integers(min_value=0, max_value=50), max_size=28))
def test_recurring_count_needs_three_days_and_a_majority(counts: list[int]) -> None:
    recurring = recurring_count(counts)
    days_with_at_least = sum(1 for c in counts if c >= recurring)
    if len(counts) < RECURRING_MIN_DAYS:
        assert recurring == 0
    else:
        assert days_with_at_least >= RECURRING_MIN_DAYS and days_with_at_least > len(counts) / 2
        # ... and it is the largest such count.
        assert sum(1 for c in counts if c >= recurring + 1) < max(RECURRING_MIN_DAYS, len(counts) // 2 + 1)
    if counts and len(set(counts)) == 1 and len(counts) >= RECURRING_MIN_DAYS:
        assert recurring == counts[0]


def test_agents_beyond_the_warm_target_drain_after_drain_after_s() -> None:
    now = MONDAY_9
    base = PoolPolicy(max_agents=20, standby_agents=1, idle_timeout_seconds=300)
    warm = WarmPolicy(mode=WarmMode.PREDICTIVE, drain_after_s=60)
    ids = [f"{n:032x}" for n in (1, 2, 3)]
    tasks = tuple(
        TaskView(f"arn:aws:ecs:us-east-1:1:task/c/{i}", i, TaskStatus.RUNNING, now - timedelta(minutes=10)) for i in ids
    )
    idle = tuple(
        AgentView(n, i, True, True, False, now - timedelta(seconds=s))
        for n, i, s in zip((2, 3, 4), ids, (200, 90, 30), strict=True)
    )
    snapshot = PoolSnapshot("linux", now, 0, 0, idle, tasks, None)

    assert plan(snapshot, base).drain == ()  # without a warm pool: nobody is idle 300 s yet
    two = with_warm_pool(base, WarmTarget(0, "falling"), warm)
    assert two.standby_agents == 1 and two.idle_timeout_seconds == 60  # never below the pool's own standby
    # Above the one standby agent, the two idle longer than 60 s drain; the one idle 30 s stays for now.
    assert sorted(d.agent_id for d in plan(snapshot, two).drain) == [2, 3]
    three = with_warm_pool(base, WarmTarget(3, "busy"), warm)
    assert three.standby_agents == 3 and plan(snapshot, three).drain == ()
    # A pool whose idle timeout is already shorter keeps it.
    assert with_warm_pool(replace(base, idle_timeout_seconds=20), WarmTarget(0, ""), warm).idle_timeout_seconds == 20


def test_the_budget_stops_the_warm_pool_for_the_day() -> None:
    policy = WarmPolicy(
        mode=WarmMode.SCHEDULE, schedules=(WarmSchedule("* * * * *", 1, 2),), budget_agent_hours_per_day=1
    )
    assert warm_target(policy, Demand(idle_agent_seconds_today=3599), MONDAY_9).agents == 2
    assert warm_target(policy, Demand(idle_agent_seconds_today=3600), MONDAY_9).agents == 0


def test_history_counts_each_request_once_and_idle_time_per_day() -> None:
    record = HistoryRecord()
    observe(record, [(5, MONDAY_9), (6, MONDAY_9)], idle_agents=0, now=MONDAY_9)
    observe(record, [(5, MONDAY_9), (6, MONDAY_9), (7, MONDAY_9)], idle_agents=2, now=MONDAY_9 + timedelta(seconds=30))
    assert len(record.arrivals) == 3 and record.max_request_id == 7
    assert record.demand(MONDAY_9).idle_agent_seconds_today == 60
    observe(record, [], idle_agents=1, now=MONDAY_9 + timedelta(days=1))
    # A new day starts from zero; a long gap counts at most five minutes (the controller may have been down).
    assert record.demand(MONDAY_9 + timedelta(days=1)).idle_agent_seconds_today == 300


@pytest.mark.parametrize("store", ["memory", "dynamodb"])
def test_history_round_trips(store: str) -> None:
    record = HistoryRecord()
    observe(record, [(1, MONDAY_9), (2, MONDAY_9)], idle_agents=0, now=MONDAY_9)  # two in the same second
    with mock_aws():
        if store == "dynamodb":
            db = boto3.client("dynamodb", region_name="us-east-1")
            create_lease_table(db, "leases")
            history: DynamoHistory | MemoryHistory = DynamoHistory(db, "leases")
        else:
            history = MemoryHistory()
        assert history.load("linux").arrivals == []
        history.save("linux", record)
        loaded = history.load("linux")
    assert loaded.arrivals == [MONDAY_9, MONDAY_9]
    assert loaded.max_request_id == 2 and loaded.last_pass == MONDAY_9


def _open_minutes(schedule: WarmSchedule, start: datetime, hours: int) -> list[datetime]:
    """The UTC minutes, from `start`, in which the window is open."""
    return [at for m in range(hours * 60) if schedule_open(schedule, at := start + timedelta(minutes=m))]


@pytest.mark.parametrize(
    ("cron", "day", "opens_utc"),
    [
        # Europe/Berlin springs forward on 2027-03-28 at 02:00 CET (01:00 UTC) to 03:00 CEST.
        ("30 1 28 3 *", datetime(2027, 3, 27, 22, 0, tzinfo=UTC), datetime(2027, 3, 28, 0, 30, tzinfo=UTC)),
        # ... and falls back on 2027-10-31 at 03:00 CEST (01:00 UTC) to 02:00 CET; 01:30 CEST is 23:30 UTC.
        ("30 1 31 10 *", datetime(2027, 10, 30, 22, 0, tzinfo=UTC), datetime(2027, 10, 30, 23, 30, tzinfo=UTC)),
        # A window opening in the repeated hour (02:30 happens at 00:30 and 01:30 UTC) opens once, at the first.
        ("30 2 31 10 *", datetime(2027, 10, 30, 22, 0, tzinfo=UTC), datetime(2027, 10, 31, 0, 30, tzinfo=UTC)),
    ],
)
def test_a_60_minute_window_stays_open_60_minutes_across_a_dst_change(
    cron: str, day: datetime, opens_utc: datetime
) -> None:
    """Issue 22: a window's length is real time. Counted on the local wall clock, a window across the
    spring change stayed open 30 minutes, and one across the autumn change 90."""
    window = WarmSchedule(cron, duration_minutes=60, agents=1, timezone="Europe/Berlin")
    minutes = _open_minutes(window, day, 6)
    assert minutes == [opens_utc + timedelta(minutes=m) for m in range(60)]


def test_four_arrivals_in_a_minute_are_a_burst_on_a_quiet_day_and_chance_in_a_busy_stream() -> None:
    """At 30 an hour, four arrivals within a minute come about four times a day by chance: read as a burst
    at 180 an hour, each warmed four agents for nothing (issue 25's `trickle-112`). The same run is a burst
    on a quiet day, and six are one over the busy stream too."""
    four = [MONDAY_9 + timedelta(seconds=18 * i) for i in range(4)]
    now = four[-1] + timedelta(seconds=5)
    assert burst_in_progress(four, now) == pytest.approx(3 / 59)
    assert burst_in_progress(four, now, stream_per_s=30 / 3600) == 0
    six = [MONDAY_9 + timedelta(seconds=10 * i) for i in range(6)]
    assert burst_in_progress(six, six[-1] + timedelta(seconds=5), stream_per_s=30 / 3600) > 0


def _stream(days: range, every_s: int, hours: tuple[int, int] = (8, 18)) -> list[datetime]:
    """A steady stream on each of `days` before MONDAY_9's day, an arrival every `every_s` seconds."""
    midnight = MONDAY_9.replace(hour=0)
    return [
        midnight - timedelta(days=d) + timedelta(seconds=s)
        for d in days
        for s in range(hours[0] * 3600 + 7 * d, hours[1] * 3600, every_s)
    ]


def test_a_stream_that_puts_an_arrival_in_most_windows_is_not_read_as_recurring() -> None:
    """20 an hour on each of seven days puts an arrival in most 150-second windows at any time of day:
    counted as recurring it kept an agent warm all day (issue 25's `trickle-117`). What recurs above the
    stream still does: a burst of 8 at noon on each day, over the same stream."""
    policy = replace(BURSTY_POLICY, seasonal_days=7)
    stream = _stream(range(1, 8), 180)
    noon = MONDAY_9.replace(hour=12)
    assert recurring_count([1] * 7) == 1  # what the seasonal count alone would have said
    assert expected_arrivals(policy, stream, noon)[0] == 0
    burst = [noon - timedelta(days=d) + timedelta(seconds=60 + 5 * i) for d in range(1, 8) for i in range(8)]
    expected, why = expected_arrivals(policy, sorted(stream + burst), noon)
    assert expected >= 6 and "same time" in why


def test_a_recurring_burst_whose_start_moves_from_day_to_day_finds_agents_warm() -> None:
    """Earlier days: 8 jobs in 40 s, beginning at 09:00, 09:03, 09:06 and 09:09. At 09:04 today the
    same-time estimate sees one day's burst in its window (09:06), not most days'; the burst is due: by the
    coming horizon and lead it had begun on three days of four, and today it has not. Once today's has
    begun (5 arrivals) the estimate is the burst's own; once every earlier day's began more than a horizon
    ago, it is not coming."""
    starts = (0, 3, 6, 9)
    earlier = [
        MONDAY_9 - timedelta(days=d) + timedelta(minutes=m, seconds=5 * i)
        for d, m in zip((1, 2, 3, 4), starts, strict=True)
        for i in range(8)
    ]
    now = MONDAY_9 + timedelta(minutes=4)
    expected, why = expected_arrivals(BURSTY_POLICY, earlier, now)
    assert expected == 8 and "burst due" in why
    today = [now + timedelta(seconds=5 * i) for i in range(5)]
    assert "burst due" not in expected_arrivals(BURSTY_POLICY, earlier + today, today[-1])[1]
    passed = MONDAY_9 + timedelta(minutes=9) + timedelta(seconds=BURSTY_POLICY.horizon_s + 60)
    assert expected_arrivals(BURSTY_POLICY, earlier, passed)[0] == 0


def test_a_fast_burst_is_over_once_its_silence_would_be_unlikely_had_it_gone_on() -> None:
    """Ten arrivals two seconds apart, then 20 s of silence: at that burst's rate ten arrivals would have
    come in it, and none did (longer than the longest of its nine gaps is likely to be while such a burst
    goes on: BURST_OVER + ln 9 mean gaps), so no agent is kept for it. Agents launched for it would come
    online to nothing. A slow burst (one every 20 s) after the same 20 s of silence is still going on."""
    fast = [MONDAY_9 + timedelta(seconds=2 * i) for i in range(10)]
    assert burst_in_progress(fast, fast[-1]) > 0
    assert burst_in_progress(fast, fast[-1] + timedelta(seconds=20)) == 0
    slow = [MONDAY_9 + timedelta(seconds=20 * i) for i in range(10)]
    assert burst_in_progress(slow, slow[-1] + timedelta(seconds=20)) > 0


def test_a_slow_burst_s_longer_gap_does_not_end_it_while_it_goes_on() -> None:
    """Ten arrivals 20 s apart (nine gaps), then 70 s of silence: 3.5 mean gaps. One gap that long comes
    under 5 % of the time, but the longest of nine comes that long a quarter of the time while the burst
    goes on, and the longest of a slow burst's gaps ended it mid-way: its warm agents drained and its next jobs
    waited a cold start (`fanout-1123`). It is over once the silence is longer than the longest of nine is
    likely to be: BURST_OVER + ln 9, 5.2 mean gaps (104 s here)."""
    slow = [MONDAY_9 + timedelta(seconds=20 * i) for i in range(10)]
    assert burst_in_progress(slow, slow[-1] + timedelta(seconds=70)) == pytest.approx(9 / 250)
    assert burst_in_progress(slow, slow[-1] + timedelta(seconds=100)) > 0
    assert burst_in_progress(slow, slow[-1] + timedelta(seconds=110)) == 0


def test_a_recurring_burst_that_came_earlier_today_is_not_expected_again_at_its_usual_time() -> None:
    """Earlier days: 20 jobs at 14:00. Today they came at 09:00 (a new time), and at 13:59 the day has had
    the burst most days had by now: no agent is kept for it (it kept 20 warm for nothing). A day whose burst
    has not come yet still finds them warm, and a burst under way is still served."""
    two_pm = timedelta(hours=5)
    earlier = _daily_burst((1, 2, 3, 4), two_pm, 20, 3)
    before = MONDAY_9 + two_pm - timedelta(seconds=60)
    assert warm_target(BURSTY_POLICY, Demand(arrivals=earlier), before).agents >= 15
    moved = _daily_burst((0,), timedelta(0), 20, 3)
    assert warm_target(BURSTY_POLICY, Demand(arrivals=earlier + moved), before).agents == 0
    under_way = _daily_burst((0,), two_pm, 5, 3)
    assert (
        warm_target(
            BURSTY_POLICY, Demand(arrivals=earlier + under_way), MONDAY_9 + two_pm + timedelta(seconds=13)
        ).agents
        >= 10
    )


SHARED = replace(BURSTY_POLICY, quantile=0.9, idle_share=0.5, startup_s=60, drain_after_s=60)


def test_the_quantile_falls_to_what_the_jobs_idle_allowance_affords() -> None:
    """Each job earns half its length in idle time; its own agent's start-up (60 s) spends part of it, and
    a warm agent no job takes costs its start-up and the minute before it drains (120 s). Jobs of 40
    minutes afford the configured share; jobs of 3 minutes leave 30 s, a share of 30 / 150; jobs of two
    minutes leave nothing, and a burst in progress then keeps no agent warm (it kept 14)."""
    assert affordable_quantile(SHARED, 40 * 60) == 0.9
    assert affordable_quantile(SHARED, 180) == pytest.approx(0.2)
    assert affordable_quantile(SHARED, 120) == 0
    assert affordable_quantile(SHARED, None) == 0.9  # not known yet: the configured share
    assert affordable_quantile(replace(SHARED, idle_share=None), 120) == 0.9  # not asked for
    burst = [MONDAY_9 + timedelta(seconds=6 * i) for i in range(10)]
    now = burst[-1]
    assert warm_target(SHARED, Demand(arrivals=burst), now).agents >= 14
    short = warm_target(SHARED, Demand(arrivals=burst, job_seconds=120), now)
    assert short.agents == 0 and "jobs of 120 s" in short.reason
    assert 0 < warm_target(SHARED, Demand(arrivals=burst, job_seconds=240), now).agents < 14


def test_a_recurring_burst_under_way_is_counted_from_its_own_start() -> None:
    """Four earlier days saw a burst of 25 at noon; today's begins five minutes late. Counted from its own
    start, it has brought 10 of its usual 25 at one every 10 s; its rate ends when it falls silent for
    longer than its longest gap is likely to be (BURST_OVER + ln(gaps) mean gaps), once it has brought its
    usual size, and where no earlier day had one (a burst of unknown size is `burst_in_progress`'s)."""
    noon = MONDAY_9 + timedelta(hours=3)
    earlier = [noon - timedelta(days=d) + timedelta(seconds=10 * i) for d in (1, 2, 3, 4) for i in range(25)]
    today = [noon + timedelta(minutes=5, seconds=10 * i) for i in range(25)]
    now = today[9] + timedelta(seconds=5)
    assert burst_under_way(BURSTY_POLICY, sorted(earlier + today[:10]), now, 0.0) == UnderWay(
        pytest.approx(0.1), 10, 25, running=True
    )
    silent = today[9] + timedelta(seconds=60)  # six mean gaps: over 3 + ln 9 = 5.2
    assert burst_under_way(BURSTY_POLICY, sorted(earlier + today[:10]), silent, 0.0).rate == 0
    assert burst_under_way(BURSTY_POLICY, sorted(earlier + today), today[-1], 0.0) == UnderWay(0.0, 25, 25, True)
    assert burst_under_way(BURSTY_POLICY, today[:10], now, 0.0) == UnderWay(0.0, 10, 0, running=True)
    over = today[-1] + timedelta(minutes=6)  # past CLUSTER_S: a run begun now would be another burst
    assert not burst_under_way(BURSTY_POLICY, sorted(earlier + today + [over]), over, 0.0).running


def _recurring_burst(
    rng: random.Random, start: datetime, *, days: int, jobs: int, span_s: float, late_s: float = 0.0
) -> tuple[list[datetime], list[datetime]]:
    """A burst like the families': `jobs` arrivals spread over `span_s` from `start`, up to `late_s` late, on
    each of `days` earlier days and today (drawn in that order): the earlier days' arrivals, and today's."""

    def burst(day: int) -> list[datetime]:
        late = rng.uniform(0, late_s)
        return sorted(
            start - timedelta(days=day) + timedelta(seconds=late + rng.uniform(0, span_s)) for _ in range(jobs)
        )

    earlier = [a for d in range(1, days + 1) for a in burst(d)]
    return earlier, burst(0)


def _as_today_s_come(
    earlier: list[datetime], today: list[datetime], seens: range, job_seconds: float
) -> Iterator[tuple[int, WarmTarget]]:
    """The warm target a second after each of today's `seens`-th arrival (up to 30 agents)."""
    policy = replace(SHARED, max_agents=30)
    for seen in seens:
        now = today[seen - 1] + timedelta(seconds=1)
        yield seen, warm_target(policy, Demand(arrivals=earlier + today[:seen], job_seconds=job_seconds), now)


def test_a_recurring_burst_under_way_keeps_agents_for_the_rest_of_its_usual_size() -> None:
    """A seeded burst like the families' (25 jobs over about 4 minutes, 0-9 minutes late each day, 7 days
    of history): today's, late, is served from its own rate while the clock's count for the same minutes
    falls as the earlier days' bursts end; and the size never passes what its usual size has still to
    bring, so its last jobs do not warm agents for jobs that do not come."""
    noon = MONDAY_9 + timedelta(hours=3)
    earlier, today = _recurring_burst(random.Random(34), noon, days=7, jobs=25, span_s=250, late_s=540)
    under_way = 0
    for seen, target in _as_today_s_come(earlier, today, range(5, 22), job_seconds=480):
        if target.reason.startswith("a recurring burst under way"):
            under_way += 1
            assert f"{seen} of its usual 25 so far (at most {25 - seen} more)" in target.reason, target
            assert 0 < target.agents <= 25 - seen, target
    assert under_way >= 10, under_way


def test_the_last_arrivals_of_a_late_recurring_burst_keep_no_more_agents_than_it_has_left() -> None:
    """Seven earlier days saw a burst of 25 in a minute at noon; today's comes eight minutes late. No earlier
    day foresaw its arrivals, so they also read as a burst in progress at 25 a minute; near its end that
    rate alone kept every agent allowed warm for arrivals that were not coming (`fanout-1487`: 30 agents
    launched in its last 8 s, none taken). Today's is the recurring burst, and brings at most the rest of
    its usual size; a burst of unknown size, on a pool's first day, is still served at its rate, and so is
    one that has brought more than its usual size."""
    noon = MONDAY_9 + timedelta(hours=3)
    earlier = [noon - timedelta(days=d) + timedelta(seconds=2.4 * i) for d in range(1, 8) for i in range(25)]
    today = [noon + timedelta(minutes=8, seconds=2.4 * i) for i in range(25)]
    policy = replace(SHARED, max_agents=30)
    for seen in (20, 22, 24):
        now = today[seen - 1] + timedelta(seconds=1)
        target = warm_target(policy, Demand(arrivals=earlier + today[:seen], job_seconds=720), now)
        assert target.agents <= 25 - seen, (seen, target)
        first_day = warm_target(policy, Demand(arrivals=today[:seen], job_seconds=720), now)
        assert "burst in progress" in first_day.reason and first_day.agents > 25 - seen, (seen, first_day)
    # Bigger today than on earlier days: up to its usual size it is kept to the rest of that size (its
    # next jobs wait longer than they would at its rate: the price of the cap), and once past it, served at
    # its rate again.
    bigger = [noon + timedelta(minutes=8, seconds=2.4 * i) for i in range(35)]
    for seen in (27, 30):
        now = bigger[seen - 1] + timedelta(seconds=1)
        target = warm_target(policy, Demand(arrivals=earlier + bigger[:seen], job_seconds=720), now)
        assert "burst in progress" in target.reason and target.agents > 5, (seen, target)


@given(st.floats(min_value=0, max_value=86400), st.floats(min_value=0, max_value=86400), st.booleans())
def test_longer_jobs_never_afford_fewer_warm_agents(a: float, b: float, in_burst: bool) -> None:
    short, long = sorted((a, b))
    assert (
        affordable_quantile(SHARED, short, in_burst=in_burst)
        <= affordable_quantile(SHARED, long, in_burst=in_burst)
        <= SHARED.quantile
    )
    assert affordable_quantile(SHARED, long) <= affordable_quantile(SHARED, long, in_burst=True)


def test_a_burst_of_jobs_that_pay_for_an_untaken_agent_in_full_keeps_the_configured_share() -> None:
    """Jobs of 12 minutes leave 300 s each after their own agent's start-up; an agent no job takes costs at
    most a horizon of waiting, its start-up and its drain (210 s) when the estimate ends with its burst: a
    burst's size is kept at the configured 0.9. A trickle's estimate does not end (its untaken agent waits
    the gaps all day): the ratio, 300 / 420. Jobs of 8 minutes (180 s left) keep the ratio in a burst too."""
    assert affordable_quantile(SHARED, 720, in_burst=True) == 0.9
    assert affordable_quantile(SHARED, 720) == pytest.approx(300 / 420)
    assert affordable_quantile(SHARED, 480, in_burst=True) == pytest.approx(180 / 300)
    burst = [MONDAY_9 + timedelta(seconds=6 * i) for i in range(10)]  # 15 expected within 90 s
    in_burst = warm_target(SHARED, Demand(arrivals=burst, job_seconds=720), burst[-1])
    assert "burst in progress" in in_burst.reason and in_burst.agents == poisson_quantile(15, 0.9)
    trickle = [MONDAY_9 - timedelta(seconds=120 * i + 60) for i in range(30)]  # 30 an hour: 0.75 expected
    quiet = warm_target(replace(SHARED, window_s=3600), Demand(arrivals=trickle, job_seconds=720), MONDAY_9)
    assert "outside bursts" in quiet.reason and quiet.agents == poisson_quantile(0.75, 300 / 420)
    assert poisson_quantile(0.75, 300 / 420) < poisson_quantile(0.75, 0.9)


def test_agents_for_jobs_too_short_to_pay_for_the_notice_time_are_kept_one_start_up_ahead() -> None:
    """Jobs of 150 s leave 15 s of idle each after their own agent's start-up, less than the 30 s a warm
    agent kept a horizon (90 s) ahead waits beyond its start-up: the forecast counts the arrivals of one
    start-up (60 s) instead. A burst of one every 6 s: 10 expected, not 15. Jobs of 4 minutes pay for it."""
    assert lookahead_s(SHARED, 150) == 60 and lookahead_s(SHARED, 240) == 90 and lookahead_s(SHARED, None) == 90
    burst = [MONDAY_9 + timedelta(seconds=6 * i) for i in range(10)]
    short = warm_target(SHARED, Demand(arrivals=burst, job_seconds=150), burst[-1])
    assert "10.00 arrivals expected within 60 s" in short.reason
    assert (
        "15.00 arrivals expected within 90 s"
        in warm_target(SHARED, Demand(arrivals=burst, job_seconds=240), burst[-1]).reason
    )


def test_a_burst_s_rate_is_read_from_its_longest_run_not_its_fastest_few_arrivals() -> None:
    """Six a minute, of which the last four came within three seconds by chance: read from those four, the
    rate was 3,600 an hour and warmed every agent the pool allows for a burst of 360 an hour (issue 25's
    Monday, at 09:00:10, warmed 30). Read from the whole run of ten, it is 9 in 64 s."""
    at = [0, 10, 20, 30, 40, 50, 60, 61, 62, 63]
    run = [MONDAY_9 + timedelta(seconds=s) for s in at]
    assert burst_in_progress(run, run[-1] + timedelta(seconds=1)) == pytest.approx(9 / 64)


def test_a_trickle_job_before_a_burst_is_not_the_start_of_its_run() -> None:
    """A trickle job five minutes before five arrivals five seconds apart: a gap the burst's rate brings
    under one time in a thousand, so the run (and its rate) starts after it, not 320 s back."""
    at = [-300, 0, 5, 10, 15, 20]
    arrivals = [MONDAY_9 + timedelta(seconds=s) for s in at]
    assert burst_in_progress(arrivals, arrivals[-1] + timedelta(seconds=1)) == pytest.approx(4 / 21)


def test_paced_agents_keep_the_k_th_arrival_s_expected_wait_within_the_spare() -> None:
    """`paced_agents`' closed form, E[(T_k - s)+] = (1 / rate) * sum over i < k of P(Poisson(rate * s) <= i),
    checked against a seeded draw of T_k ~ Gamma(k, rate): the k it returns keeps the k-th agent's mean wait
    within the spare, and one more agent would not. One agent: e^(-rate * s) / rate, memorylessness."""
    rng = random.Random(25)

    def mean_wait(k: int, rate: float, startup: float) -> float:
        draws = 40_000
        return sum(max(0.0, rng.gammavariate(k, 1 / rate) - startup) for _ in range(draws)) / draws

    assert paced_agents(0.1, 60, 0.0248, 50) == 1 and paced_agents(0.1, 60, 0.0247, 50) == 0  # e^-6 / 0.1
    for rate, startup, spare in ((0.15, 57, 23), (0.05, 60, 40), (0.5, 45, 10)):
        k = paced_agents(rate, startup, spare, 1_000)
        assert 0 < k < 1_000
        assert mean_wait(k, rate, startup) <= spare * 1.03, (rate, k)
        assert mean_wait(k + 1, rate, startup) > spare * 0.97, (rate, k)
    assert paced_agents(0.15, 57, 23, 4) == 4 and paced_agents(0.0, 57, 23, 40) == 0


@given(
    st.floats(min_value=1e-3, max_value=2),
    st.floats(min_value=0, max_value=120),
    st.floats(min_value=0, max_value=600),
    st.floats(min_value=0, max_value=600),
    st.integers(min_value=0, max_value=200),
)
def test_paced_agents_grow_with_the_spare_and_never_pass_the_rest(
    rate: float, startup: float, a: float, b: float, most: int
) -> None:
    less, more = sorted((a, b))
    assert 0 <= paced_agents(rate, startup, less, most) <= paced_agents(rate, startup, more, most) <= most


def test_jobs_too_short_to_pay_for_the_lead_find_no_agent_warm_before_their_burst_is_due() -> None:
    """Agents kept a minute early for a recurring burst wait that minute when it comes on time. Jobs of
    2.7 minutes leave 21 s of idle after their own agent's 60 s start-up (at idle_share 0.5), and are
    counted a start-up ahead (no notice time): a lead of 21 s. Jobs of 4 minutes pay for 30 s of it after
    the 30 s notice time, jobs of 5 minutes or more for all of it, and so does a pool whose jobs' length is
    not known yet. Seven earlier days had a burst of 30 in two minutes at 09:00: at 08:58:30 (the burst
    90 s away, within a horizon and the lead) agents are warm for jobs of 10 minutes and not for jobs of
    2.7 (60 s and 21 s); at 08:59:10 (within the look-ahead) for both."""
    assert [lead_s(SHARED, s) for s in (162, 240, 300, 600, None)] == [21, 30, SEASONAL_LEAD_S, 60, 60]
    earlier = [MONDAY_9 - timedelta(days=d) + timedelta(seconds=4 * i) for d in range(1, 8) for i in range(30)]
    early = MONDAY_9 - timedelta(seconds=90)
    assert warm_target(SHARED, Demand(arrivals=earlier, job_seconds=600), early).agents > 0
    assert warm_target(SHARED, Demand(arrivals=earlier, job_seconds=162), early).agents == 0
    due = MONDAY_9 - timedelta(seconds=50)
    assert warm_target(SHARED, Demand(arrivals=earlier, job_seconds=162), due).agents > 0


def test_a_recurring_burst_of_short_jobs_under_way_is_paced_to_what_it_has_left() -> None:
    """`fanout-10`'s shape: 40 jobs of 2.7 minutes over about 4.5 minutes at 09:00 on ten earlier days. At
    a share of 0.16 the count of a start-up's arrivals kept 5 to 7 agents where 8 to 10 came, and the later
    jobs waited for agents launched after they came. Inside today's burst the size is the paced one
    (`paced_agents` at its rate so far, with half the job's 21 s of spare): more than the quantile's, never
    more than the rest of its usual size; jobs long enough for the configured quantile are not paced."""
    earlier, today = _recurring_burst(random.Random(10), MONDAY_9, days=10, jobs=40, span_s=270)
    paced = 0
    longer = _as_today_s_come(earlier, today, range(8, 38), job_seconds=1800)
    for (seen, target), (_, long) in zip(_as_today_s_come(earlier, today, range(8, 38), 162), longer, strict=True):
        assert target.agents <= 40 - seen, (seen, target)
        if "paced to today's recurring burst" in target.reason:
            paced += 1
            rate = (seen - 1) / (today[seen - 1] - today[0]).total_seconds()
            assert target.agents == min(paced_agents(rate, 60, 21 * PACE_SHARE, 40 - seen), 30), (seen, target)
            assert "q=0.1" in target.reason, target
        assert "paced" not in long.reason, (seen, long)
    assert paced >= 15, paced
