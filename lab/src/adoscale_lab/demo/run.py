"""`adoscale demo`: two pools, a burst of jobs, and the real reconcile loop scaling out and back to zero.

Everything runs on this machine: the ADO emulator serves HTTP on 127.0.0.1, AWS is moto in-process, and
emulated agents (one per task, named after it) take jobs and exit. Nothing outlives the demo.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import boto3
from moto import mock_aws
from rich.console import Console
from rich.live import Live
from rich.table import Table

from adoscale.ado.client import AdoClient
from adoscale.bootstrap import build_controller
from adoscale.compute.ecs import EcsCompute
from adoscale.config import Config, parse_config
from adoscale.control import PassReport
from adoscale.lease import MemoryLease
from adoscale.secrets import register_secret
from adoscale_lab.demo.aws import create_ecs_world
from adoscale_lab.demo.fleet import Fleet, PoolProfile
from adoscale_lab.demo.world import PLACEHOLDER, DemoPool, EcsTaskWorld, config_text, create_ado_pools
from adoscale_lab.emulator import AdoModel, make_app, serve
from adoscale_lab.moto_rules.ecs import hold_tasks_running

ORG = "demo"


DEFAULT_POOLS = (
    DemoPool("linux-docker", {"docker": "", "Agent.OS": "Linux"}, ("docker",), jobs=24, max_agents=8),
    DemoPool("linux-java", {"java": "17", "Agent.OS": "Linux"}, ("java -equals 17",), jobs=10, max_agents=4),
)


@dataclass(slots=True)
class DemoSummary:
    jobs_queued: int
    jobs_run: int
    longest_wait_s: float
    tasks_left: int
    registrations_left: int
    agent_minutes: float
    busy_killed: int
    launched: int
    wall_s: float
    passes: int

    @property
    def ok(self) -> bool:
        return (
            self.jobs_run == self.jobs_queued
            and self.tasks_left == 0
            and self.registrations_left == 0
            and self.busy_killed == 0
        )


def _view(model: AdoModel, report: PassReport | None, fleet: Fleet, elapsed: float, config: Config) -> Table:
    table = Table(title=f"adoscale demo — {elapsed:4.1f} s", expand=False)
    for column in ("pool", "queued", "running", "idle", "starting", "launched", "jobs done"):
        table.add_column(column, justify="left" if column == "pool" else "right")
    by_pool = {p.pool: p for p in report.pools} if report else {}
    for pool in config.pools:
        row = by_pool.get(pool.name)
        done = model.finished_count(model.pool_by_name(pool.name).id)
        table.add_row(
            pool.name,
            str(row.queued if row else "-"),
            str(row.running if row else "-"),
            str(row.idle if row else "-"),
            str(row.starting if row else "-"),
            str(row.launched if row else "-"),
            str(done),
        )
    table.caption = f"agents active: {fleet.active}   jobs run: {fleet.stats.jobs_run}"
    return table


def run_demo(
    *,
    console: Console,
    live: bool,
    seed: int = 7,
    pools: tuple[DemoPool, ...] = DEFAULT_POOLS,
    interval_s: float = 2.0,
    time_limit_s: float = 120.0,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DemoSummary:
    rng = random.Random(seed)
    pat = secrets.token_urlsafe(24)
    register_secret(pat)
    model = AdoModel(org=ORG, pat=pat, clock=clock)
    pool_ids = create_ado_pools(model, pools)
    started = time.monotonic()
    passes = 0
    launched = 0
    with serve(make_app(model), port=0) as server, mock_aws():
        ecs = boto3.client("ecs", region_name="us-east-1")
        ec2 = boto3.client("ec2", region_name="us-east-1")
        hold_tasks_running()
        world = create_ecs_world(ec2, ecs)
        config = parse_config(config_text(world, f"{server.url}/{ORG}", pools), source="<demo>")
        compute = EcsCompute(
            ecs, {p.name: p.ecs for p in config.pools}, organization_url=config.organization_url, clock=clock
        )
        tasks = EcsTaskWorld(compute, list(config.pools))
        profiles = {p.name: PoolProfile(pool_ids[p.name], dict(p.capabilities)) for p in pools}
        fleet = Fleet(model, tasks, profiles, clock, rng)
        total_jobs = 0
        for pool in pools:
            for _ in range(pool.jobs):
                model.queue_job(pool_ids[pool.name], demands=list(pool.demands))
                total_jobs += 1
        with AdoClient(config.organization_url, pat) as ado:
            # The demo takes each pool's lease as every runtime does (in memory: one process).
            reconciler = build_controller(config, ado, compute, clock=clock, lease=MemoryLease(clock))
            report: PassReport | None = None
            next_pass = 0.0
            with Live(console=console, auto_refresh=False, transient=False) if live else _NoLive() as view:
                while True:
                    elapsed = time.monotonic() - started
                    if elapsed >= next_pass:
                        report = reconciler.run()
                        passes += 1
                        launched += sum(p.launched for p in report.pools)
                        next_pass = elapsed + interval_s
                        if not live:
                            _log_pass(console, elapsed, report)
                    fleet.step()
                    if live:
                        view.update(_view(model, report, fleet, elapsed, config), refresh=True)
                    finished = sum(model.finished_count(i) for i in pool_ids.values())
                    if finished >= total_jobs and fleet.active == 0 and tasks.running_tasks() == 0:
                        break
                    if elapsed > time_limit_s:
                        console.print("[red]demo: time limit reached before the pools drained[/red]")
                        break
                    time.sleep(0.2)
        left = tasks.running_tasks()
        registrations = sum(1 for pid in pool_ids.values() for agent in model.agents(pid) if agent.name != PLACEHOLDER)
    waits = fleet.stats.waits
    return DemoSummary(
        jobs_queued=total_jobs,
        jobs_run=fleet.stats.jobs_run,
        longest_wait_s=max(waits) if waits else 0.0,
        tasks_left=left,
        registrations_left=registrations,
        agent_minutes=fleet.stats.agent_seconds / 60.0,
        busy_killed=fleet.stats.busy_killed,
        launched=launched,
        wall_s=time.monotonic() - started,
        passes=passes,
    )


class _NoLive:
    def __enter__(self) -> _NoLive:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, *_args: object, **_kwargs: object) -> None:
        return None


def _log_pass(console: Console, elapsed: float, report: PassReport) -> None:
    for pool in report.pools:
        console.print(
            f"[{elapsed:5.1f}s] {pool.pool}: queued={pool.queued} running={pool.running} idle={pool.idle} "
            f"starting={pool.starting} launched={pool.launched} drained={pool.drained} "
            f"stopped={pool.stopped} deleted={pool.deleted}" + (f" errors={pool.errors}" if pool.errors else ""),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
