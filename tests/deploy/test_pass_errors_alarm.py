"""The pass-errors alarm under the schedule's back-off (issue 25 item 3, H3): does it fire, and how soon, for a
pool observed every minute and for an idle one observed every idle_observe_minutes, and never on one transient
failure? moto stores alarms and never evaluates them, so CloudWatch's documented evaluation rules are encoded
in `adoscale_lab.alarms` (its docstring cites the pages) and checked here against the pages' own tables; the
alarm's settings are the ones the module creates (tests/deploy/test_observability.py asserts them with
`terraform test`). The idle pool's observations come from the product's own back-off rule
(`adoscale.workflow.backoff.due`), the minutes its tick observes idle pools on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adoscale.workflow.backoff import IDLE_EVERY_MINUTES, due
from adoscale_lab.alarms import (
    Alarm,
    Missing,
    decide,
    evaluate,
    first_alarm,
    pass_errors_alarm,
    pass_errors_bounds,
    pass_errors_windows,
)

ALARM_MINUTES = 5  # the module's alarm_pass_error_minutes default
START = 28_000_000  # a Unix minute (in 2023): the back-off's due minutes are Unix minutes
HORIZON = 480

# The missing-data page's tables (alarms-and-missing-data.html, "How alarm state is evaluated when data is
# missing"): 5 data points retrieved, oldest first ("0" not breaching, "X" breaching, "-" missing), and the
# state for NOT BREACHING and BREACHING.
MISSING_DATA_TABLES = [
    # Datapoints to Alarm 3 of Evaluation Periods 3
    (3, "0 - X - X", "OK", "OK"),
    (3, "0 - - - -", "OK", "OK"),
    (3, "- - - - -", "OK", "ALARM"),
    (3, "0 X X - X", "ALARM", "ALARM"),
    (3, "- - - - X", "OK", "ALARM"),
    (3, "X - - - -", "OK", "ALARM"),
    # 2 of 3
    (2, "0 - X - X", "ALARM", "ALARM"),
    (2, "0 0 X 0 X", "ALARM", "ALARM"),
    (2, "0 - X - -", "OK", "ALARM"),
    (2, "- - - - 0", "OK", "ALARM"),
    (2, "- - - - X", "OK", "ALARM"),
]


@pytest.mark.parametrize(("m", "points", "not_breaching", "breaching"), MISSING_DATA_TABLES)
def test_the_model_gives_the_states_cloudwatchs_missing_data_tables_give(
    m: int, points: str, not_breaching: str, breaching: str
) -> None:
    window = [None if p == "-" else (1.0 if p == "X" else 0.0) for p in reversed(points.split())]
    columns: tuple[tuple[Missing, str], ...] = (("notBreaching", not_breaching), ("breaching", breaching))
    for missing, expected in columns:
        alarm = Alarm(1, "Maximum", 0.0, evaluation_periods=3, datapoints_to_alarm=m, treat_missing_data=missing)
        assert decide(window, alarm) == expected, (points, missing)


def minute(at: int) -> datetime:
    return datetime.fromtimestamp(at * 60 + 1, tz=UTC)  # the tick runs a second or so into its minute


def idle_pool(every: int, failing_from: int, until: int | None = None) -> dict[int, list[float]]:
    """An idle pool's PassErrors: one pass on each minute the back-off observes idle pools, failing from
    `failing_from` (to `until`, excluded)."""
    return {
        at: [1.0 if failing_from <= at and (until is None or at < until) else 0.0]
        for at in range(START, START + HORIZON)
        if due(minute(at), every)
    }


def busy_pool(failing_from: int, rounds: int = 1, retries: int = 0) -> dict[int, list[float]]:
    """A pool observed every minute (`rounds` passes a minute), failing from `failing_from`; a failing pass
    publishes once more for each of the workflow's retries (the handler publishes before it raises)."""
    samples: dict[int, list[float]] = {}
    for at in range(START, START + HORIZON):
        failing = at >= failing_from
        samples[at] = ([1.0] * (1 + retries) if failing else [0.0]) * rounds
    return samples


def fired(samples: dict[int, list[float]], alarm: Alarm, *, aligned: bool = False, extra: int = 2) -> int | None:
    return first_alarm(
        evaluate(samples, alarm, range(START + 1, START + HORIZON), extra_periods=extra, aligned=aligned)
    )


def test_the_alarm_as_it_was_never_fires_for_an_idle_pool_whose_every_pass_fails() -> None:
    """The gap: 5 one-minute periods, each with a failing pass, and an idle pool's pass every 10 minutes.
    Fewer than 5 real data points in the evaluation range: the rest are filled as not breaching, one
    breaching point in five. (It would fire only if CloudWatch's evaluation range held 41 minutes or more:
    5 observations; the page's example retrieves N + 2 periods.)"""
    before = Alarm(1, "Sum", 0.0, evaluation_periods=5, datapoints_to_alarm=5)
    for extra in range(0, 36):
        assert fired(idle_pool(IDLE_EVERY_MINUTES, START), before, extra=extra) is None, extra
    assert fired(busy_pool(START + 3), before) == START + 3 + 5  # a pool observed every minute: 5 minutes


