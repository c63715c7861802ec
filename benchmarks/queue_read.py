"""The queue read at 300 queued jobs x 300 registered agents: body size, decode time and memory, and one pass.

Every queued request carries `matchedAgents` (one reference per agent that meets its demands), so the body
grows as queued x agents. Prints figures; asserts nothing about time (issue 21, item 5; docs/performance.md).

    .venv/bin/python -m benchmarks.queue_read [--queued 300] [--agents 300] [--json] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, TypeAdapter

from adoscale.ado import AdoClient
from adoscale.ado.matched_agents import decode_job_requests
from adoscale.ado.models import JobRequest
from adoscale.compute import EcsCompute
from adoscale.config import parse_config
from adoscale.control import PassLimits, Reconciler
from adoscale_lab.emulator import AdoModel, make_app, serve
from benchmarks.common import PAT, bench_config
from benchmarks.results import BenchResult, RunInfo, add_output_options, emit

_jobs = TypeAdapter(list[JobRequest])


class Measured(BaseModel):
    """One piece of work under tracemalloc (which slows it about threefold: compare ratios, not seconds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    wall_s: float
    peak_bytes: int
    requests: int  # what the decoded body held


class OnePass(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    wall_s: float
    deadline_s: float
    queued: int
    launched: int
    errors: list[str]


class QueueReadResult(BenchResult):
    benchmark: Literal["queue_read"] = "queue_read"
    queued: int
    agents: int  # registered in the pool (the placeholder included), all offline, all matching
    body_bytes: int
    served_s: float  # the emulator's answer over loopback, read whole
    decode_keeping_matched_agents: Measured  # as the client decoded before issue 21
    decode_dropping_matched_agents: Measured  # as the client decodes now (adoscale.ado.matched_agents)
    list_job_requests_s: float  # AdoClient.list_job_requests over loopback
    listed: int
    one_pass: OnePass

    def render(self) -> str:
        def measured(what: str, m: Measured) -> str:
            return f"  {what}: {m.wall_s:.2f} s, peak Python memory {m.peak_bytes / 2**20:.1f} MB"

        p = self.one_pass
        return "\n".join(
            [
                f"queued {self.queued} x registered agents {self.agents}",
                f"  body: {self.body_bytes / 2**20:.1f} MB ({self.body_bytes // self.queued} bytes per queued "
                f"request); emulator served it in {self.served_s:.2f} s",
                measured("decode, keeping matchedAgents (before)", self.decode_keeping_matched_agents),
                measured("decode, matchedAgents cut from the bytes (now)", self.decode_dropping_matched_agents),
                f"  AdoClient.list_job_requests over loopback (emulator serving in this process): "
                f"{self.list_job_requests_s:.2f} s, {self.listed} requests",
                f"one pass (emulator, client and moto in this process): {p.wall_s:.2f} s, deadline {p.deadline_s:g} s; "
                f"queued {p.queued}, launched {p.launched}, errors {p.errors}",
            ]
        )


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


def measured(work: Callable[[], list[Any]]) -> Measured:
    tracemalloc.start()
    started = time.perf_counter()
    result = work()
    wall = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return Measured(wall_s=wall, peak_bytes=peak, requests=len(result))


def run(args: argparse.Namespace, argv: list[str]) -> QueueReadResult:
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
        keeping = measured(lambda: _jobs.validate_python(json.loads(raw)["value"]))
        dropping = measured(lambda: _jobs.validate_python(decode_job_requests(raw)["value"]))
        with AdoClient(f"{server.url}/bench", PAT, timeout=10) as ado:
            started = time.perf_counter()
            jobs = ado.list_job_requests(pool_id)
            listed_s = time.perf_counter() - started
            hold_tasks_running()
            ecs = boto3.client("ecs", region_name="us-east-1")
            world = create_ecs_world(boto3.client("ec2", region_name="us-east-1"), ecs)
            config = parse_config(json.dumps(bench_config(world, f"{server.url}/bench", ["pool-000"], 10)), "<bench>")
            reconciler = Reconciler(config, ado, EcsCompute.for_config(ecs, config), lambda: datetime.now(UTC))
            started = time.perf_counter()
            report = reconciler.run().pools[0]
            wall = time.perf_counter() - started
    return QueueReadResult(
        run=RunInfo.here("queue_read", argv),
        queued=args.queued,
        agents=args.agents,
        body_bytes=len(raw),
        served_s=served,
        decode_keeping_matched_agents=keeping,
        decode_dropping_matched_agents=dropping,
        list_job_requests_s=listed_s,
        listed=len(jobs),
        one_pass=OnePass(
            wall_s=wall,
            deadline_s=PassLimits().deadline_s,
            queued=report.queued,
            launched=report.launched,
            errors=list(report.errors),
        ),
    )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queued", type=int, default=300)
    parser.add_argument("--agents", type=int, default=300)
    add_output_options(parser)
    args = parser.parse_args(argv)
    emit(run(args, argv), args)


if __name__ == "__main__":
    main()
