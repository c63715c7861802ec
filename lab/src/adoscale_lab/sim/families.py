"""Families of generated traces (issue 25): the warm pool is judged on many days it was not built on, drawn
from a seed, rather than on the project's own few traces.

Each trace is one measured day (or night) plus 0-14 earlier days of history, given to the forecast as the
arrival times the pool's passes would have recorded (`simulate(..., history_s=...)`). The draws, per trace:

- `burst`: a scheduled fan-out of 10-60 jobs queued over 1-10 minutes at a time of day between 07:00 and
  17:00, starting 0-10 minutes late on each day (a trigger's lateness varies), on weekdays only or every
  day; in a third of the traces the measured day's burst comes at another time than on the earlier days
  (a day whose shape the history has never seen); plus a trickle of 0-30 jobs an hour from 08:00 to 18:00.
- `trickle`: the trickle alone, 0-30 an hour, weekdays only or every day.
- `night`: a quiet 8-hour night, 22:00 to 06:00, with 0-6 jobs at random, after nights like it.

Jobs last about a drawn mean of 1-30 minutes (normal, 30 % spread, at least 30 s). The day measured is the
last one (its weekday follows from the number of history days: day 0 is a Monday).

`judge` says which traces the median-wait goal applies to: those whose median job falls in a busy period
that is recurring or ongoing, by definitions that only look at the arrivals (never at any policy's result):

- a busy period is where arrivals are dense: `BUSY_MIN_JOBS` consecutive arrivals within `BUSY_GAP_S` (a
  local rate of 60 an hour, twice the family's busiest trickle), the spans of such runs joined;
- a job is in an ongoing one if it arrives at least `NOTICE_S` after the period's first arrival (the time
  to notice a period and start an agent: a cold start and a pass), and
- in a recurring one if, on most of the earlier days of the same kind (weekday or weekend; at least three),
  a busy period covered the same time of day, give or take `BUSY_GAP_S`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from adoscale_lab.sim.policies import SimPolicy
from adoscale_lab.sim.runner import PolicyResult, simulate
from adoscale_lab.sim.workloads import WORK_END_H, WORK_START_H, JobSpec

FAMILIES = ("burst", "trickle", "night")
DAY_S = 86400.0
BUSY_MIN_JOBS = 5
BUSY_GAP_S = 300.0
NOTICE_S = 120.0
NIGHT_START_H = 22
NIGHT_HOURS = 8
MAX_NIGHT_JOBS = 6


@dataclass(frozen=True, slots=True)
class Trace:
    family: str
    seed: int
    jobs: list[JobSpec]  # the measured day's
    history_s: list[float]  # arrival times on the earlier days, seconds from day 0's midnight
    measure_from_s: float
    measure_until_s: float  # the measured day's (or night's) end: the simulation observes all of it
    description: str
    weekdays_only: bool
    job_minutes: float

    @property
    def name(self) -> str:
        return f"{self.family}-{self.seed}"


def _is_weekday(day: int) -> bool:
    return day % 7 < 5


def _durations(rng: random.Random, count: int, mean_s: float) -> list[float]:
    return [max(30.0, rng.gauss(mean_s, mean_s * 0.3)) for _ in range(count)]


def _trickle(rng: random.Random, day: int, per_hour: float) -> list[float]:
    if per_hour <= 0:
        return []
    at: list[float] = []
    t = day * DAY_S + WORK_START_H * 3600.0
    end = day * DAY_S + WORK_END_H * 3600.0
    while True:
        t += rng.expovariate(per_hour / 3600.0)
        if t >= end:
            return at
        at.append(t)


def generate(family: str, seed: int) -> Trace:
    """One trace of `family`, the same for the same seed. Raises KeyError for an unknown family."""
    if family not in FAMILIES:
        raise KeyError(family)
    rng = random.Random(f"{family}:{seed}")
    history_days = rng.randint(0, 14)
    job_minutes = rng.uniform(1.0, 30.0)
    weekdays_only = rng.random() < 0.5
    days: list[list[float]] = []
    if family == "night":
        weekdays_only = False
        nightly = rng.randint(0, MAX_NIGHT_JOBS)
        for day in range(history_days + 1):
            start = day * DAY_S + NIGHT_START_H * 3600.0
            count = nightly if day == history_days else rng.randint(0, MAX_NIGHT_JOBS)
            days.append(sorted(start + rng.uniform(0.0, NIGHT_HOURS * 3600.0) for _ in range(count)))
        description = f"{nightly} job(s) over the night, {history_days} night(s) of history"
        measure_from = history_days * DAY_S + NIGHT_START_H * 3600.0
        measure_until = measure_from + NIGHT_HOURS * 3600.0
    else:
        per_hour = rng.uniform(0.0, 30.0)
        size = rng.randint(10, 60) if family == "burst" else 0
        at_s = rng.uniform(7.0, 17.0) * 3600.0
        spread_s = rng.uniform(60.0, 600.0)
        late_s = rng.uniform(0.0, 600.0)
        new_shape = family == "burst" and rng.random() < 1 / 3
        today_at_s = rng.uniform(7.0, 17.0) * 3600.0 if new_shape else at_s
        for day in range(history_days + 1):
            if weekdays_only and not _is_weekday(day):
                days.append([])
                continue
            arrivals = _trickle(rng, day, per_hour)
            if size:
                start = day * DAY_S + (today_at_s if day == history_days else at_s) + rng.uniform(0.0, late_s)
                arrivals += [start + rng.uniform(0.0, spread_s) for _ in range(size)]
            days.append(sorted(arrivals))
        shape = f", today at {today_at_s / 3600:.2f} h (a new time)" if new_shape else ""
        late = f"late 0-{late_s / 60:.0f} min"
        burst = f"burst of {size} over {spread_s / 60:.1f} min at {at_s / 3600:.2f} h{shape}, {late}; " if size else ""
        kind = "weekday" if _is_weekday(history_days) else "weekend"
        description = (
            f"{burst}trickle {per_hour:.1f}/h; {'weekdays only' if weekdays_only else 'every day'}; "
            f"{history_days} day(s) of history, measured day {history_days} ({kind})"
        )
        measure_from = history_days * DAY_S
        measure_until = measure_from + DAY_S
    today = days[-1]
    jobs = [JobSpec(t, d) for t, d in zip(today, _durations(rng, len(today), job_minutes * 60), strict=True)]
    history = [t for day in days[:-1] for t in day]
    description += f"; jobs of about {job_minutes:.1f} min"
    return Trace(family, seed, jobs, history, measure_from, measure_until, description, weekdays_only, job_minutes)


def busy_periods(arrivals: list[float]) -> list[tuple[float, float]]:
    """Where arrivals are dense: the union of the spans of BUSY_MIN_JOBS consecutive arrivals that fit in
    BUSY_GAP_S (a local rate of 60 an hour or more), as (first, last) arrival."""
    times = sorted(arrivals)
    periods: list[tuple[float, float]] = []
    for i in range(len(times) - BUSY_MIN_JOBS + 1):
        first, last = times[i], times[i + BUSY_MIN_JOBS - 1]
        if last - first > BUSY_GAP_S:
            continue
        if periods and first <= periods[-1][1]:
            periods[-1] = (periods[-1][0], last)
        else:
            periods.append((first, last))
    return periods


@dataclass(frozen=True, slots=True)
class Verdict:
    median_at_s: float | None
    ongoing: bool
    recurring: bool

    @property
    def busy(self) -> bool:
        return self.ongoing or self.recurring

    @property
    def why(self) -> str:
        if self.median_at_s is None:
            return "no jobs"
        kinds = [k for k, on in (("ongoing", self.ongoing), ("recurring", self.recurring)) if on]
        return f"median job at {self.median_at_s % DAY_S / 3600:.2f} h: " + (
            " and ".join(kinds) + " busy period" if kinds else "not in a recurring or ongoing busy period"
        )


def judge(trace: Trace) -> Verdict:
    """Whether the trace's median job (the nearest rank, as `PolicyResult.percentile`) falls in a recurring
    or ongoing busy period, from the arrivals alone."""
    today = sorted(j.queued_at_s for j in trace.jobs)
    if not today:
        return Verdict(None, ongoing=False, recurring=False)
    median = today[round(0.5 * (len(today) - 1))]
    ongoing = any(first + NOTICE_S <= median <= last for first, last in busy_periods(today))
    day = int(trace.measure_from_s // DAY_S)
    by_day: dict[int, list[float]] = {}
    for t in trace.history_s:
        by_day.setdefault(int(t // DAY_S), []).append(t)
    same_kind = [d for d in range(day) if _is_weekday(d) == _is_weekday(day)]
    covered = 0
    for d in same_kind:
        at = median - (day - d) * DAY_S
        periods = busy_periods(by_day.get(d, []))
        covered += any(first - BUSY_GAP_S <= at <= last + BUSY_GAP_S for first, last in periods)
    recurring = len(same_kind) >= 3 and covered * 2 > len(same_kind)
    return Verdict(median, ongoing=ongoing, recurring=recurring)


def family(name: str, count: int, first_seed: int = 1) -> list[Trace]:
    return [generate(name, seed) for seed in range(first_seed, first_seed + count)]


# The pool's max_agents in a family's runs: above any trace's need (60 burst jobs and a 30-an-hour stream of
# 30-minute jobs), so that what is judged is the forecast, not the pool's cap.
MAX_AGENTS = 100


def run(trace: Trace, policy: SimPolicy) -> PolicyResult:
    """The measured day of `trace` under `policy`, observed from its start to its end, the earlier days given
    to the warm pool's history."""
    return simulate(
        trace.jobs,
        policy,
        seed=trace.seed,
        max_agents=MAX_AGENTS,
        measure_from_s=trace.measure_from_s,
        history_s=trace.history_s,
        observe_s=(trace.measure_from_s, trace.measure_until_s),
    )
