"""An EC2 pool end to end (issue 23's acceptance): the ADO emulator over HTTP on 127.0.0.1, EC2 in moto with
EC2's CreateFleet rules (`adoscale_lab.moto_rules.ec2`), the real reconcile pass routed by pool type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from adoscale.ado import AdoClient
from adoscale.compute.ec2 import STARTED_BY_TAG
from adoscale.compute.identity import POOL_TAG
from adoscale.compute.routed import RoutedCompute
from adoscale.config import Config, parse_config
from adoscale.control import Reconciler
from adoscale_lab.emulator import AdoModel
from adoscale_lab.moto_rules.ec2 import Ec2Fleets, Ec2World, create_ec2_world
from tests.clock import Clock
from tests.conftest import PAT


@dataclass
class World:
    model: AdoModel
    ec2: Any
    resources: Ec2World
    fleets: Ec2Fleets
    reconciler: Reconciler
    compute: RoutedCompute
    clock: Clock
    config: Config
    terminated: list[tuple[str, bool, bool]]  # (instance, its agent enabled?, busy?) when TerminateInstances ran

    def instances(self, live: bool = True) -> list[dict[str, Any]]:
        found = [i for r in self.ec2.describe_instances()["Reservations"] for i in r["Instances"]]
        return [i for i in found if not live or i["State"]["Name"] in ("pending", "running")]


@pytest.fixture
def world(model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    from moto import mock_aws

    clock = Clock()
    model.clock = clock
    fleets = Ec2Fleets.install(monkeypatch)
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        resources = create_ec2_world(ec2)
        body = {
            "organization_url": org_url,
            "pools": [
                {
                    "name": "docker",
                    "max_agents": 10,
                    "capabilities": ["docker"],
                    "ec2": {
                        "launch_template": resources.launch_template_name,
                        "instance_types": ["m7i.large", "m6i.large"],
                        "subnets": list(resources.subnets),
                        "spot": True,
                    },
                }
            ],
        }
        config = parse_config(json.dumps(body), source="<test>")
        compute = RoutedCompute.for_config(lambda service: boto3.client(service, region_name="us-east-1"), config)
        terminated: list[tuple[str, bool, bool]] = []

        def record(params: dict[str, Any], **_: Any) -> None:
            pool = model.pool_by_name("docker").id
            for instance_id in params["InstanceIds"]:
                agent = next((a for a in model.agents(pool) if a.name == instance_id), None)
                enabled = agent.enabled if agent else False
                terminated.append((instance_id, enabled, bool(agent and agent.assigned_request is not None)))

        with AdoClient(org_url, PAT) as ado:
            reconciler = Reconciler(config, ado, compute, clock)
            # Registered after the reconciler made its clients: the routed compute made the EC2 one here.
            boto3_ec2 = compute._route("docker")._ec2  # type: ignore[attr-defined]
            boto3_ec2.meta.events.register("provide-client-params.ec2.TerminateInstances", record)
            yield World(model, ec2, resources, fleets, reconciler, compute, clock, config, terminated)


def _register(world: World, pool: int, instance_id: str) -> int:
    """Play the agent inside an instance: it names itself after the instance id (IMDSv2) and comes online."""
    return world.model.register_agent(pool, instance_id, {"docker": ""}, once=True)


def test_four_docker_jobs_get_four_instances_then_nothing(world: World) -> None:
    pool = world.model.create_pool("docker")
    world.model.register_agent(pool, "adoscale-placeholder", {"docker": ""}, online=False)
    for _ in range(4):
        world.model.queue_job(pool, ["docker"])
    first = world.reconciler.run()
    assert first.ok, first.as_dict()
    assert (first.pools[0].queued, first.pools[0].launched) == (4, 4)
    instances = world.instances()
    assert len(instances) == 4
    for instance in instances:
        tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
        assert tags[POOL_TAG] == "docker" and tags[STARTED_BY_TAG] == "adoscale/docker"
        assert instance["SubnetId"] in world.resources.subnets
        assert instance["ImageId"] == world.resources.image_id
    (call,) = world.fleets.calls
    spec = call["LaunchTemplateConfigs"][0]["LaunchTemplateSpecification"]
    assert spec["LaunchTemplateName"] == world.resources.launch_template_name
    assert call["ClientToken"] and call["TargetCapacitySpecification"]["TotalTargetCapacity"] == 4
    second = world.reconciler.run().pools[0]
    assert second.launched == 0 and second.starting == 4
    assert len(world.fleets.calls) == 1 and len(world.instances()) == 4


def test_a_spot_shortage_is_reported_in_ec2_terms(world: World) -> None:
    """The pass report says what happened to an EC2 pool (Spot instances to On-Demand ones), not Fargate's words."""
    pool = world.model.create_pool("docker")
    world.model.register_agent(pool, "adoscale-placeholder", {"docker": ""}, online=False)
    for _ in range(3):
        world.model.queue_job(pool, ["docker"])
    world.fleets.limit(1, "spot")
    report = world.reconciler.run().pools[0]
    assert report.launched == 3 and report.errors == []
    [warning] = [w for w in report.warnings if "fell back" in w]
    assert warning.startswith("2 instance(s) fell back from Spot to On-Demand: ")
    assert "InsufficientInstanceCapacity" in warning
    assert "FARGATE" not in warning and "task(s)" not in warning


def test_an_idle_instance_is_terminated_after_its_drain_a_busy_one_never(world: World) -> None:
    pool = world.model.create_pool("docker")
    world.model.register_agent(pool, "adoscale-placeholder", {"docker": ""}, online=False)
    for _ in range(2):
        world.model.queue_job(pool, ["docker"])
    assert world.reconciler.run().pools[0].launched == 2
    busy_id, idle_id = sorted(i["InstanceId"] for i in world.instances())
    busy = _register(world, pool, busy_id)
    assert world.model.agent(pool, busy).assigned_request is not None
    # The second job is cancelled before the second agent comes up: that agent finds nothing to do.
    world.model.finish_job(world.model.unfinished_jobs(pool)[-1].request_id, result="canceled")
    idle = _register(world, pool, idle_id)
    assert world.model.agent(pool, idle).assigned_request is None
    world.clock.advance(301)  # past the idle timeout
    report = world.reconciler.run().pools[0]
    assert report.drained == 1, report.as_dict()
    # Terminated once, and only after the drain disabled its agent and a re-read found it not busy.
    assert world.terminated == [(idle_id, False, False)]
    live = {i["InstanceId"] for i in world.instances()}
    assert live == {busy_id}
    for _ in range(3):
        world.clock.advance(600)
        world.reconciler.run()
    assert all(instance != busy_id for instance, _, _ in world.terminated)
    assert world.model.agent(pool, busy).assigned_request is not None


def test_an_instance_whose_agent_never_registers_is_reclaimed(world: World) -> None:
    pool = world.model.create_pool("docker")
    world.model.register_agent(pool, "adoscale-placeholder", {"docker": ""}, online=False)
    job = world.model.queue_job(pool, ["docker"])
    assert world.reconciler.run().pools[0].launched == 1
    world.model.finish_job(job, result="canceled")
    # Past startup_timeout_seconds (600): moto stamps LaunchTime from the wall clock, a moment after the test
    # clock started, so a minute more than the timeout.
    world.clock.advance(660)
    report = world.reconciler.run().pools[0]
    assert report.stopped == 1 and any("did not come online" in w for w in report.warnings)
    assert world.instances() == []
    assert len(world.terminated) == 1
