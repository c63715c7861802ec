"""CloudWatch's documented metric-alarm evaluation as a pure function, and the pass-errors alarm the
control-plane module creates (deploy/terraform/modules/control-plane/observability.tf), so that its bounds
can be checked where nothing evaluates alarms: moto stores an alarm and never changes its state.

The rules, from the Amazon CloudWatch User Guide:

- **M out of N** (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html):
  each period's statistic is one data point; the alarm goes to ALARM when at least *Datapoints to Alarm* (M)
  of the most recent *Evaluation Periods* (N) data points breach the threshold, and to OK otherwise. The
  breaching points need not be consecutive.
- **Missing data** (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html):
  CloudWatch retrieves more periods than N (the *evaluation range*; its size "depends on the length of the
  alarm period" and is not given: the page's example retrieves 5 for N = 3, `extra_periods` here). With no
  period missing, the most recent N are evaluated. With some missing but at least N real ones, the N most
  recent real ones, and the missing-data setting does not matter. With fewer than N real ones, all of them
  plus as many filled-in points as make N, filled as `treat_missing_data` says (`notBreaching`: good,
  `breaching`: bad). The page's two tables are tests/deploy/test_pass_errors_alarm.py's cases.
- **Percentiles with few samples** (same guide, "Percentile-based alarms and low data samples"): for a
  percentile p between 0.5 and 1, a period with fewer than 10 / (1 - p) samples (20 for p50) is evaluated
  only with `evaluate_low_sample_count_percentiles = "evaluate"`; with `"ignore"` the alarm keeps its state.
- **When it is evaluated**: every minute, also when the period is longer (the guide says so for alarms on
  connected data sources, whose function "must be able to return timestamps starting on any minute, not
  only multiples of the period length"). `aligned=True` evaluates only at multiples of the period instead;
  the module's stated bounds hold both ways (the tests check both).

Not modelled: the `missing` and `ignore` settings (the module uses neither), high-resolution periods, and
CloudWatch's delay between a data point's publication and its use (about a minute or two; the bounds the
docs state leave it out). A percentile is the nearest-rank one; CloudWatch's is an estimate, and ties
(exactly half the samples failing) are not relied on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Missing = Literal["notBreaching", "breaching"]
State = Literal["OK", "ALARM"]

# Percentile alarms with fewer samples than this in a period are "low sample count" (p between 0.5 and 1).
LOW_SAMPLE_FACTOR = 10.0


@dataclass(frozen=True, slots=True)
class Alarm:
    """A metric alarm on one metric, as PutMetricAlarm takes it (the period in minutes)."""

    period_minutes: int
    statistic: str  # Sum, Maximum, Minimum, SampleCount, or a percentile "pNN"
    threshold: float
    evaluation_periods: int
    datapoints_to_alarm: int
    comparison: Literal["GreaterThanThreshold", "GreaterThanOrEqualToThreshold"] = "GreaterThanThreshold"
    treat_missing_data: Missing = "notBreaching"
    evaluate_low_sample_count_percentiles: Literal["evaluate", "ignore"] = "evaluate"

    def __post_init__(self) -> None:
        if not 1 <= self.datapoints_to_alarm <= self.evaluation_periods:
            raise ValueError("datapoints_to_alarm must be between 1 and evaluation_periods")
        if self.period_minutes < 1:
            raise ValueError("period_minutes must be at least 1")

    def breaches(self, value: float) -> bool:
        if self.comparison == "GreaterThanThreshold":
            return value > self.threshold
        return value >= self.threshold


def _percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100.0 * len(ordered)) - 1)]


def statistic(name: str, values: Sequence[float]) -> float:
    """One period's statistic over its samples (at least one)."""
    if name == "Sum":
        return float(sum(values))
    if name == "Maximum":
        return float(max(values))
    if name == "Minimum":
        return float(min(values))
    if name == "SampleCount":
        return float(len(values))
    if name.startswith("p"):
        return _percentile(values, float(name[1:]))
    raise ValueError(f"unknown statistic {name!r}")


def _low_sample(alarm: Alarm, count: int) -> bool:
    if not alarm.statistic.startswith("p"):
        return False
    p = float(alarm.statistic[1:]) / 100.0
    needed = LOW_SAMPLE_FACTOR / (1.0 - p) if p >= 0.5 else LOW_SAMPLE_FACTOR / p
    return count < needed


def points(samples: Mapping[int, Sequence[float]], alarm: Alarm, at: int, periods: int) -> list[float | None]:
    """The alarm's data points for the `periods` periods that end at minute `at` (excluded), most recent
    first; None where a period holds no sample. `samples`: each minute's published values."""
    return [_window(samples, alarm, at - k * alarm.period_minutes)[0] for k in range(periods)]


def _window(samples: Mapping[int, Sequence[float]], alarm: Alarm, end: int) -> tuple[float | None, int]:
    """The statistic of the period that ends at minute `end` (excluded), and its sample count."""
    values = [v for minute in range(end - alarm.period_minutes, end) for v in samples.get(minute, ())]
    return (statistic(alarm.statistic, values) if values else None), len(values)


