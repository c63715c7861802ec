"""Families of generated traces (issue 25): the warm pool is judged on many days it was not built on, drawn
from a seed, rather than on the project's own few traces.

Each trace is one measured day (or night) plus 0-14 earlier days of history, given to the forecast as the
arrival times and job durations the pool's passes would have recorded (`simulate(..., history_s=...,
history_job_s=...)`; the durations drawn from a generator of their own, so that adding them changed no other
draw). The draws, per trace:

- `burst`: a scheduled fan-out of 10-60 jobs queued over 1-10 minutes at a time of day between 07:00 and
  17:00, starting 0-10 minutes late on each day (a trigger's lateness varies), on weekdays only or every
  day; in a third of the traces the measured day's burst comes at another time than on the earlier days
  (a day whose shape the history has never seen); plus a trickle of 0-30 jobs an hour from 08:00 to 18:00.
- `fanout`: the same as `burst` with a trickle of 0-3 an hour, so that the burst carries the day's median
  job and the median-wait goal applies (in `burst`, up to 300 trickle jobs carry it).
- `trickle`: the trickle alone, 0-30 an hour, weekdays only or every day.
- `night`: a quiet 8-hour night, 22:00 to 06:00, with 0-6 jobs at random, after nights like it.

Jobs last about a drawn mean of 1-30 minutes (normal, 30 % spread, at least 30 s). The day measured is the
last one (its weekday follows from the number of history days: day 0 is a Monday).

`judge` says which traces the median-wait goal applies to: those whose median job falls in a recurring or
ongoing busy period, read as the project has read it since issue 14 ("the burst carries the median"): more
than half of the day's jobs are in one. (Read as "the job in the middle by arrival time", a burst of 50
among 100 trickle jobs would qualify because the burst is dense in time, while the median wait is a trickle
job's cold start: no forecast meets that without keeping agents warm for the trickle, which the idle goal
forbids.) The busy periods are the generator's own record of each day's burst, never a policy's result:

- a job is in an ongoing busy period if today's burst began at least `NOTICE_S` before it (the time to
  notice a burst and start an agent: a pass and a cold start), and
- in a recurring one if today's burst comes within `BUSY_GAP_S` of where it was on most of the earlier
  days of the same kind (weekday or weekend; at least three).

`busy_periods` finds dense runs from arrivals alone, for traces that come without that record.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from adoscale_lab.sim.fargate import FargateProfile
from adoscale_lab.sim.policies import SimPolicy
from adoscale_lab.sim.runner import PolicyResult, simulate
from adoscale_lab.sim.workloads import WORK_END_H, WORK_START_H, JobSpec

FAMILIES = ("burst", "fanout", "trickle", "night")
BURSTS = ("burst", "fanout")  # the families with a daily fan-out
DAY_S = 86400.0
BUSY_MIN_JOBS = 5
BUSY_GAP_S = 300.0
NOTICE_S = 120.0
NIGHT_START_H = 22
NIGHT_HOURS = 8
MAX_NIGHT_JOBS = 6
FANOUT_TRICKLE_PER_HOUR = 3.0  # `fanout`: so thin that the burst carries the day's median job


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
    bursts: tuple[tuple[float, float], ...] = ()  # each day's burst, first and last arrival (the generator's truth)
    history_job_s: tuple[float, ...] = ()  # how long each earlier day's job ran, in the order of `history_s`

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
    bursts: list[tuple[float, float]] = []
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
        per_hour = rng.uniform(0.0, FANOUT_TRICKLE_PER_HOUR if family == "fanout" else 30.0)
        size = rng.randint(10, 60) if family in BURSTS else 0
        at_s = rng.uniform(7.0, 17.0) * 3600.0
        spread_s = rng.uniform(60.0, 600.0)
        late_s = rng.uniform(0.0, 600.0)
        new_shape = family in BURSTS and rng.random() < 1 / 3
        today_at_s = rng.uniform(7.0, 17.0) * 3600.0 if new_shape else at_s
        for day in range(history_days + 1):
            if weekdays_only and not _is_weekday(day):
                days.append([])
                continue
            arrivals = _trickle(rng, day, per_hour)
            if size:
                start = day * DAY_S + (today_at_s if day == history_days else at_s) + rng.uniform(0.0, late_s)
                fan_out = sorted(start + rng.uniform(0.0, spread_s) for _ in range(size))
                bursts.append((fan_out[0], fan_out[-1]))
                arrivals += fan_out
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
    # From a generator of their own, so that every other draw of the trace is what it was before the earlier
    # days' durations were drawn at all.
    history_rng = random.Random(f"{family}:{seed}:history-durations")
    history_job_s = tuple(_durations(history_rng, len(history), job_minutes * 60))
    description += f"; jobs of about {job_minutes:.1f} min"
    return Trace(
        family,
        seed,
        jobs,
        history,
        measure_from,
        measure_until,
        description,
        weekdays_only,
        job_minutes,
        tuple(bursts),
        history_job_s,
    )


def rescaled(trace: Trace, factor: float) -> Trace:
    """The trace with its measured day's burst `factor` times the size the earlier days saw, over the same
    span: a fan-out that grew (a matrix gained jobs) or shrank, which the families, one size every day, never
    draw. Bigger: `factor - 1` times as many jobs again, queued uniformly over the burst's span, each as long
    as one of its jobs drawn at random; smaller: each of its jobs kept with probability `factor`. Seeded by
    the trace; a trace with no burst on its measured day is returned as it is."""
    if factor <= 0:
        raise ValueError(f"a burst's scale must be over 0, not {factor:g}")
    if not trace.bursts or trace.bursts[-1][0] < trace.measure_from_s:
        return trace
    first, last = trace.bursts[-1]
    rng = random.Random(f"{trace.name}:rescaled:{factor!r}")
    inside = [j for j in trace.jobs if first <= j.queued_at_s <= last]
    if factor < 1:
        jobs = [j for j in trace.jobs if not first <= j.queued_at_s <= last or rng.random() < factor]
    else:
        extra = [
            JobSpec(rng.uniform(first, last), rng.choice(inside).duration_s)
            for _ in range(round(len(inside) * (factor - 1)))
        ]
        jobs = sorted(trace.jobs + extra, key=lambda j: j.queued_at_s)
    return replace(trace, jobs=jobs, description=f"{trace.description}; today's burst x{factor:g}")


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
    jobs: int
    ongoing: int  # jobs of today's burst queued NOTICE_S or more after its first
    recurring: int  # jobs of today's burst when it recurs

    @property
    def busy(self) -> bool:
        """Whether the busy period carries the median: more than half of the day's jobs are in it."""
        return (self.ongoing + self.recurring - self._both) * 2 > self.jobs if self.jobs else False

    _both: int = 0

    @property
    def why(self) -> str:
        if not self.jobs:
            return "no jobs"
        inside = self.ongoing + self.recurring - self._both
        verdict = "the median's" if self.busy else "not the median's"
        return f"{inside} of {self.jobs} jobs in a recurring or ongoing busy period: {verdict}"


