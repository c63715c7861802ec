"""Shared moto helpers for tests: an ECS world an agent pool can launch into."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto import mock_aws

from adoscale.config import PoolConfig, parse_config
from adoscale.demo.aws import EcsWorld, create_ecs_world, hold_moto_tasks_running


@contextmanager
def ecs_world() -> Iterator[tuple[Any, EcsWorld]]:
    with mock_aws():
        hold_moto_tasks_running()
        ecs = boto3.client("ecs", region_name="us-east-1")
        world = create_ecs_world(boto3.client("ec2", region_name="us-east-1"), ecs)
        yield ecs, world


def pool_config(
    world: EcsWorld, name: str = "linux", org_url: str = "https://dev.azure.com/acme", **extra: Any
) -> PoolConfig:
    return config_for(world, org_url, [{"name": name, **extra}]).pools[0]


def config_for(world: EcsWorld, org_url: str, pools: list[dict[str, Any]]) -> Any:
    import json

    ecs = {
        "cluster": world.cluster,
        "task_definition": world.task_definition,
        "container_name": world.container_name,
        "subnets": list(world.subnets),
        "security_groups": list(world.security_groups),
    }
    body = {"organization_url": org_url, "pools": [{**p, "ecs": {**ecs, **p.get("ecs", {})}} for p in pools]}
    return parse_config(json.dumps(body), source="<test>")
