"""The predictive forecast's days in the pool's own time zone (`WarmPolicy.timezone`, issue 25).

The forecast compares the same time of day on earlier days and tells weekdays from weekend days; in UTC, a
team whose working day starts on another UTC day (Sydney's Monday 09:00 is Sunday 22:00 UTC) was compared
with the wrong days, and every daylight-saving change moved its bursts by an hour against the clock it was
compared on. Each case below asserts both what the pool's zone gives and what UTC gave, so that the test
shows the failure it guards against.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from adoscale.config import parse_config
from adoscale.control.decide import decide
from adoscale.control.observe import Observation
from adoscale.history import HistoryRecord
from adoscale.history.base import trim
from adoscale.scaling import PoolSnapshot
from adoscale.scaling.warm import (
    Demand,
    WarmMode,
    WarmPolicy,
    _earlier_days,
    _midnight,
    expected_arrivals,
    history_days,
    warm_target,
)
from tests.config.test_config import GOOD

SYDNEY = ZoneInfo("Australia/Sydney")
BERLIN = ZoneInfo("Europe/Berlin")
POLICY = WarmPolicy(mode=WarmMode.PREDICTIVE, max_agents=20, quantile=0.85, window_s=3600, horizon_s=90)
BURST = 12  # jobs, 10 s apart, at 09:00 local
FIRST_HORIZON = 10  # of them within the 90 s horizon from the first


def _bursts(days: list[datetime]) -> list[datetime]:
    """BURST jobs from each of `days` (aware, local 09:00), in UTC as the history keeps them."""
    return sorted((day + timedelta(seconds=10 * i)).astimezone(UTC) for day in days for i in range(BURST))


def _until(arrivals: list[datetime], now: datetime) -> list[datetime]:
    return [at for at in arrivals if at <= now]


# -- Sydney: the working week starts on a UTC Sunday ---------------------------------------------------------

# Three weeks of weekday bursts at 09:00 in Sydney (summer time, UTC+11 all November): Monday 9 to Friday 27.
SYDNEY_WEEKDAYS = _bursts(
    [datetime(2026, 11, day, 9, tzinfo=SYDNEY) for day in range(9, 28) if datetime(2026, 11, day).weekday() < 5]
)


def test_a_sydney_monday_finds_agents_warm_for_its_09_00_burst() -> None:
    """Monday 09:00 in Sydney is Sunday 22:00 UTC. Compared on its own days, the last seven local days hold
    five Mondays-to-Fridays with the burst. In UTC it was a Sunday, compared with UTC weekend days: half of
    them (UTC Sunday evenings) are Sydney's Mondays, half (UTC Saturday evenings) its quiet Sundays, so the
    burst recurred on two of four and no agent was warm."""
    now = datetime(2026, 11, 23, 8, 59, 30, tzinfo=SYDNEY).astimezone(UTC)
    assert now.weekday() == 6  # Sunday, in UTC
    history = _until(SYDNEY_WEEKDAYS, now)
    local = replace(POLICY, timezone="Australia/Sydney")
    expected, why = expected_arrivals(local, history, now)
    # The burst's first horizon (09:00:00 to 09:01:30, ten jobs) had begun by now and the lead on five of the
    # seven local days, and not yet today: a burst due.
    assert (expected, why) == (FIRST_HORIZON, "a burst due: begun in this band on most days, not yet today")
    assert warm_target(local, Demand(arrivals=history), now).agents >= FIRST_HORIZON
    assert expected_arrivals(POLICY, history, now)[0] == 0  # UTC: recurring on 2 of 4 weekend days
    assert warm_target(POLICY, Demand(arrivals=history), now).agents == 0


def test_a_sydney_saturday_keeps_no_agent_for_the_weekday_burst() -> None:
    """Saturday 09:00 in Sydney is Friday 22:00 UTC: a weekday in UTC, compared with the last seven UTC days,
    five of which held the burst at that hour (Sydney's weekdays), so agents were warmed for a burst that
    never comes at the weekend. In the pool's zone it is compared with Sydney's weekend days, all quiet."""
    now = datetime(2026, 11, 28, 8, 59, 30, tzinfo=SYDNEY).astimezone(UTC)
    assert now.weekday() == 4  # Friday, in UTC
    history = _until(SYDNEY_WEEKDAYS, now)
    local = replace(POLICY, timezone="Australia/Sydney")
    assert expected_arrivals(local, history, now)[0] == 0
    assert warm_target(local, Demand(arrivals=history), now).agents == 0
    assert warm_target(POLICY, Demand(arrivals=history), now).agents >= FIRST_HORIZON  # UTC: five weekdays of seven


def test_a_sydney_burst_that_came_earlier_in_the_local_day_is_not_expected_again() -> None:
    """Each of the last seven days: 20 jobs at 14:00 in Sydney (03:00 UTC). Today they came at 09:00 (22:00
    UTC, the UTC day before): at 13:59 the local day has had the burst most days had by now, and no agent
    is kept for it. From the UTC midnight (11:00 in Sydney) today had not had it yet, and 20 agents were
    kept for nothing."""
    earlier = [
        (datetime(2026, 11, day, 14, tzinfo=SYDNEY) + timedelta(seconds=3 * i)).astimezone(UTC)
        for day in range(16, 23)  # the seven days before Monday 23
        for i in range(20)
    ]
    today = [(datetime(2026, 11, 23, 9, tzinfo=SYDNEY) + timedelta(seconds=3 * i)).astimezone(UTC) for i in range(20)]
    now = datetime(2026, 11, 23, 13, 59, tzinfo=SYDNEY).astimezone(UTC)
    local = replace(POLICY, timezone="Australia/Sydney")
    assert warm_target(local, Demand(arrivals=sorted(earlier)), now).agents >= FIRST_HORIZON  # not come yet
    assert warm_target(local, Demand(arrivals=sorted(earlier + today)), now).agents == 0
    assert warm_target(POLICY, Demand(arrivals=sorted(earlier + today)), now).agents >= FIRST_HORIZON  # UTC


# -- Berlin: the spring change moves a 09:00 burst from 08:00 to 07:00 UTC ---------------------------------

# 09:00 in Berlin every day from Monday 15 to Saturday 27 March 2027 (CET, 08:00 UTC); on Sunday 28 March
# the clocks go from 02:00 CET to 03:00 CEST, and 09:00 is 07:00 UTC from then on.
BERLIN_WINTER = _bursts([datetime(2027, 3, day, 9, tzinfo=BERLIN) for day in range(15, 28)])


def test_after_the_spring_change_a_09_00_burst_is_served_at_07_00_utc_and_no_agent_waits_at_08_00() -> None:
    monday_7 = datetime(2027, 3, 29, 7, tzinfo=UTC)
    assert monday_7.astimezone(BERLIN).hour == 9
    local = replace(POLICY, timezone="Europe/Berlin")
    before = monday_7 - timedelta(seconds=30)
    assert warm_target(local, Demand(arrivals=BERLIN_WINTER), before).agents >= FIRST_HORIZON
    assert warm_target(POLICY, Demand(arrivals=BERLIN_WINTER), before).agents == 0  # UTC: served cold
    # Today's burst came at 07:00 UTC (09:00 local). Around 08:00 UTC (10:00 local) nothing is expected, with
    # or without it; compared in UTC, an agent was kept for the hour-old burst where the earlier days had it.
    today = _bursts([monday_7.astimezone(BERLIN)])
    for minutes in range(-5, 6):
        now = datetime(2027, 3, 29, 8, tzinfo=UTC) + timedelta(minutes=minutes) - timedelta(seconds=30)
        for arrivals in (BERLIN_WINTER, BERLIN_WINTER + today):
            assert warm_target(local, Demand(arrivals=arrivals), now).agents == 0, (now, len(arrivals))
    eight = datetime(2027, 3, 29, 8, tzinfo=UTC) - timedelta(seconds=30)
    assert (
        warm_target(POLICY, Demand(arrivals=BERLIN_WINTER), eight).agents >= FIRST_HORIZON
    )  # UTC: warmed an hour late
    # The Sunday of the change itself is a weekend day compared with the weekend days before it (Saturday 27,
    # Sunday 21, Saturday 20): its 09:00 is 07:00 UTC too.
    sunday_7 = datetime(2027, 3, 28, 7, tzinfo=UTC) - timedelta(seconds=30)
    assert warm_target(local, Demand(arrivals=_until(BERLIN_WINTER, sunday_7)), sunday_7).agents >= FIRST_HORIZON


def test_a_time_the_change_skips_or_repeats_is_read_with_the_offset_before_the_change() -> None:
    """02:29:30 does not exist in Berlin on 28 March 2027: the earlier day's instant is 01:29:30 UTC (03:29:30
    summer time), 24 hours after the day before's. On 25 October 2026 it exists twice: the first (00:29:30
    UTC, summer time) is taken. The days are in UTC's own tzinfo, as the history's arrivals are (a
    comparison across tzinfo objects is many times slower)."""
    history = [datetime(2026, 10, 1, tzinfo=UTC)]
    spring = datetime(2027, 3, 29, 2, 29, 30, tzinfo=BERLIN)
    days = list(_earlier_days(spring, 2, history, timedelta(0), BERLIN))
    assert days == [datetime(2027, 3, 28, 1, 29, 30, tzinfo=UTC), datetime(2027, 3, 27, 1, 29, 30, tzinfo=UTC)]
    assert all(day.tzinfo is UTC for day in days)
    autumn = datetime(2026, 10, 26, 2, 29, 30, tzinfo=BERLIN)
    days = list(_earlier_days(autumn, 2, history, timedelta(0), BERLIN))
    assert days == [datetime(2026, 10, 25, 0, 29, 30, tzinfo=UTC), datetime(2026, 10, 24, 0, 29, 30, tzinfo=UTC)]


def test_the_history_s_first_day_is_the_local_day_of_its_oldest_arrival() -> None:
    """A history whose oldest arrival is Monday 9 November 09:00 in Sydney (Sunday 8, 22:00 UTC) starts on the
    local Monday: a forecast on Monday 16 at 23:30 reads back to Monday 9 and not to Sunday 8, whose 23:30
    (12:30 UTC) is before the history's first local midnight (13:00 UTC) though after its first UTC one; a
    day read as covered and empty is a day that saw nothing, and it outvotes the days that saw a burst."""
    first = datetime(2026, 11, 9, 9, tzinfo=SYDNEY).astimezone(UTC)
    now = datetime(2026, 11, 16, 23, 30, tzinfo=SYDNEY).astimezone(UTC)
    for back in (timedelta(0), None):  # from the same time, or from the day's midnight (`came_early`)
        days = list(_earlier_days(now, 8, [first], back, SYDNEY))
        assert [d.astimezone(SYDNEY).day for d in days] == [15, 14, 13, 12, 11, 10, 9], back
    assert _midnight(days[-1], SYDNEY) == datetime(2026, 11, 9, tzinfo=SYDNEY)


def test_a_weekend_only_burst_in_sydney_is_served_on_its_weekend() -> None:
    """Bursts at 09:00 in Sydney on Saturdays and Sundays only, for two weeks. On the third Sunday the local
    weekend days (four) all had it. In UTC, Sunday 09:00 is Saturday 22:00: compared with UTC weekend days,
    half of them are Sydney's Sundays and half its Mondays, and no agent was warm."""
    weekends = _bursts([datetime(2026, 11, day, 9, tzinfo=SYDNEY) for day in (7, 8, 14, 15, 21)])
    now = datetime(2026, 11, 22, 8, 59, 30, tzinfo=SYDNEY).astimezone(UTC)
    local = replace(POLICY, timezone="Australia/Sydney")
    assert warm_target(local, Demand(arrivals=weekends), now).agents >= FIRST_HORIZON
    assert warm_target(POLICY, Demand(arrivals=weekends), now).agents == 0
    # A weekday compares with the last seven days, weekend or not: two of seven do not recur.
    assert warm_target(local, Demand(arrivals=weekends), now + timedelta(days=1)).agents == 0


