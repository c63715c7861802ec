"""Job arrivals for the simulator: the seed's day, a burst, or a CSV trace."""

from __future__ import annotations

import csv
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


def from_csv(path: Path) -> list[JobSpec]:
    """Columns `queued_at_s,duration_s,demands`; demands separated by `;`, may be empty."""
    jobs: list[JobSpec] = []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"queued_at_s", "duration_s"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            try:
                demands = tuple(d.strip() for d in (row.get("demands") or "").split(";") if d.strip())
                jobs.append(JobSpec(float(row["queued_at_s"]), float(row["duration_s"]), demands))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path}: line {line}: {exc}") from None
    return sorted(jobs, key=lambda j: j.queued_at_s)
