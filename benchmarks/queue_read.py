"""The queue read at 300 queued jobs x 300 registered agents: body size, decode time and memory, and one pass.

Every queued request carries `matchedAgents` (one reference per agent that meets its demands), so the body
grows as queued x agents. Prints figures; asserts nothing about time (issue 21, item 5; docs/performance.md).

    .venv/bin/python -m benchmarks.queue_read [--queued 300] [--agents 300]
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import TypeAdapter

from adoscale.ado import AdoClient
from adoscale.ado.client import _without_matched_agents
from adoscale.ado.models import JobRequest
from adoscale.compute import EcsCompute
from adoscale.config import parse_config
from adoscale.control import Reconciler
from adoscale_lab.emulator import AdoModel, make_app, serve
from benchmarks.common import PAT, bench_config

_jobs = TypeAdapter(list[JobRequest])


def seeded(queued: int, agents: int) -> tuple[AdoModel, int]:
    model = AdoModel(org="bench", pat=PAT)
    pool_id = model.create_pool("pool-000")
    model.register_agent(pool_id, "adoscale-placeholder", {"docker": ""}, online=False)
    for i in range(agents - 1):
        # Registered and offline (a pool that was busy an hour ago): each one matches every queued job.
        model.register_agent(pool_id, f"agent-{i:04d}", {"docker": ""}, online=False)
    for _ in range(queued):
        model.queue_job(pool_id, ["docker"])
    return model, pool_id


def measured(what: str, work: Callable[[], Any]) -> Any:
    tracemalloc.start()
    started = time.perf_counter()
    result = work()
    wall = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  {what}: {wall:.2f} s, peak Python memory {peak / 2**20:.1f} MB")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queued", type=int, default=300)
    parser.add_argument("--agents", type=int, default=300)
    args = parser.parse_args()

    import boto3
    from moto import mock_aws

    from adoscale_lab.demo.aws import create_ecs_world
    from adoscale_lab.moto_rules.ecs import hold_tasks_running

    model, pool_id = seeded(args.queued, args.agents)
    with serve(make_app(model)) as server, mock_aws():
        url = f"{server.url}/bench/_apis/distributedtask/pools/{pool_id}/jobrequests"
        params = {"completedRequestCount": "0", "api-version": "7.1-preview.1"}
        started = time.perf_counter()
        raw = httpx.get(url, params=params, auth=("", PAT), timeout=60).content
        served = time.perf_counter() - started
        print(f"queued {args.queued} x registered agents {args.agents}")
        print(
            f"  body: {len(raw) / 2**20:.1f} MB ({len(raw) // args.queued} bytes per queued request); "
            f"emulator served it in {served:.2f} s"
        )
        measured("decode, keeping matchedAgents (before)", lambda: _jobs.validate_python(json.loads(raw)["value"]))
        measured(
            "decode, matchedAgents dropped per request (now)",
            lambda: _jobs.validate_python(json.loads(raw, object_hook=_without_matched_agents)["value"]),
        )
        with AdoClient(f"{server.url}/bench", PAT, timeout=10) as ado:
            started = time.perf_counter()
            jobs = ado.list_job_requests(pool_id)
            print(
                f"  AdoClient.list_job_requests over loopback (emulator serving in this process): "
                f"{time.perf_counter() - started:.2f} s, {len(jobs)} requests"
            )
            hold_tasks_running()
            ecs = boto3.client("ecs", region_name="us-east-1")
            world = create_ecs_world(boto3.client("ec2", region_name="us-east-1"), ecs)
            config = parse_config(json.dumps(bench_config(world, f"{server.url}/bench", ["pool-000"], 10)), "<bench>")
            reconciler = Reconciler(config, ado, EcsCompute.for_config(ecs, config), lambda: datetime.now(UTC))
            started = time.perf_counter()
            report = reconciler.run().pools[0]
            wall = time.perf_counter() - started
    print(
        f"one pass (emulator, client and moto in this process): {wall:.2f} s, deadline 20 s; "
        f"queued {report.queued}, launched {report.launched}, errors {report.errors}"
    )


if __name__ == "__main__":
    main()
