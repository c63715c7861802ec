"""Simulator speed: simulated hours per wall-clock second, for the adoscale policy on seed-day.

.venv/bin/python -m benchmarks.sim_speed [--days 7]
"""

from __future__ import annotations

import argparse
import random
import time

from adoscale_lab.sim import POLICIES, seed_day, simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--policy", default="adoscale")
    args = parser.parse_args()
    jobs = seed_day(args.days, random.Random(1))
    started = time.perf_counter()
    result = simulate(jobs, POLICIES[args.policy], seed=1)
    wall = time.perf_counter() - started
    hours = result.sim_seconds / 3600
    print(f"{args.policy}: {len(jobs)} jobs over {args.days} day(s): {hours:.1f} simulated hours in {wall:.1f} s")
    rate = result.ticks / wall
    print(f"  {hours / wall:.1f} simulated hours per second; {result.ticks} reconcile passes ({rate:.0f}/s)")


if __name__ == "__main__":
    main()
