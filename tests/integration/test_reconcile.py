"""The reconcile loop end to end: the ADO emulator over HTTP on 127.0.0.1 and ECS in moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adoscale.ado import AdoClient
from adoscale.cli import app
from adoscale.cli.commands import register
from adoscale.compute import EcsCompute
from adoscale.control import Reconciler
from adoscale_lab.emulator import AdoModel
from tests.aws import config_for, ecs_world
from tests.clock import Clock
from tests.conftest import PAT


@dataclass
class World:
    model: AdoModel
    ecs: Any
    reconciler: Reconciler
    compute: EcsCompute
    clock: Clock
    config: Any
    run_task_counts: list[int]

    def live_tasks(self, pool: str = "linux") -> list[Any]:
        return [t for t in self.compute.list_tasks(self.config.pools[0].name) if t.last_status != "STOPPED"]

    def agent_for(self, task: Any, pool_id: int, busy_job: bool = False) -> int:
        """Play the agent inside `task`: it registers under the task id and comes online."""
        return self.model.register_agent(pool_id, task.task_id, {"docker": ""}, once=True)


@pytest.fixture
def world(model: AdoModel, org_url: str) -> Iterator[World]:
    clock = Clock()
    # One clock for the controller and the service: idle times then depend on the test's steps, not on how
    # long a loaded machine takes between them.
    model.clock = clock
    with ecs_world() as (ecs, ecs_resources):
        counts: list[int] = []
        ecs.meta.events.register(
            "provide-client-params.ecs.RunTask", lambda params, **_: counts.append(params["count"])
        )
        config = config_for(
            ecs_resources,
            org_url,
            [{"name": "linux", "max_agents": 20, "capabilities": ["docker"], "idle_timeout_seconds": 300}],
        )
        compute = EcsCompute(ecs, {p.name: p.ecs for p in config.pools}, organization_url=org_url, clock=clock)
        with AdoClient(org_url, PAT) as ado:
            yield World(model, ecs, Reconciler(config, ado, compute, clock), compute, clock, config, counts)


def test_25_queued_max_20_gets_exactly_20_then_nothing(world: World) -> None:
    pool = world.model.create_pool("linux")
    world.model.register_agent(pool, "adoscale-placeholder", {"docker": ""}, online=False)
    for _ in range(25):
        world.model.queue_job(pool, ["docker"])
    first = world.reconciler.run()
    assert first.ok, first.as_dict()
    report = first.pools[0]
    assert (report.queued, report.launched) == (25, 20)
    assert world.run_task_counts == [10, 10]
    assert len(world.live_tasks()) == 20
    second = world.reconciler.run().pools[0]
    assert second.launched == 0 and second.starting == 20
    assert world.run_task_counts == [10, 10]


def test_busy_agents_are_never_stopped_idle_ones_are_drained_placeholder_survives(world: World) -> None:
    pool = world.model.create_pool("linux")
    world.model.register_agent(pool, "adoscale-placeholder", {"docker": ""}, online=False)
    for _ in range(2):
        world.model.queue_job(pool, ["docker"])
    assert world.reconciler.run().pools[0].launched == 2
    tasks = world.live_tasks()
    busy_agent = world.agent_for(tasks[0], pool)
    world.agent_for(tasks[1], pool)
    assert world.model.agent(pool, busy_agent).assigned_request is not None
    # The second agent took the second job; finish that one: its agent goes offline (run once) ...
    second_job = world.model.agent(pool, world.model.agents(pool)[-1].id).assigned_request
    assert second_job is not None
    world.model.finish_job(second_job)
    # ... and a third task comes up and finds no job: idle.
    world.model.queue_job(pool, ["docker"])
    assert world.reconciler.run().pools[0].launched == 1
    third_task = next(t for t in world.live_tasks() if t.task_id not in {tasks[0].task_id, tasks[1].task_id})
    world.model.finish_job(world.model.unfinished_jobs(pool)[-1].request_id)  # cancelled before it got an agent
    idle_agent = world.agent_for(third_task, pool)

    # Meanwhile adoscale stopped the task whose run-once agent finished (its container was exiting).
    after_launch = {t.task_arn: t for t in world.compute.list_tasks(world.config.pools[0].name)}
    assert after_launch[tasks[1].task_arn].last_status == "STOPPED"

    world.clock.advance(301)  # past the idle timeout: the busy agent has been busy all along
    report = world.reconciler.run().pools[0]
    assert report.drained == 1
    assert report.deleted == 1  # the finished agent's registration, now that its task is stopped
    stopped = {t.task_arn: t for t in world.compute.list_tasks(world.config.pools[0].name)}
    assert stopped[third_task.task_arn].last_status == "STOPPED"
    assert stopped[tasks[0].task_arn].last_status == "RUNNING"  # busy: never stopped
    assert world.model.agent(pool, busy_agent).enabled
    assert world.model.agent(pool, idle_agent).enabled is False  # drained
    names = {a.name for a in world.model.agents(pool)}
    assert "adoscale-placeholder" in names and tasks[1].task_id not in names
    # Further passes leave the busy agent and the placeholder alone.
    for _ in range(3):
        world.clock.advance(600)
        world.reconciler.run()
    assert world.model.agent(pool, busy_agent).assigned_request is not None
    assert any(a.name == "adoscale-placeholder" for a in world.model.agents(pool))


def test_stalled_task_is_stopped_after_the_startup_timeout(world: World) -> None:
    pool = world.model.create_pool("linux")
    world.model.register_agent(pool, "adoscale-placeholder", {"docker": ""}, online=False)
    job = world.model.queue_job(pool, ["docker"])
    assert world.reconciler.run().pools[0].launched == 1
    world.model.finish_job(job, result="canceled")
    world.clock.advance(601)
    report = world.reconciler.run().pools[0]
    assert report.stopped == 1 and any("did not come online" in w for w in report.warnings)
    assert world.live_tasks() == []


def test_one_pool_failing_does_not_stop_the_others(world: World, org_url: str) -> None:
    pool = world.model.create_pool("linux")
    world.model.register_agent(pool, "adoscale-placeholder", online=False)
    world.model.queue_job(pool)
    ecs = world.config.pools[0].ecs.model_dump()
    config = config_for_two(world, org_url, ecs)
    with AdoClient(org_url, PAT) as ado:
        report = Reconciler(config, ado, world.compute, world.clock).run()
    by_pool = {p.pool: p for p in report.pools}
    assert by_pool["missing"].errors and "no agent pool named 'missing'" in by_pool["missing"].errors[0]
    assert by_pool["linux"].launched == 1 and not by_pool["linux"].errors
    assert not report.ok


def config_for_two(world: World, org_url: str, ecs: dict[str, Any]) -> Any:
    from adoscale.config import parse_config

    body = {
        "organization_url": org_url,
        "pools": [{"name": "missing", "ecs": ecs}, {"name": "linux", "ecs": ecs}],
    }
    return parse_config(json.dumps(body))


# -- the CLI over the same worlds ------------------------------------------------------------------------


@pytest.fixture
def config_file(tmp_path: Path, model: AdoModel, org_url: str) -> Iterator[tuple[Path, AdoModel]]:
    register()
    with ecs_world() as (_ecs, resources):
        config = config_for(resources, org_url, [{"name": "linux", "max_agents": 3}])
        path = tmp_path / "adoscale.json"
        path.write_text(config.model_dump_json())
        yield path, model


def test_cli_reconcile_json_and_dry_run(config_file: tuple[Path, AdoModel], monkeypatch: pytest.MonkeyPatch) -> None:
    path, model = config_file
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    for _ in range(5):
        model.queue_job(pool)
    monkeypatch.setenv("AZP_TOKEN", PAT)
    runner = CliRunner()
    dry = runner.invoke(app, ["reconcile", "--config", str(path), "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    body = json.loads(dry.stdout)
    assert body["pools"][0]["launched"] == 3 and body["pools"][0]["queued"] == 5
    keys = {"pool", "queued", "running", "idle", "starting", "launched", "drained", "stopped", "deleted", "errors"}
    assert keys <= set(body["pools"][0])
    real = runner.invoke(app, ["reconcile", "--config", str(path), "--json"])
    assert json.loads(real.stdout)["pools"][0]["launched"] == 3
    again = runner.invoke(app, ["reconcile", "--config", str(path), "--json"])
    assert json.loads(again.stdout)["pools"][0]["launched"] == 0
    assert PAT not in dry.output + real.output + again.output


def test_cli_bad_pat_exits_3(config_file: tuple[Path, AdoModel], monkeypatch: pytest.MonkeyPatch) -> None:
    path, model = config_file
    model.create_pool("linux")
    monkeypatch.setenv("AZP_TOKEN", "expired-token-value")
    result = CliRunner().invoke(app, ["reconcile", "--config", str(path)])
    assert result.exit_code == 3
    assert "invalid, expired, or lacks a scope" in result.output
    assert "expired-token-value" not in result.output and "Traceback" not in result.output