def test_earlier_days_are_counted_from_their_local_midnight_for_the_day_s_shape() -> None:
    """New York (UTC-5 in November): each of the last seven days had a burst at 20:00 and one at 14:00;
    today's 14:00 burst came at 10:00. At 13:59 the local day has had what the earlier local days had by
    then (one burst), and no agent is kept for 14:00. Counted from the UTC midnight (19:00 the evening
    before), the earlier days had two by then (the evening's and 14:00's) and the burst looked still due."""
    new_york = ZoneInfo("America/New_York")

    def burst(day: int, hour: int) -> list[datetime]:
        start = datetime(2026, 11, day, hour, tzinfo=new_york)
        return [(start + timedelta(seconds=3 * i)).astimezone(UTC) for i in range(20)]

    earlier = [at for day in range(17, 24) for hour in (14, 20) for at in burst(day, hour)]
    now = datetime(2026, 11, 24, 13, 59, tzinfo=new_york).astimezone(UTC)  # a Tuesday
    local = replace(POLICY, timezone="America/New_York")
    assert warm_target(local, Demand(arrivals=sorted(earlier)), now).agents >= FIRST_HORIZON  # not come yet
    assert warm_target(local, Demand(arrivals=sorted(earlier + burst(24, 10))), now).agents == 0


