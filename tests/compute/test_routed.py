"""A configuration with a Fargate pool and an EC2 pool: each pool's calls reach its own adapter."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from adoscale.compute.routed import RoutedCompute
from adoscale.config import parse_config
from adoscale_lab.moto_rules.ec2 import Ec2Fleets, create_ec2_world
from tests.aws import ecs_world


def test_each_pool_launches_lists_and_stops_on_its_own_service(monkeypatch: pytest.MonkeyPatch) -> None:
    Ec2Fleets.install(monkeypatch)
    with ecs_world() as (_ecs, world):
        ec2 = boto3.client("ec2", region_name="us-east-1")
        resources = create_ec2_world(ec2)
        ecs_settings = {
            "cluster": world.cluster,
            "task_definition": world.task_definition,
            "container_name": world.container_name,
            "subnets": list(world.subnets),
            "security_groups": list(world.security_groups),
        }
        ec2_settings = {
            "launch_template": resources.launch_template,
            "instance_types": ["m7i.large"],
            "subnets": list(resources.subnets),
        }
        body = {
            "organization_url": "https://dev.azure.com/acme",
            "pools": [{"name": "linux", "ecs": ecs_settings}, {"name": "docker", "ec2": ec2_settings}],
        }
        made: list[str] = []

        def make_client(service: str) -> Any:
            made.append(service)
            return boto3.client(service, region_name="us-east-1")

        compute = RoutedCompute.for_config(make_client, parse_config(json.dumps(body)))
        assert sorted(made) == ["ec2", "ecs"]
        task = compute.launch("linux", 1, token="a").started[0]
        instance = compute.launch("docker", 1, token="b").started[0]
        assert task.task_arn.startswith("arn:aws:ecs:") and instance.task_arn.startswith("i-")
        assert [t.task_arn for t in compute.list_tasks("linux")] == [task.task_arn]
        assert [t.task_arn for t in compute.list_tasks("docker")] == [instance.task_arn]
        compute.stop("docker", instance.task_arn, "adoscale: test")
        assert compute.list_tasks("docker")[0].last_status == "STOPPED"
        assert compute.list_tasks("linux")[0].last_status == "RUNNING"
        with pytest.raises(KeyError, match="no placement configured for pool 'java'"):
            compute.list_tasks("java")


def test_a_fargate_only_configuration_makes_no_ec2_client() -> None:
    body = {
        "organization_url": "https://dev.azure.com/acme",
        "pools": [{"name": "linux", "ecs": {"cluster": "c", "task_definition": "t", "subnets": ["subnet-1"]}}],
    }
    made: list[str] = []
    RoutedCompute.for_config(lambda service: made.append(service), parse_config(json.dumps(body)))
    assert made == ["ecs"]
