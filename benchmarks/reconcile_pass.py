"""One reconcile pass over many pools against the ADO emulator on loopback and ECS in moto.

Prints figures; asserts nothing about time. Defaults follow the issue: 50 pools with 200 queued jobs each.

    .venv/bin/python -m benchmarks.reconcile_pass [--pools 50] [--queued 200] [--max-agents 10]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from datetime import UTC, datetime

from adoscale.ado import AdoClient
from adoscale.aws import CallCounter
from adoscale.compute import EcsCompute
from adoscale.config import parse_config
from adoscale.control import Reconciler
from adoscale_lab.emulator import make_app, serve
from benchmarks.common import PAT, bench_config, seeded_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pools", type=int, default=50)
    parser.add_argument("--queued", type=int, default=200)
    parser.add_argument("--max-agents", type=int, default=10)
    args = parser.parse_args()

    import boto3
    from moto import mock_aws

    from adoscale_lab.demo.aws import create_ecs_world
    from adoscale_lab.moto_rules.ecs import hold_tasks_running

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
            model.stats.reset()
            started, cpu = time.perf_counter(), time.process_time()
            report = reconciler.run()
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            first_ado = model.stats.total
            first_aws = dict(counter.by_operation)
            rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            second_started = time.perf_counter()
            model.stats.reset()
            counter.reset()
            reconciler.run()
            second_wall = time.perf_counter() - second_started
            second_ado = model.stats.total
    launched = sum(p.launched for p in report.pools)
    print(f"pools: {args.pools}, queued per pool: {args.queued}, max_agents: {args.max_agents}")
    print(f"first pass: wall {wall:.2f} s, CPU {cpu:.2f} s (this process: client, moto and emulator together)")
    print(f"  tasks launched: {launched}; errors: {sum(len(p.errors) for p in report.pools)}")
    print(f"  ADO calls per pool: {first_ado / args.pools:.2f} ; AWS calls: {first_aws}")
    print(f"  peak RSS of the whole process (emulator and moto included): {rss_mb:.0f} MB")
    print(f"second pass (steady state): wall {second_wall:.2f} s, ADO calls per pool {second_ado / args.pools:.2f}")
    print(f"  AWS calls per pool: {counter.total / args.pools:.2f} ({dict(counter.by_operation)})")


if __name__ == "__main__":
    main()
