"""One reconcile pass over many pools against the ADO emulator on loopback and ECS in moto.

Prints figures; asserts nothing about time. Defaults follow the issue: 50 pools with 200 queued jobs each.

    .venv/bin/python -m benchmarks.reconcile_pass [--pools 50] [--queued 200] [--max-agents 10] [--json] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from benchmarks.results import BenchResult, RunInfo, add_output_options, ado_calls, aws_calls, emit, render_calls


class PassFigures(BaseModel):
    """One pass over every pool: its times, the calls it made, what it launched."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    wall_s: float
    cpu_s: float
    ado_calls: int
    ado_calls_by_route: dict[str, int]  # `METHOD route template` -> count, as the emulator routed them
    aws_calls: dict[str, int]  # `service:Operation` -> count
    launched: int
    errors: int


class ReconcilePassResult(BenchResult):
    benchmark: Literal["reconcile_pass"] = "reconcile_pass"
    pools: int
    queued_per_pool: int
    max_agents: int
    first: PassFigures
    steady: PassFigures  # the second pass: every task of the first one now starting
    peak_rss_mb: float  # the whole process's, the emulator and moto included

    def render(self) -> str:
        first, steady = self.first, self.steady
        return "\n".join(
            [
                f"pools: {self.pools}, queued per pool: {self.queued_per_pool}, max_agents: {self.max_agents}",
                f"first pass: wall {first.wall_s:.2f} s, CPU {first.cpu_s:.2f} s "
                "(this process: client, moto and emulator together)",
                f"  tasks launched: {first.launched}; errors: {first.errors}",
                f"  ADO calls per pool: {first.ado_calls / self.pools:.2f} ; "
                f"AWS calls: {render_calls(first.aws_calls)}",
                f"  peak RSS of the whole process (emulator and moto included): {self.peak_rss_mb:.0f} MB",
                f"second pass (steady state): wall {steady.wall_s:.2f} s, "
                f"ADO calls per pool {steady.ado_calls / self.pools:.2f}",
                f"  AWS calls per pool: {sum(steady.aws_calls.values()) / self.pools:.2f} "
                f"({render_calls(steady.aws_calls)})",
            ]
        )


def run(args: argparse.Namespace, argv: list[str]) -> ReconcilePassResult:
    import boto3
    from moto import mock_aws

    from adoscale.ado import AdoClient
    from adoscale.aws import CallCounter
    from adoscale.compute import EcsCompute
    from adoscale.config import parse_config
    from adoscale.control import PassReport, Reconciler
    from adoscale_lab.demo.aws import create_ecs_world
    from adoscale_lab.emulator import make_app, serve
    from adoscale_lab.moto_rules.ecs import hold_tasks_running
    from benchmarks.common import PAT, bench_config, seeded_model

    model, names = seeded_model(args.pools, args.queued)
    with serve(make_app(model)) as server, mock_aws():
        hold_tasks_running()
        ecs = boto3.client("ecs", region_name="us-east-1")
        world = create_ecs_world(boto3.client("ec2", region_name="us-east-1"), ecs)
        body = bench_config(world, f"{server.url}/bench", names, args.max_agents)
        config = parse_config(json.dumps(body), "<benchmark>")
        counter = CallCounter()
        counter.attach(ecs)
        with AdoClient(config.organization_url, PAT) as ado:
            reconciler = Reconciler(config, ado, EcsCompute.for_config(ecs, config), lambda: datetime.now(UTC))

            def one_pass() -> PassFigures:
                model.stats.reset()
                counter.reset()
                started, cpu = time.perf_counter(), time.process_time()
                report: PassReport = reconciler.run()
                wall, cpu = time.perf_counter() - started, time.process_time() - cpu
                return PassFigures(
                    wall_s=wall,
                    cpu_s=cpu,
                    ado_calls=model.stats.total,
                    ado_calls_by_route=ado_calls(model.stats.by_route),
                    aws_calls=aws_calls(counter.by_operation),
                    launched=sum(p.launched for p in report.pools),
                    errors=sum(len(p.errors) for p in report.pools),
                )

            first = one_pass()
            rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            steady = one_pass()
    return ReconcilePassResult(
        run=RunInfo.here("reconcile_pass", argv),
        pools=args.pools,
        queued_per_pool=args.queued,
        max_agents=args.max_agents,
        first=first,
        steady=steady,
        peak_rss_mb=rss_mb,
    )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pools", type=int, default=50)
    parser.add_argument("--queued", type=int, default=200)
    parser.add_argument("--max-agents", type=int, default=10)
    add_output_options(parser)
    args = parser.parse_args(argv)
    emit(run(args, argv), args)


if __name__ == "__main__":
    main()
