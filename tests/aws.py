"""Shared moto helpers for tests: an ECS world an agent pool can launch into."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import boto3
from moto import mock_aws

from adoscale.config import PoolConfig, parse_config
from adoscale_lab.demo.aws import EcsWorld, create_ecs_world
from adoscale_lab.moto_rules.ecs import hold_tasks_running


@contextmanager
def served_moto() -> Iterator[str]:
    """Serve the moto state of this process (an active `mock_aws`) on 127.0.0.1, for other processes: the
    CLI run as a user runs it, or a Lambda function's own interpreter. Yields the endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@contextmanager
def ecs_world() -> Iterator[tuple[Any, EcsWorld]]:
    with mock_aws():
        hold_tasks_running()
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


def meet_in_observe(monkeypatch: Any, parties: int, timeout_s: float = 3.0) -> threading.Barrier:
    """Make concurrent passes observe before any of them acts: moto's ECS ListTasks (the last read of a
    pass) waits at a barrier for `parties` callers. A pass that is alone there (the others were kept out,
    e.g. by the lease) goes on after `timeout_s`: a bound on a wait, not a sleep that makes timing pass."""
    from moto.ecs.models import EC2ContainerServiceBackend

    barrier = threading.Barrier(parties)
    original = EC2ContainerServiceBackend.list_tasks

    def list_tasks(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=timeout_s)
        return result

    monkeypatch.setattr(EC2ContainerServiceBackend, "list_tasks", list_tasks)
    return barrier


def create_table(dynamodb: Any, name: str, key: str) -> Any:
    """An on-demand table with a string partition key, as the Terraform modules create them."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb


def create_lease_table(dynamodb: Any, name: str) -> Any:
    """Terraform's lease table: partition key `pool`."""
    return create_table(dynamodb, name, "pool")


def create_state_table(dynamodb: Any, name: str) -> Any:
    """The Environment-VM state table: partition key `instance_id`."""
    return create_table(dynamodb, name, "instance_id")


def refuse_spot(ecs: Any, *, failure: str | None = None, error: str | None = None) -> list[int]:
    """Make every RunTask that asks for a capacity provider strategy come back refused, as ECS answers a
    Spot refusal: `failure` in the response's failures (a shortage, an unsupported platform), or `error` as
    an InvalidParameterException. moto never refuses Spot, so a before-call handler answers instead (one
    that returns (http response, parsed) short-circuits the request). Returns the refused calls' counts."""
    refused: list[int] = []

    def no_spot(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        body = params.get("body", b"")
        sent = json.loads(body if isinstance(body, bytes | str) and body else "{}")
        if "capacityProviderStrategy" not in sent:
            return None
        refused.append(int(sent.get("count", 1)))
        if error is not None:
            message = {"Code": "InvalidParameterException", "Message": error}
            return SimpleNamespace(status_code=400), {"Error": message, "ResponseMetadata": {"HTTPStatusCode": 400}}
        return SimpleNamespace(status_code=200), {"tasks": [], "failures": [{"arn": "", "reason": failure}]}

    ecs.meta.events.register("before-call.ecs.RunTask", no_spot)
    return refused
