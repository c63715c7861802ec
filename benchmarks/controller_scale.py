"""The controller at scale: 200 pools, 10,000 queued jobs, 2,000 agents in the emulator, in-process.

One reconcile pass's CPU time, ADO calls and peak memory (tracemalloc), with the simulated Fargate as the
compute side so that only adoscale and the emulator are measured. The emulator's share (the CPU spent
inside its WSGI application: routing, the model, JSON) and the simulated Fargate's are timed apart and
taken off the total: what remains is adoscale's own code, the HTTP client included (issue 25's goal: under
2 s for 200 pools). Prints figures; asserts nothing.

The pools are as adoscale leaves them after any pass: each has its placeholder registration. `--fresh`
measures a new installation's first pass instead, which registers the 200 placeholders (one RSA key made
for the process, a `POST .../agents` and a second read per pool): a cost paid once, not per pass.

A configuration holds at most `MAX_POOLS` (100) pools, so more pools are split into several configurations,
one reconciler each (as several controllers would run), passing one after the other in the same process.

    .venv/bin/python -m benchmarks.controller_scale [--pools 200] [--queued 10000] [--agents 2000] [--fresh]
        [--json] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from adoscale.ado import AdoClient, placeholder
from adoscale.config import MAX_POOLS, parse_config
from adoscale.control import Reconciler
from adoscale_lab.emulator import AdoModel, make_app
from adoscale_lab.sim.fargate import EventQueue, SimFargate
from benchmarks.common import register_placeholder
from benchmarks.results import BenchResult, RunInfo, add_output_options, ado_calls, emit


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


class ControllerScaleResult(BenchResult):
    benchmark: Literal["controller_scale"] = "controller_scale"
    pools: int
    queued: int
    agents: int  # busy: registered, online, each running one job
    configurations: int
    fresh: bool = False  # no placeholder registered yet: a new installation's first pass
    max_pools_per_configuration: int
    cpu_s: float  # one pass over every configuration: adoscale, the emulator and the simulated Fargate
    wall_s: float
    emulator_cpu_s: float  # inside the emulator's WSGI application
    compute_cpu_s: float  # inside the simulated Fargate
    key_cpu_s: float = 0.0  # adoscale's, inside: making the placeholders' RSA key (once a process, --fresh only)
    ado_calls: int
    ado_calls_by_route: dict[str, int]  # `METHOD route template` -> count, as the emulator routed them
    launched: int
    pools_with_errors: int
    steady_peak_traced_bytes: int  # tracemalloc's peak over a second, steady-state pass

    @property
    def own_cpu_s(self) -> float:
        """adoscale's own code, the HTTP client included: the pass less the emulator and the simulated Fargate."""
        return self.cpu_s - self.emulator_cpu_s - self.compute_cpu_s

    def render(self) -> str:
        return "\n".join(
            [
                f"pools {self.pools}, queued {self.queued}, agents {self.agents} (busy), in-process emulator"
                + (" (fresh: no placeholder registered yet)" if self.fresh else ""),
                f"configurations: {self.configurations} (at most {self.max_pools_per_configuration} pools each)",
                f"one pass: CPU {self.cpu_s:.2f} s, wall {self.wall_s:.2f} s "
                "(adoscale and the emulator in one process)",
                f"  of which adoscale's own code: {self.own_cpu_s:.2f} s CPU (goal: under 2 s); "
                f"the emulator {self.emulator_cpu_s:.2f} s, the simulated Fargate {self.compute_cpu_s:.2f} s",
                *(
                    [f"  adoscale's own includes {self.key_cpu_s:.2f} s making the placeholders' key (once a process)"]
                    if self.key_cpu_s
                    else []
                ),
                f"ADO calls: {self.ado_calls} ({self.ado_calls / self.pools:.2f} per pool)",
                f"tasks launched: {self.launched}, pools with errors: {self.pools_with_errors}",
                f"peak traced memory of a steady-state pass: {self.steady_peak_traced_bytes / 1e6:.0f} MB",
            ]
        )


def run(args: argparse.Namespace, argv: list[str]) -> ControllerScaleResult:
    events = EventQueue(datetime(2026, 11, 23, 9, tzinfo=UTC))
    model = AdoModel(org="scale", pat="scale-pat-0000", clock=events.clock)
    names = [f"pool-{i:03d}" for i in range(args.pools)]
    pool_ids = {name: model.create_pool(name) for name in names}
    if not args.fresh:
        for pool_id in pool_ids.values():
            register_placeholder(model, pool_id)
    for index in range(args.agents):
        pool = pool_ids[names[index % args.pools]]
        # Busy agents: registered, online, each takes one queued job right away.
        model.register_agent(pool, f"static-{index:05d}", {"docker": ""})
        model.queue_job(pool, ["docker"])
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
    # `placeholder_key` looks `public_key` up when it is first called: the key's cost is timed where it is paid.
    key = _Timed(placeholder.public_key)
    placeholder.placeholder_key.cache_clear()
    placeholder.public_key = key
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
        by_route = ado_calls(model.stats.by_route)
        # A second, steady-state pass (every task now starting) under tracemalloc for the memory figure.
        tracemalloc.start()
        for reconciler in reconcilers:
            reconciler.run()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    pools = [pool for report in reports for pool in report.pools]
    return ControllerScaleResult(
        run=RunInfo.here("controller_scale", argv),
        pools=args.pools,
        queued=args.queued,
        agents=args.agents,
        configurations=len(configs),
        fresh=args.fresh,
        max_pools_per_configuration=MAX_POOLS,
        cpu_s=cpu,
        wall_s=wall,
        emulator_cpu_s=emulator_cpu,
        compute_cpu_s=compute_cpu,
        key_cpu_s=key.seconds,
        ado_calls=calls,
        ado_calls_by_route=by_route,
        launched=sum(p.launched for p in pools),
        pools_with_errors=sum(1 for p in pools if p.errors),
        steady_peak_traced_bytes=peak,
    )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pools", type=int, default=200)
    parser.add_argument("--queued", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=2_000)
    parser.add_argument(
        "--fresh", action="store_true", help="no placeholder registered yet: a new installation's first pass"
    )
    add_output_options(parser)
    args = parser.parse_args(argv)
    emit(run(args, argv), args)


if __name__ == "__main__":
    main()