def test_the_history_keeps_the_earliest_local_day_the_forecast_reads_across_an_autumn_change() -> None:
    """Sunday 8 November 2026, 23:30 in Berlin: the weekend's 14th day back is Sunday 25 October, the autumn
    change, whose midnight (summer time) is 15 days and 30 minutes ago. The history trimmed to 14 days and
    one of slack (UTC's) lost that day's first half hour; a zone's one more day keeps it."""
    now = datetime(2026, 11, 8, 23, 30, tzinfo=BERLIN).astimezone(UTC)
    early = datetime(2026, 10, 25, 0, 10, tzinfo=BERLIN).astimezone(UTC)
    days = list(_earlier_days(now, 7, [early], None, BERLIN))
    assert days[-1].astimezone(BERLIN).date() == early.astimezone(BERLIN).date()
    assert trim(HistoryRecord(arrivals=[early]), now, history_days(7)).arrivals == []
    assert trim(HistoryRecord(arrivals=[early]), now, history_days(7, "Europe/Berlin")).arrivals == [early]
    assert history_days(7, "UTC") == history_days(7) == 14


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Antarctica/Troll"]),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)),
    st.integers(min_value=1, max_value=14),
)
def test_every_day_the_forecast_reads_is_inside_what_the_history_keeps(zone: str, at: datetime, days: int) -> None:
    """The earliest instant read (the oldest earlier day's local midnight, `came_early`) is newer than what
    `trim` keeps: `history_days(days, zone)` and one day more, whatever the zone's daylight-saving shifts
    (two hours on Antarctica/Troll)."""
    now = at.replace(tzinfo=UTC)
    tz = None if zone == "UTC" else ZoneInfo(zone)
    read = list(_earlier_days(now, days, [now - timedelta(days=40)], None, tz))
    kept_from = now - timedelta(days=history_days(days, zone) + 1)
    assert all(_midnight(then, tz) > kept_from for then in read)  # none on a weekend with one day: nothing