def decide(window: Sequence[float | None], alarm: Alarm) -> State:
    """The state for one evaluation, from the evaluation range's data points (most recent first, None for a
    missing one; at least N of them): the missing-data page's three cases."""
    n = alarm.evaluation_periods
    real = [p for p in window if p is not None]
    if len(real) == len(window):
        evaluated = [alarm.breaches(p) for p in real[:n]]
    elif len(real) >= n:
        evaluated = [alarm.breaches(p) for p in real[:n]]  # the N most recent real points; the setting unused
    else:
        filled = alarm.treat_missing_data == "breaching"
        evaluated = [alarm.breaches(p) for p in real] + [filled] * (n - len(real))
    return "ALARM" if sum(evaluated) >= alarm.datapoints_to_alarm else "OK"


def evaluate(
    samples: Mapping[int, Sequence[float]],
    alarm: Alarm,
    minutes: range,
    *,
    extra_periods: int = 2,
    aligned: bool = False,
) -> dict[int, State]:
    """The alarm's state after each evaluation in `minutes` (at minute t, the samples of minutes before t
    are in), starting from OK. `extra_periods`: how many more periods than N CloudWatch retrieves."""
    state: State = "OK"
    states: dict[int, State] = {}
    known: dict[int, tuple[float | None, int]] = {}  # each period once, by the minute it ends

    def window(end: int) -> tuple[float | None, int]:
        if end not in known:
            known[end] = _window(samples, alarm, end)
        return known[end]

    for at in minutes:
        if aligned and at % alarm.period_minutes:
            states[at] = state
            continue
        ends = [at - k * alarm.period_minutes for k in range(alarm.evaluation_periods + extra_periods)]
        if alarm.evaluate_low_sample_count_percentiles == "ignore" and any(
            _low_sample(alarm, window(end)[1]) for end in ends[: alarm.evaluation_periods]
        ):
            states[at] = state  # "ignore the metric while the sample size is low": the state is kept
            continue
        state = decide([window(end)[0] for end in ends], alarm)
        states[at] = state
    return states


def first_alarm(states: Mapping[int, State]) -> int | None:
    """The first minute the alarm is in ALARM (its action runs on that change), or None."""
    return next((at for at, state in sorted(states.items()) if state == "ALARM"), None)


# -- the control-plane module's pass-errors alarm ---------------------------------------------------------


def pass_errors_windows(observe_every_minutes: int, alarm_pass_error_minutes: int) -> int:
    """How many consecutive windows of `observe_every_minutes` must each show failing passes: as many as
    cover alarm_pass_error_minutes from a first failing pass at a window's end, so a pool failing every minute
    alarms no sooner than it did with one-minute windows, and at least two whenever that setting is 2 or more
    (one failing observation is one window). observability.tf computes the same."""
    return math.ceil((alarm_pass_error_minutes - 1) / observe_every_minutes) + 1


def pass_errors_alarm(observe_every_minutes: int, alarm_pass_error_minutes: int) -> Alarm:
    """The alarm the module creates for a pool whose passes the schedule runs at least every
    `observe_every_minutes` (1 without the back-off; idle_observe_minutes with it). One-minute windows keep
    the alarm as it was: a failing pass in each minute (Sum > 0). Longer windows hold many passes of a pool
    observed every minute and one of an idle pool: a window breaches when most of its passes failed (p50 > 0),
    which one failing observation of an idle pool is and a transient failure among a busy pool's passes is
    not; evaluated with few samples, since an idle pool's window has one."""
    windows = pass_errors_windows(observe_every_minutes, alarm_pass_error_minutes)
    return Alarm(
        period_minutes=observe_every_minutes,
        statistic="Sum" if observe_every_minutes == 1 else "p50",
        threshold=0.0,
        evaluation_periods=windows,
        datapoints_to_alarm=windows,
        treat_missing_data="notBreaching",
        evaluate_low_sample_count_percentiles="evaluate",
    )


@dataclass(frozen=True, slots=True)
class Bounds:
    """Minutes from a pool's first failing observation to the alarm's change to ALARM, at the latest
    (CloudWatch's own delay of a minute or two aside), for a pool whose passes fail from then on: observed every
    minute (`every_minute`), or once every window (`idle`, the back-off's idle pool), with windows that slide
    by the minute as CloudWatch's guide describes (`sliding`) or, at worst, aligned to the period (`aligned`).
    An idle pool's first failing observation comes up to a window - 1 minutes after the failure began."""

    every_minute: int
    idle: int
    every_minute_aligned: int
    idle_aligned: int


def pass_errors_bounds(observe_every_minutes: int, alarm_pass_error_minutes: int) -> Bounds:
    """The alarm's bounds (tests/deploy/test_pass_errors_alarm.py finds each by evaluating every onset). A
    window of a pool observed every minute breaches once most of its passes failed, half a window in; an idle
    pool's breaches with its one observation."""
    p = observe_every_minutes
    n = pass_errors_windows(p, alarm_pass_error_minutes)
    if p == 1:
        return Bounds(every_minute=n, idle=n, every_minute_aligned=n, idle_aligned=n)
    return Bounds(
        every_minute=(n - 1) * p + p // 2 + 1,
        idle=(n - 1) * p + 1,
        every_minute_aligned=n * p + p // 2,
        idle_aligned=n * p,
    )
