"""A fingerprint of the simulator's results on generated family traces, and the CPU each trace costs: run it
before and after a change meant to make the simulator cheaper, and the digests must be identical.

.venv/bin/python -m benchmarks.sim_fingerprint [--family burst --family trickle --family night] [--seeds 1-8]
    [--policy adoscale-predictive] [--every-pass] [--json] [--out FILE]

Each trace is `run(generate(family, seed), POLICIES[policy])` (what tests/sim/test_family_*.py judge). Its
digest is a SHA-256 over every field of the `PolicyResult` (the summary, each job's wait, the idle, busy and
start-up minutes, every count, the timeline, the hourly waits) written as JSON, whose floats are exact (`repr`),
except the two counts of work the event-driven loop saved (`quiet_passes_skipped`, `reads_reused`): those say
how a result was reached, not what it is, and are printed apart. The digest of the whole set is over the
traces' digests in order.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import asdict
from typing import Literal

from pydantic import BaseModel, ConfigDict

from adoscale_lab.sim import POLICIES
from adoscale_lab.sim.families import FAMILIES, generate, run
from adoscale_lab.sim.runner import PolicyResult
from benchmarks.common import seed_range
from benchmarks.results import BenchResult, RunInfo, add_output_options, emit

# How a result was reached, not what it is: left out of the digest.
WORK_SAVED = ("quiet_passes_skipped", "reads_reused")


def digest(result: PolicyResult) -> str:
    """SHA-256 of every field of `result` but the work-saved counts, as exact JSON."""
    fields = {k: v for k, v in asdict(result).items() if k not in WORK_SAVED}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


class TracePrint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    trace: str
    digest: str
    cpu_s: float
    jobs: int
    scheduled_passes: int
    quiet_passes_skipped: int
    reads_reused: int


class SimFingerprintResult(BenchResult):
    benchmark: Literal["sim_fingerprint"] = "sim_fingerprint"
    policy: str
    event_driven: bool
    traces: list[TracePrint]
    digest: str  # over the traces' digests, in order
    cpu_s: float

    def render(self) -> str:
        lines = [
            f"{t.trace:<12} {t.digest[:16]}  {t.cpu_s:6.2f} s CPU  {t.jobs:4d} jobs  {t.scheduled_passes:5d} passes "
            f"({t.quiet_passes_skipped} skipped, {t.reads_reused} reads reused)"
            for t in self.traces
        ]
        lines.append(f"{len(self.traces)} traces, {self.policy}: digest {self.digest}  {self.cpu_s:.2f} s CPU")
        return "\n".join(lines)


def measure(
    families: list[str], seeds: list[int], policy: str, *, event_driven: bool, argv: list[str]
) -> SimFingerprintResult:
    traces: list[TracePrint] = []
    for family in families:
        for seed in seeds:
            trace = generate(family, seed)
            cpu = time.process_time()
            result = run(trace, POLICIES[policy], event_driven=event_driven)
            cpu = time.process_time() - cpu
            traces.append(
                TracePrint(
                    trace=trace.name,
                    digest=digest(result),
                    cpu_s=cpu,
                    jobs=result.jobs,
                    scheduled_passes=result.ticks,
                    quiet_passes_skipped=result.quiet_passes_skipped,
                    reads_reused=result.reads_reused,
                )
            )
    whole = hashlib.sha256("".join(t.digest for t in traces).encode()).hexdigest()
    return SimFingerprintResult(
        run=RunInfo.here("sim_fingerprint", argv),
        policy=policy,
        event_driven=event_driven,
        traces=traces,
        digest=whole,
        cpu_s=sum(t.cpu_s for t in traces),
    )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", action="append", choices=FAMILIES, help="a family (repeat; default: all)")
    parser.add_argument("--seeds", default="1-8", type=str, help="a seed or a range, FIRST-LAST (default 1-8)")
    parser.add_argument("--policy", default="adoscale-predictive", choices=list(POLICIES))
    parser.add_argument("--every-pass", action="store_true", help="run every pass and read through HTTP")
    add_output_options(parser)
    args = parser.parse_args(argv)
    families = args.family or list(FAMILIES)
    emit(measure(families, seed_range(args.seeds), args.policy, event_driven=not args.every_pass, argv=argv), args)


if __name__ == "__main__":
    main()
