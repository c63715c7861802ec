"""Simulator speed: simulated hours per wall-clock second, event-driven (the default) and, with
`--every-pass`, running every pass through HTTP as the simulator did before issue 25.

.venv/bin/python -m benchmarks.sim_speed [--workload bursty] [--days 4] [--policy adoscale-predictive] [--every-pass]
    [--json] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Literal

from adoscale_lab.sim import POLICIES, simulate
from adoscale_lab.sim.workloads import WORKLOADS, named
from benchmarks.results import BenchResult, RunInfo, add_output_options, emit


class SimSpeedResult(BenchResult):
    benchmark: Literal["sim_speed"] = "sim_speed"
    policy: str
    workload: str
    days: int
    seed: int
    event_driven: bool  # False with --every-pass
    jobs: int
    sim_seconds: float
    wall_s: float
    cpu_s: float
    scheduled_passes: int
    quiet_passes_skipped: int  # scheduled passes the event-driven loop did not run through HTTP
    hook_passes: int

    @property
    def sim_hours_per_second(self) -> float:
        return self.sim_seconds / 3600 / self.wall_s

    def render(self) -> str:
        hours = self.sim_seconds / 3600
        mode = "event-driven" if self.event_driven else "every pass"
        ran = self.scheduled_passes - self.quiet_passes_skipped
        return (
            f"{self.policy} on {self.workload} ({mode}): {self.jobs} jobs over {self.days} day(s): "
            f"{hours:.1f} simulated hours in {self.wall_s:.2f} s ({self.cpu_s:.2f} s CPU)\n"
            f"  {self.sim_hours_per_second:.1f} simulated hours per second; {self.scheduled_passes} scheduled passes, "
            f"{self.quiet_passes_skipped} of them quiet and skipped, {ran} run; {self.hook_passes} hook passes"
        )


def run(args: argparse.Namespace, argv: list[str]) -> SimSpeedResult:
    jobs, since = named(args.workload, args.days, args.seed)
    started, cpu = time.perf_counter(), time.process_time()
    result = simulate(
        jobs, POLICIES[args.policy], seed=args.seed, measure_from_s=since, event_driven=not args.every_pass
    )
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return SimSpeedResult(
        run=RunInfo.here("sim_speed", argv),
        policy=args.policy,
        workload=args.workload,
        days=args.days,
        seed=args.seed,
        event_driven=not args.every_pass,
        jobs=len(jobs),
        sim_seconds=result.sim_seconds,
        wall_s=wall,
        cpu_s=cpu,
        scheduled_passes=result.ticks,
        quiet_passes_skipped=result.quiet_passes_skipped,
        hook_passes=result.hook_passes,
    )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", default="seed-day", choices=WORKLOADS)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--policy", default="adoscale", choices=list(POLICIES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--every-pass", action="store_true", help="run every pass through HTTP (no skipping)")
    add_output_options(parser)
    args = parser.parse_args(argv)
    emit(run(args, argv), args)


if __name__ == "__main__":
    main()