@pytest.mark.parametrize(
    ("every", "minutes"),
    [(IDLE_EVERY_MINUTES, ALARM_MINUTES), (1, ALARM_MINUTES), (5, 5), (3, 5), (2, 5), (10, 30), (60, 5)],
)
def test_the_alarm_fires_within_its_bound_for_each_cadence_and_the_bound_is_reached(every: int, minutes: int) -> None:
    """For every onset in two windows, the alarm changes to ALARM within the stated bound after the first
    failing observation, for an idle pool and a pool observed every minute (1 or 4 rounds a minute, with or
    without retries publishing again), whichever size CloudWatch's evaluation range has, with windows that
    slide by the minute or at worst aligned to the period; and some onset takes the whole bound."""
    alarm = pass_errors_alarm(every, minutes)
    bounds = pass_errors_bounds(every, minutes)
    for aligned in (False, True):
        idle_worst = busy_worst = 0
        for onset in range(START + 60, START + 60 + 2 * every):
            idle = idle_pool(every, onset)
            first = min(at for at in idle if at >= onset)
            for extra in (0, 2, 7):
                at = fired(idle, alarm, aligned=aligned, extra=extra)
                assert at is not None, (onset, aligned, extra)
                idle_worst = max(idle_worst, at - first)
            for rounds, retries in ((1, 0), (4, 0), (1, 2)):
                at = fired(busy_pool(onset, rounds, retries), alarm, aligned=aligned)
                assert at is not None, (onset, aligned, rounds, retries)
                busy_worst = max(busy_worst, at - onset)
        expected = (bounds.idle_aligned, bounds.every_minute_aligned) if aligned else (bounds.idle, bounds.every_minute)
        assert (idle_worst, busy_worst) == expected, aligned


def test_the_defaults_bounds() -> None:
    """What docs/operations.md states for the module's defaults (idle_observe_minutes 10,
    alarm_pass_error_minutes 5): two 10-minute windows with the back-off; five 1-minute windows without."""
    assert pass_errors_windows(IDLE_EVERY_MINUTES, ALARM_MINUTES) == 2
    backoff = pass_errors_bounds(IDLE_EVERY_MINUTES, ALARM_MINUTES)
    assert (backoff.idle, backoff.every_minute) == (11, 16)
    assert (backoff.idle_aligned, backoff.every_minute_aligned) == (20, 25)
    plain = pass_errors_bounds(1, ALARM_MINUTES)
    assert (plain.idle, plain.every_minute) == (5, 5)


@pytest.mark.parametrize("every", [1, 2, 5, IDLE_EVERY_MINUTES, 60])
def test_one_transient_failure_never_fires(every: int) -> None:
    """One failing observation of an idle pool (retried in its minute, or not), or one failing pass of a
    pool observed every minute, at any minute of a window, evaluated either way: no alarm."""
    alarm = pass_errors_alarm(every, ALARM_MINUTES)
    for when in range(START + 60, START + 60 + every):
        idle = idle_pool(every, START, until=START)  # all good
        observed = min(at for at in idle if at >= when)
        idle[observed] = [1.0]
        retried = dict(idle)
        retried[observed] = [1.0, 0.0]  # the workflow's retry succeeded
        busy = busy_pool(START + HORIZON)
        busy[when] = [1.0, 0.0, 0.0, 0.0]
        for samples in (idle, retried, busy):
            for aligned in (False, True):
                assert fired(samples, alarm, aligned=aligned) is None, (when, aligned)


def test_a_busy_pool_whose_passes_mostly_succeed_does_not_fire_where_a_failure_a_window_would() -> None:
    """Why p50 and not Maximum in long windows: a pool observed every minute with one failing pass in each
    10-minute window (ADO's retried 503s publish one each) keeps working; an alarm on any failure in two
    consecutive windows would fire on it, this one does not. One in three failing: no alarm either."""
    blips = busy_pool(START + HORIZON)
    for at in range(START, START + HORIZON, 7):
        blips[at] = [1.0]
    third = {at: [1.0 if at % 3 == 0 else 0.0] for at in range(START, START + HORIZON)}
    alarm = pass_errors_alarm(IDLE_EVERY_MINUTES, ALARM_MINUTES)
    for samples in (blips, third):
        assert fired(samples, alarm) is None
    any_failure = Alarm(IDLE_EVERY_MINUTES, "Maximum", 0.0, evaluation_periods=2, datapoints_to_alarm=2)
    assert fired(blips, any_failure) is not None


def test_an_idle_pool_needs_the_percentile_evaluated_on_few_samples() -> None:
    """p50 with fewer than 20 samples in a period: with `ignore`, CloudWatch keeps the alarm's state, and an
    idle pool's window has one sample: it would never fire. The module sets `evaluate`."""
    alarm = pass_errors_alarm(IDLE_EVERY_MINUTES, ALARM_MINUTES)
    assert alarm.evaluate_low_sample_count_percentiles == "evaluate"
    ignoring = Alarm(
        alarm.period_minutes,
        alarm.statistic,
        alarm.threshold,
        alarm.evaluation_periods,
        alarm.datapoints_to_alarm,
        evaluate_low_sample_count_percentiles="ignore",
    )
    assert fired(idle_pool(IDLE_EVERY_MINUTES, START), ignoring) is None
    assert fired(idle_pool(IDLE_EVERY_MINUTES, START), alarm) is not None


def test_the_alarm_returns_to_ok_once_a_window_of_passes_succeeds() -> None:
    """The failure fixed: the next idle window whose pass succeeds ends the ALARM state (notBreaching keeps it
    OK through a window with no pass at all, a lost tick)."""
    alarm = pass_errors_alarm(IDLE_EVERY_MINUTES, ALARM_MINUTES)
    samples = idle_pool(IDLE_EVERY_MINUTES, START, until=START + 60)
    states = evaluate(samples, alarm, range(START + 1, START + HORIZON))
    alarmed = [at for at, state in states.items() if state == "ALARM"]
    assert alarmed and max(alarmed) < START + 60 + IDLE_EVERY_MINUTES + 1