def judge(trace: Trace) -> Verdict:
    """Whether the trace's median wait belongs to a recurring or ongoing busy period: whether more than half
    of its jobs are in one (from the generator's own record of where each day's burst was, never from any
    policy's result). A job is in an ongoing busy period when today's burst began NOTICE_S or more before
    it; in a recurring one when today's burst comes within BUSY_GAP_S of where it was on most earlier days
    of the same kind (weekday or weekend; three at least)."""
    today = [j.queued_at_s for j in trace.jobs]
    day = int(trace.measure_from_s // DAY_S)
    by_day = {int(first // DAY_S): (first, last) for first, last in trace.bursts}
    burst = by_day.get(day)
    if burst is None or not today:
        return Verdict(len(today), 0, 0)
    first, last = burst
    same_kind = [d for d in range(day) if _is_weekday(d) == _is_weekday(day)]
    seen = 0
    for d in same_kind:
        earlier = by_day.get(d)
        if earlier is None:
            continue
        shift = (day - d) * DAY_S
        seen += earlier[0] - BUSY_GAP_S <= first - shift <= earlier[1] + BUSY_GAP_S
    recurs = len(same_kind) >= 3 and seen * 2 > len(same_kind) and seen >= 3
    in_burst = [t for t in today if first <= t <= last]
    ongoing = [t for t in in_burst if t >= first + NOTICE_S]
    recurring = in_burst if recurs else []
    both = len(ongoing) if recurs else 0
    return Verdict(len(today), len(ongoing), len(recurring), both)


def family(name: str, count: int, first_seed: int = 1) -> list[Trace]:
    return [generate(name, seed) for seed in range(first_seed, first_seed + count)]


def idle_floor_minutes(trace: Trace, profile: FargateProfile | None = None) -> float:
    """The fewest idle agent-minutes any policy can have on `trace` in the simulator: each job runs on an
    agent of its own (an agent runs one job and exits), which idles from its task's launch until it is
    online, at least the profile's shortest start-up (30 s to RUNNING and 10 s to connect by default), and
    is billed a minute at least (`simulate`'s agent-minutes). Where this is over half the busy minutes, the
    idle goal is out of reach for every policy, not missed by the forecast."""
    fargate = profile or FargateProfile()
    return _startup_floor_minutes(trace, fargate.running_range_s()[0] + fargate.agent_connect_s[0])


def expected_idle_floor_minutes(trace: Trace, profile: FargateProfile | None = None) -> float:
    """`idle_floor_minutes` at the profile's mean start-up rather than its shortest (45 s to RUNNING and 15 s
    to connect by default): the idle every policy pays on average on `trace`, since each job's agent draws
    its start-up from the same distribution whatever the policy (the draw does not depend on when or why
    the agent was launched), and a minute's billing is at least its mean (Jensen). Where this is over half
    the busy minutes, only start-up draws luckier than the platform's average meet the idle goal: it is out
    of reach on average, whatever the forecast does."""
    fargate = profile or FargateProfile()
    running, connect = fargate.running_range_s(), fargate.agent_connect_s
    return _startup_floor_minutes(trace, (running[0] + running[1]) / 2 + (connect[0] + connect[1]) / 2)


def _startup_floor_minutes(trace: Trace, startup_s: float) -> float:
    return sum(max(60.0, startup_s + j.duration_s) - j.duration_s for j in trace.jobs) / 60


# The pool's max_agents in a family's runs: above any trace's need (60 burst jobs and a 30-an-hour stream of
# 30-minute jobs), so that what is judged is the forecast, not the pool's cap.
MAX_AGENTS = 100


def run(trace: Trace, policy: SimPolicy, *, event_driven: bool = True) -> PolicyResult:
    """The measured day of `trace` under `policy`, observed from its start to its end, the earlier days given
    to the warm pool's history. `event_driven=False` runs every pass and read through HTTP (`simulate`)."""
    return simulate(
        trace.jobs,
        policy,
        seed=trace.seed,
        max_agents=MAX_AGENTS,
        measure_from_s=trace.measure_from_s,
        history_s=trace.history_s,
        history_job_s=trace.history_job_s,
        observe_s=(trace.measure_from_s, trace.measure_until_s),
        event_driven=event_driven,
    )
