"""Simulator speed: simulated hours per wall-clock second, event-driven (the default) and, with
`--every-pass`, running every pass through HTTP as the simulator did before issue 25.

.venv/bin/python -m benchmarks.sim_speed [--workload bursty] [--days 4] [--policy adoscale-predictive] [--every-pass]
"""

from __future__ import annotations

import argparse
import time

from adoscale_lab.sim import POLICIES, simulate
from adoscale_lab.sim.workloads import WORKLOADS, named


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workload", default="seed-day", choices=WORKLOADS)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--policy", default="adoscale", choices=list(POLICIES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--every-pass", action="store_true", help="run every pass through HTTP (no skipping)")
    args = parser.parse_args()
    jobs, since = named(args.workload, args.days, args.seed)
    started, cpu = time.perf_counter(), time.process_time()
    result = simulate(
        jobs, POLICIES[args.policy], seed=args.seed, measure_from_s=since, event_driven=not args.every_pass
    )
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    hours = result.sim_seconds / 3600
    mode = "every pass" if args.every_pass else "event-driven"
    print(
        f"{args.policy} on {args.workload} ({mode}): {len(jobs)} jobs over {args.days} day(s): "
        f"{hours:.1f} simulated hours in {wall:.2f} s ({cpu:.2f} s CPU)"
    )
    ran = result.ticks - result.quiet_passes_skipped
    print(
        f"  {hours / wall:.1f} simulated hours per second; {result.ticks} scheduled passes, "
        f"{result.quiet_passes_skipped} of them quiet and skipped, {ran} run; {result.hook_passes} hook passes"
    )


if __name__ == "__main__":
    main()
