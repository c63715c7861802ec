"""The rule book in `adoscale_lab.moto_rules.ecs` catches each rule it claims to, and moto then refuses the call as
ECS would; a rule book that caught nothing would make every ECS test pass vacuously."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from adoscale_lab.moto_rules.ecs import EcsRules, violations
from tests.aws import ecs_world

GOOD_RUN = {
    "count": 1,
    "startedBy": "adoscale/linux",
    "tags": [{"key": "adoscale:pool", "value": "Linux Docker x64 v2.0"}],
    "clientToken": "a" * 64,
    "overrides": {"containerOverrides": [{"name": "agent", "environment": [{"name": "A", "value": "b"}]}]},
}


def _env(size: int) -> dict[str, Any]:
    return {"containerOverrides": [{"name": "agent", "environment": [{"name": "A", "value": "x" * size}]}]}


def test_a_request_within_the_rules_passes() -> None:
    assert violations("RunTask", GOOD_RUN) == []
    assert violations("ListTasks", {"cluster": "c", "startedBy": "adoscale/linux"}) == []
    assert violations("ListTasks", {"cluster": "c", "family": "agent", "desiredStatus": "STOPPED"}) == []


@pytest.mark.parametrize(
    ("operation", "change"),
    [
        ("RunTask", {"startedBy": "adoscale/Linux Docker (x64)"}),
        ("RunTask", {"startedBy": "adoscale/" + "x" * 28}),
        ("RunTask", {"tags": [{"key": "adoscale:pool", "value": "Linux Docker (x64) v2.0"}]}),
        ("RunTask", {"tags": [{"key": "adoscale:pool", "value": "x" * 257}]}),
        ("RunTask", {"tags": [{"key": "", "value": "x"}]}),
        ("RunTask", {"tags": [{"key": "aws:pool", "value": "x"}]}),
        ("RunTask", {"tags": [{"key": "pool", "value": "AWS:x"}]}),
        ("RunTask", {"count": 11}),
        ("RunTask", {"clientToken": "a" * 65}),
        ("RunTask", {"overrides": _env(8192)}),
        ("ListTasks", {"startedBy": "adoscale/linux", "desiredStatus": "STOPPED"}),
        ("ListTasks", {"startedBy": "adoscale/linux", "family": "agent"}),
        ("TagResource", {"tags": [{"key": "adoscale:pool", "value": "a[b]"}]}),
    ],
)
def test_each_rule_catches_what_breaks_it(operation: str, change: dict[str, Any]) -> None:
    base = GOOD_RUN if operation == "RunTask" else {"cluster": "c"}
    assert violations(operation, {**base, **change}) != []


def test_overrides_are_measured_as_sent() -> None:
    """`_env(n)` serialises to n + 88 characters with json.dumps' default separators."""
    assert violations("RunTask", {**GOOD_RUN, "overrides": _env(8192 - 88)}) == []
    assert violations("RunTask", {**GOOD_RUN, "overrides": _env(8192 - 87)}) != []


def test_moto_refuses_a_broken_call_and_lists_running_tasks_by_default(ecs_rules: EcsRules) -> None:
    with ecs_world() as (ecs, world):
        network = {
            "awsvpcConfiguration": {"subnets": list(world.subnets), "securityGroups": list(world.security_groups)}
        }
        run = {"cluster": world.cluster, "taskDefinition": world.task_definition, "networkConfiguration": network}
        with pytest.raises(ClientError, match="InvalidParameterException"):
            ecs.run_task(**run, launchType="FARGATE", startedBy="adoscale/a pool")
        assert ecs_rules.broken and ecs_rules.broken[-1][0] == "RunTask"
        arns = [t["taskArn"] for t in ecs.run_task(**run, launchType="FARGATE", count=2, startedBy="me")["tasks"]]
        ecs.stop_task(cluster=world.cluster, task=arns[0], reason="test")
        assert ecs.list_tasks(cluster=world.cluster, startedBy="me")["taskArns"] == [arns[1]]
        assert ecs.list_tasks(cluster=world.cluster, desiredStatus="STOPPED")["taskArns"] == [arns[0]]
        with pytest.raises(ClientError, match="only filter"):
            ecs.list_tasks(cluster=world.cluster, startedBy="me", desiredStatus="STOPPED")
