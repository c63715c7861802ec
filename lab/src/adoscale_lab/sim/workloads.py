"""Job arrivals for the simulator: the seed's day, a burst, or a CSV trace."""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from pathlib import Path

WORK_START_H = 8
WORK_END_H = 18


@dataclass(frozen=True, slots=True)
class JobSpec:
    queued_at_s: float  # seconds from the start of the simulation (midnight of day 0)
    duration_s: float
    demands: tuple[str, ...] = ()


def seed_day(days: int, rng: random.Random, jobs_per_day: float = 100.0, job_s: float = 300.0) -> list[JobSpec]:
    """The seed's assumption: about 100 jobs a day of about 5 minutes, Poisson arrivals in working hours
    (08:00 to 18:00 each simulated day; every simulated day is a working day)."""
    jobs: list[JobSpec] = []
    window = (WORK_END_H - WORK_START_H) * 3600.0
    rate = jobs_per_day / window
    for day in range(days):
        t = day * 86400.0 + WORK_START_H * 3600.0
        end = day * 86400.0 + WORK_END_H * 3600.0
        while True:
            t += rng.expovariate(rate)
            if t >= end:
                break
            jobs.append(JobSpec(t, max(30.0, rng.gauss(job_s, job_s * 0.3))))
    return jobs


def burst(rng: random.Random, count: int = 50, job_s: float = 300.0) -> list[JobSpec]:
    """50 jobs queued at once, at 09:00:07 of day 0 (off the pollers' phase, as a real burst would be)."""
    at = 9 * 3600.0 + 7
    return [JobSpec(at, max(30.0, rng.gauss(job_s, job_s * 0.2))) for _ in range(count)]


def _row(row: dict[str, str]) -> JobSpec:
    demands = tuple(d.strip() for d in (row.get("demands") or "").split(";") if d.strip())
    queued_at, duration = float(row["queued_at_s"]), float(row["duration_s"])
    # A time before the simulation's start, or a job that never ends, cannot be simulated.
    if not (math.isfinite(queued_at) and queued_at >= 0):
        raise ValueError(f"queued_at_s must be 0 or more (seconds from midnight of day 0), not {queued_at}")
    if not (math.isfinite(duration) and duration > 0):
        raise ValueError(f"duration_s must be more than 0 seconds, not {duration}")
    return JobSpec(queued_at, duration, demands)


def from_csv(path: Path) -> list[JobSpec]:
    """Columns `queued_at_s,duration_s,demands` (a header line first): seconds from midnight (UTC) of the
    simulation's first day, a Monday; the job's run time; demands separated by `;`, may be empty or left
    out. Rows may come in any order. A bad row is refused with its line number."""
    jobs: list[JobSpec] = []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"queued_at_s", "duration_s"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            try:
                jobs.append(_row(row))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path}: line {line}: {exc}") from None
    return sorted(jobs, key=lambda j: j.queued_at_s)


BURST_AT_H = 9
BURST_JOBS = 30
BURST_S = 300.0
TRICKLE_PER_HOUR = 2.0
STEADY_PER_HOUR = 6.0


def bursty(
    days: int, rng: random.Random, job_s: float = 300.0, trickle_per_hour: float = TRICKLE_PER_HOUR
) -> list[JobSpec]:
    """Issue 14's "30 jobs in 5 minutes followed by a trickle", on each of `days` days: a scheduled trigger
    at 09:00 fans out into 30 jobs queued at random over the next 5 minutes (the trigger itself starts up
    to a minute late, as scheduled runs do), then a trickle of Poisson arrivals at 2 an hour until 18:00
    (about 18 jobs: the burst is most of the day's work). The days are alike but not identical, so "the
    same hour on recent days" has something true but imperfect to learn from; the figures are measured on
    the last day (`measure_from_s`).

    `bursty-steady` is the same burst followed by 6 an hour all day (about 54 jobs, two thirds of the
    day): there the steady stream, not the burst, carries the median, and docs/performance.md shows why no
    policy can then meet issue 14's idle goal."""
    jobs: list[JobSpec] = []
    for day in range(days):
        start = day * 86400.0 + BURST_AT_H * 3600.0 + rng.uniform(0.0, 60.0)
        at = sorted(start + rng.uniform(0.0, BURST_S) for _ in range(BURST_JOBS))
        jobs.extend(JobSpec(t, max(30.0, rng.gauss(job_s, job_s * 0.3))) for t in at)
        t = start + BURST_S
        end = day * 86400.0 + WORK_END_H * 3600.0
        while True:
            t += rng.expovariate(trickle_per_hour / 3600.0)
            if t >= end:
                break
            jobs.append(JobSpec(t, max(30.0, rng.gauss(job_s, job_s * 0.3))))
    return jobs


QUIET_JOBS = 4


def quiet(rng: random.Random, job_s: float = 600.0) -> list[JobSpec]:
    """Issue 14's "a few jobs over a night": 8 hours from 22:00 (day 0) to 06:00 with 4 jobs of about 10
    minutes at random times (a nightly build, a dependency scan, a retry or two). What it measures is what
    a warm pool spends when there is almost nothing to be warm for."""
    start = 22 * 3600.0
    at = sorted(start + rng.uniform(0.0, 8 * 3600.0) for _ in range(QUIET_JOBS))
    return [JobSpec(t, max(60.0, rng.gauss(job_s, job_s * 0.3))) for t in at]


def last_day_start(jobs: list[JobSpec]) -> float:
    """Midnight of the day of the last arrival: where a multi-day trace's measured day begins."""
    last = max((j.queued_at_s for j in jobs), default=0.0)
    return (last // 86400) * 86400


WORKLOADS = ("seed-day", "burst", "bursty", "bursty-steady", "quiet")


def named(name: str, days: int, seed: int) -> tuple[list[JobSpec], float]:
    """A built-in workload by name and where to start measuring it (seconds): 0 except for the bursty
    ones, whose earlier days are there to be learned from. Raises KeyError for an unknown name."""
    rng = random.Random(seed)
    if name == "seed-day":
        return seed_day(days, rng), 0.0
    if name == "burst":
        return burst(rng), 0.0
    if name in ("bursty", "bursty-steady"):
        jobs = bursty(days, rng, trickle_per_hour=TRICKLE_PER_HOUR if name == "bursty" else STEADY_PER_HOUR)
        return jobs, last_day_start(jobs)
    if name == "quiet":
        return quiet(rng), 0.0
    raise KeyError(name)
