"""Acceptance (issue 19, item 5): a pool named as Azure DevOps allows, `Linux Docker (x64) v2.0`, scales
end to end (the ADO emulator over HTTP on 127.0.0.1, ECS in moto) with every ECS request within ECS's
documented rules: the rule book (`adoscale_lab.moto_rules.ecs`) refuses any other, as ECS would, and the recorded
calls are checked here as well."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from adoscale.ado import AdoClient
from adoscale.compute import EcsCompute
from adoscale.control import Reconciler
from adoscale_lab.emulator import AdoModel
from adoscale_lab.moto_rules.ecs import EcsRules, started_by_violations, tag_violations
from tests.aws import config_for, ecs_world, refuse_spot
from tests.clock import Clock
from tests.conftest import PAT

POOL = "Linux Docker (x64) v2.0"
# What ListTasks may carry beside startedBy: where to list and how to page; nothing that filters.
NOT_FILTERS = {"cluster", "startedBy", "nextToken", "maxResults"}


@dataclass
class World:
    model: AdoModel
    ecs: Any
    reconciler: Reconciler
    pool_id: int


def _world(model: AdoModel, org_url: str, **pool: Any) -> Iterator[World]:
    clock = Clock()
    model.clock = clock
    with ecs_world() as (ecs, resources):
        config = config_for(resources, org_url, [{"name": POOL, "max_agents": 10, "capabilities": ["docker"], **pool}])
        pool_id = model.create_pool(POOL)
        model.register_agent(pool_id, "adoscale-placeholder", {"docker": ""}, online=False)
        compute = EcsCompute(ecs, {p.name: p.ecs for p in config.pools}, organization_url=org_url, clock=clock)
        with AdoClient(org_url, PAT) as ado:
            yield World(model, ecs, Reconciler(config, ado, compute, clock), pool_id)


@pytest.fixture
def world(model: AdoModel, org_url: str) -> Iterator[World]:
    yield from _world(model, org_url)


def test_one_pass_launches_the_pools_jobs_with_valid_requests_and_a_second_launches_none(
    world: World, ecs_rules: EcsRules
) -> None:
    for _ in range(4):
        world.model.queue_job(world.pool_id, ["docker"])
    first = world.reconciler.run()
    assert first.ok, first.as_dict()
    assert (first.pools[0].queued, first.pools[0].launched) == (4, 4)
    second = world.reconciler.run()
    assert second.ok, second.as_dict()
    # The second pass found the first one's tasks (by startedBy and tag) and counts them as starting.
    assert (second.pools[0].launched, second.pools[0].starting) == (0, 4)

    assert ecs_rules.broken == []
    [run] = ecs_rules.of("RunTask")
    assert run["count"] == 4
    assert started_by_violations(run["startedBy"]) == [] and tag_violations(run["tags"]) == []
    environment = {e["name"]: e["value"] for e in run["overrides"]["containerOverrides"][0]["environment"]}
    assert environment["AZP_POOL"] == POOL  # the agent registers in the pool by its real name
    listed = ecs_rules.of("ListTasks")
    by_started_by = [call for call in listed if "startedBy" in call]
    assert len(by_started_by) >= 2, "each pass lists the pool's tasks by startedBy"
    assert all(set(call) <= NOT_FILTERS for call in by_started_by), by_started_by
    assert {call["startedBy"] for call in by_started_by} == {run["startedBy"]}
    assert all("startedBy" not in call for call in ecs_rules.of("TagResource"))


@pytest.fixture
def spot_world(model: AdoModel, org_url: str) -> Iterator[World]:
    yield from _world(model, org_url, ecs={"capacity_provider_strategy": [{"capacity_provider": "FARGATE_SPOT"}]})


def test_a_spot_refusal_launches_on_fargate_and_the_pass_reports_why(spot_world: World) -> None:
    reason = "Fargate Spot does not support platform version 1.3.0"
    refused = refuse_spot(spot_world.ecs, failure=reason)
    for _ in range(3):
        spot_world.model.queue_job(spot_world.pool_id, ["docker"])
    report = spot_world.reconciler.run().pools[0]
    assert refused == [3]
    assert report.launched == 3 and report.errors == []
    assert any("3 task(s) fell back from FARGATE_SPOT to FARGATE" in w and reason in w for w in report.warnings)