# -- UTC unchanged ---------------------------------------------------------------------------------------------

MONDAY = datetime(2026, 11, 23, 9, tzinfo=UTC)


@st.composite
def _days_and_now(draw: st.DrawFn) -> tuple[list[datetime], datetime]:
    """Arrivals over the 15 days before a time on any day of the week, and that time: bursts that recur at
    about that time of day on some of the days (or on most), one-offs, and a trickle, so that every estimate
    (recurring, due, came early, in progress, trickle) decides some of the cases."""
    # Any day of the week at any time of day: in a zone hours from UTC, many of them are another local day.
    base = MONDAY + timedelta(days=draw(st.integers(min_value=0, max_value=6)), minutes=draw(st.integers(0, 1439)))
    bursts = draw(
        st.lists(
            st.tuples(
                st.sets(st.integers(min_value=0, max_value=15), min_size=1, max_size=14),
                st.integers(min_value=-40, max_value=40),  # minutes from the time of day
                st.integers(min_value=1, max_value=20),  # jobs
                st.integers(min_value=1, max_value=30),  # seconds apart
            ),
            max_size=4,
        )
    )
    trickle = draw(st.lists(st.integers(min_value=1, max_value=15 * 86400), max_size=40))
    if bursts and draw(st.booleans()):  # just before, or in, a burst's time of day
        now = base + timedelta(minutes=bursts[0][1], seconds=draw(st.integers(min_value=-400, max_value=120)))
    else:
        now = base + timedelta(seconds=draw(st.integers(min_value=-1800, max_value=1800)))
    arrivals = {
        base - timedelta(days=d) + timedelta(minutes=minute, seconds=s)
        for days, minute, size, gap in bursts
        for d in days
        for s in range(0, size * gap, gap)
    } | {base - timedelta(seconds=s) for s in trickle}
    return sorted(at for at in arrivals if at <= now), now


