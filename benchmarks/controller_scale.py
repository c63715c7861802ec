"""The controller at scale: 200 pools, 10,000 queued jobs, 2,000 agents in the emulator, in-process.

One reconcile pass's CPU time, ADO calls and peak memory (tracemalloc), with the simulated Fargate as the
compute side so that only adoscale and the emulator are measured. The emulator's share (the CPU spent
inside its WSGI application: routing, the model, JSON) and the simulated Fargate's are timed apart and
taken off the total: what remains is adoscale's own code, the HTTP client included (issue 25's goal: under
2 s for 200 pools). Prints figures; asserts nothing.

A configuration holds at most `MAX_POOLS` (100) pools, so more pools are split into several configurations,
one reconciler each (as several controllers would run), passing one after the other in the same process.

    .venv/bin/python -m benchmarks.controller_scale [--pools 200] [--queued 10000] [--agents 2000]
"""

from __future__ import annotations

import argparse
import json
import random
import time
import tracemalloc
from datetime import UTC, datetime
from typing import Any

import httpx

from adoscale.ado import AdoClient
from adoscale.config import MAX_POOLS, parse_config
from adoscale.control import Reconciler
from adoscale_lab.emulator import AdoModel, make_app
from adoscale_lab.sim.fargate import EventQueue, SimFargate


class _Timed:
    """Adds the CPU time spent inside `inner` (a WSGI application, or any callable) to `seconds`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds = 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return self.inner(*args, **kwargs)
        finally:
            self.seconds += time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pools", type=int, default=200)
    parser.add_argument("--queued", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=2_000)
    args = parser.parse_args()
    events = EventQueue(datetime(2026, 11, 23, 9, tzinfo=UTC))
    model = AdoModel(org="scale", pat="scale-pat-0000", clock=events.clock)
    names = [f"pool-{i:03d}" for i in range(args.pools)]
    pool_ids = {name: model.create_pool(name) for name in names}
    for index in range(args.agents):
        pool = pool_ids[names[index % args.pools]]
        # Busy agents: registered, online, each takes one queued job right away.
        model.queue_job(pool, ["docker"])
        model.register_agent(pool, f"static-{index:05d}", {"docker": ""})
    for index in range(args.queued):
        model.queue_job(pool_ids[names[index % args.pools]], ["docker"])
    fargate = SimFargate(events, model, pool_ids, lambda _r: 300.0, random.Random(1))
    ecs = {"cluster": "c", "task_definition": "t", "subnets": ["s"]}
    configs = [
        parse_config(
            json.dumps(
                {
                    "organization_url": "http://ado.local/scale",
                    "pools": [
                        {"name": n, "max_agents": 100, "capabilities": ["docker"], "ecs": ecs}
                        for n in names[start : start + MAX_POOLS]
                    ],
                }
            )
        )
        for start in range(0, len(names), MAX_POOLS)
    ]
    emulator = _Timed(make_app(model))
    compute = [_Timed(getattr(fargate, name)) for name in ("launch", "list_tasks", "stop")]
    for timed, name in zip(compute, ("launch", "list_tasks", "stop"), strict=True):
        setattr(fargate, name, timed)
    http = httpx.Client(transport=httpx.WSGITransport(app=emulator), base_url="http://ado.local")
    with AdoClient(configs[0].organization_url, "scale-pat-0000", http=http) as ado:
        reconcilers = [Reconciler(config, ado, fargate, events.clock) for config in configs]
        model.stats.reset()
        emulator.seconds = 0.0
        cpu, wall = time.process_time(), time.perf_counter()
        reports = [reconciler.run() for reconciler in reconcilers]
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        emulator_cpu, compute_cpu = emulator.seconds, sum(t.seconds for t in compute)
        calls = model.stats.total
        # A second, steady-state pass (every task now starting) under tracemalloc for the memory figure.
        tracemalloc.start()
        for reconciler in reconcilers:
            reconciler.run()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    pools = [pool for report in reports for pool in report.pools]
    print(f"pools {args.pools}, queued {args.queued}, agents {args.agents} (busy), in-process emulator")
    print(f"configurations: {len(configs)} (at most {MAX_POOLS} pools each)")
    print(f"one pass: CPU {cpu:.2f} s, wall {wall:.2f} s (adoscale and the emulator in one process)")
    own = cpu - emulator_cpu - compute_cpu
    print(
        f"  of which adoscale's own code: {own:.2f} s CPU (goal: under 2 s); the emulator {emulator_cpu:.2f} s, "
        f"the simulated Fargate {compute_cpu:.2f} s"
    )
    print(f"ADO calls: {calls} ({calls / args.pools:.2f} per pool)")
    launched = sum(p.launched for p in pools)
    print(f"tasks launched: {launched}, pools with errors: {sum(1 for p in pools if p.errors)}")
    print(f"peak traced memory of a steady-state pass: {peak / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