_policies = st.builds(
    lambda days, horizon, window: replace(POLICY, seasonal_days=days, horizon_s=horizon, window_s=window),
    st.integers(min_value=1, max_value=7),
    st.sampled_from([60.0, 90.0, 300.0]),
    st.sampled_from([600.0, 3600.0]),
)


@settings(max_examples=150, deadline=None)
@given(_policies, _days_and_now())
def test_the_zone_path_in_a_zone_without_offset_gives_what_utc_gives(
    policy: WarmPolicy, case: tuple[list[datetime], datetime]
) -> None:
    """UTC keeps the 24-hour arithmetic it always had (the forecast's own code, unchanged); the local-day path
    in Etc/UTC (the same clock, by way of zoneinfo) must agree with it on every estimate and reason."""
    times, now = case
    assert expected_arrivals(replace(policy, timezone="Etc/UTC"), times, now) == expected_arrivals(policy, times, now)


@settings(max_examples=150, deadline=None)
@given(_policies, _days_and_now(), st.sampled_from([-11, -5, 3, 10, 14]))
def test_a_fixed_offset_zone_is_utc_with_its_clock_moved(
    policy: WarmPolicy, case: tuple[list[datetime], datetime], hours: int
) -> None:
    """In a zone `hours` ahead of UTC all year (Etc/GMT-10 is UTC+10: POSIX signs), the forecast sees what a
    UTC pool sees with every arrival and the clock moved by `hours`: its days, weekends and midnights are
    those of the moved clock, and nothing else in the forecast knows the time of day."""
    times, now = case
    zone = f"Etc/GMT{-hours:+d}"
    moved = timedelta(hours=hours)
    assert expected_arrivals(replace(policy, timezone=zone), times, now) == expected_arrivals(
        policy, [at + moved for at in times], now + moved
    )


# -- From the configuration to the pass's decision ------------------------------------------------------------


def test_a_pool_configured_in_its_zone_warms_for_its_monday_and_keeps_its_history() -> None:
    """The configuration's `timezone` reaches the pass: `decide` sizes the warm pool on Sydney's days, and
    trims the history to its zone's days (one more than UTC's)."""
    warm = "    warm_pool: {mode: predictive, max_agents: 20, quantile: 0.85, window_seconds: 3600, timezone: %s}\n"
    now = datetime(2026, 11, 23, 8, 59, 30, tzinfo=SYDNEY).astimezone(UTC)
    old = now - timedelta(days=15, hours=12)  # kept in a zone (16 days), not in UTC (15)
    history = [old, *_until(SYDNEY_WEEKDAYS, now)]
    for zone, agents in (("Australia/Sydney", FIRST_HORIZON), ("UTC", 0)):
        pool = parse_config(GOOD + warm % zone, "c.yaml").pools[0]
        snapshot = PoolSnapshot(pool=pool.name, now=now, queued=0, running=0, agents=(), tasks=())
        observation = Observation(pool.name, 1, snapshot, (), (), history=HistoryRecord(arrivals=list(history)))
        decision = decide(pool, observation)
        assert decision.warm is not None and decision.history is not None
        assert decision.warm.agents >= agents and (agents > 0 or decision.warm.agents == 0), decision.warm
        assert (old in decision.history.arrivals) is (zone != "UTC")


@settings(max_examples=300, deadline=None)
@given(
    at=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
    oldest_hours_before=st.floats(min_value=0, max_value=40 * 24),
    days=st.integers(min_value=1, max_value=14),
    back_s=st.none() | st.floats(min_value=0, max_value=6 * 3600),
)
def test_utc_s_days_by_arithmetic_are_the_days_the_zone_s_walk_finds(
    at: datetime, oldest_hours_before: float, days: int, back_s: float | None
) -> None:
    """Without a `timezone` the earlier days are worked out by arithmetic (24 hours apart); the walk a zone
    takes, day by day, must find the same days when the zone is UTC itself."""
    now = at.replace(tzinfo=UTC)
    oldest = now - timedelta(hours=oldest_hours_before)
    back = None if back_s is None else timedelta(seconds=back_s)
    by_arithmetic = list(_earlier_days(now, days, [oldest, now], back, None))
    walked = list(_earlier_days(now, days, [oldest, now], back, ZoneInfo("UTC")))
    assert by_arithmetic == walked
    assert all(day.tzinfo is UTC for day in by_arithmetic)
