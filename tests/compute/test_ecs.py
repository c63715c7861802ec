"""ECS Fargate compute against moto: batching, tagging, listing, stopping, Spot fallback."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from adoscale.aws import CallCounter
from adoscale.compute import POOL_TAG, EcsCompute
from tests.aws import ecs_world, pool_config


def _run_task_calls(ecs: Any) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    ecs.meta.events.register("provide-client-params.ecs.RunTask", lambda params, **_: calls.append(dict(params)))
    return calls


def test_25_tasks_in_batches_of_at_most_10() -> None:
    with ecs_world() as (ecs, world):
        calls = _run_task_calls(ecs)
        counter = CallCounter()
        counter.attach(ecs)
        pool = pool_config(world)
        compute = EcsCompute(ecs, {pool.name: pool.ecs}, organization_url="https://dev.azure.com/acme")
        result = compute.launch(pool.name, 25, token="pass-1")
        assert len(result.started) == 25
        assert [c["count"] for c in calls] == [10, 10, 5]
        tokens = [c["clientToken"] for c in calls]
        assert len(set(tokens)) == 3 and all(len(t) <= 64 for t in tokens)
        assert counter.by_operation[("ecs", "RunTask")] == 3
        first = calls[0]
        assert first["startedBy"] == "adoscale/linux"
        assert first["tags"] == [{"key": POOL_TAG, "value": "linux"}]
        assert first["launchType"] == "FARGATE"
        env = {e["name"]: e["value"] for e in first["overrides"]["containerOverrides"][0]["environment"]}
        assert env == {"AZP_POOL": "linux", "AZP_URL": "https://dev.azure.com/acme"}
        listed = compute.list_tasks(pool.name)
        assert len(listed) == 25
        assert {t.pool for t in listed} == {"linux"} and {t.started_by for t in listed} == {"adoscale/linux"}
        assert all(t.last_status == "RUNNING" for t in listed)


def test_tasks_of_other_pools_are_not_listed_and_stop_is_idempotent() -> None:
    with ecs_world() as (ecs, world):
        linux, java = pool_config(world, "linux"), pool_config(world, "java")
        compute = EcsCompute(ecs, {"linux": linux.ecs, "java": java.ecs})
        compute.launch("linux", 2, token="a")
        compute.launch("java", 3, token="b")
        assert len(compute.list_tasks("linux")) == 2
        java_tasks = compute.list_tasks("java")
        assert len(java_tasks) == 3
        target = java_tasks[0].task_arn
        compute.stop("java", target, "adoscale: test")
        compute.stop("java", target, "adoscale: test again")  # already stopped: fine
        after = {t.task_arn: t for t in compute.list_tasks("java")}
        assert after[target].last_status == "STOPPED"
        assert after[target].stopped_reason == "adoscale: test again"


@pytest.mark.parametrize("spot_reason", ["Capacity is unavailable at this time. Please try again later."])
def test_spot_capacity_failure_falls_back_to_fargate(spot_reason: str) -> None:
    with ecs_world() as (ecs, world):
        pool = pool_config(world, ecs={"capacity_provider_strategy": [{"capacity_provider": "FARGATE_SPOT"}]})
        calls = _run_task_calls(ecs)

        def no_spot(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
            # AWS answers a Spot shortage with failures, not an exception; moto never does, so inject it.
            # A before-call handler that returns (http response, parsed) short-circuits the request.
            body = params.get("body", b"")
            if b"capacityProviderStrategy" in (body if isinstance(body, bytes) else body.encode()):
                return SimpleNamespace(status_code=200), {"tasks": [], "failures": [{"arn": "", "reason": spot_reason}]}
            return None

        ecs.meta.events.register("before-call.ecs.RunTask", no_spot)
        result = EcsCompute(ecs, {pool.name: pool.ecs}).launch(pool.name, 4, token="t")
        assert len(result.started) == 4
        assert result.fell_back_to_fargate == 4
        assert "capacityProviderStrategy" in calls[0] and calls[1]["launchType"] == "FARGATE"
        assert result.failures == ()


def test_started_by_fits_ecs_limit_for_long_pool_names() -> None:
    from adoscale.compute import started_by_for

    assert started_by_for("linux") == "adoscale/linux"
    long_a, long_b = "x" * 40 + "a", "x" * 40 + "b"
    assert len(started_by_for(long_a)) <= 36
    assert started_by_for(long_a) != started_by_for(long_b)


def test_a_runtask_whose_response_is_lost_launches_nothing_twice(idempotent_run_task: dict[str, Any]) -> None:
    """botocore retries a RunTask whose connection broke after ECS acted; the same clientToken makes the
    retry answer the first call's tasks instead of starting more (ECS's documented idempotency rule,
    which moto does not enforce: `idempotent_run_task` encodes it)."""
    with ecs_world() as (ecs, world):
        pool = pool_config(world)
        sent: list[int] = []

        def lose_first_response(attempts: int, **_: Any) -> float | None:
            # Called after each attempt: ECS has acted; answering "retry now" is what botocore does when the
            # connection drops before the response arrives.
            sent.append(attempts)
            return 0.0 if len(sent) == 1 else None

        ecs.meta.events.register_first("needs-retry.ecs.RunTask", lose_first_response)
        result = EcsCompute(ecs, {pool.name: pool.ecs}).launch(pool.name, 3, token="pass-1")
        assert len(sent) == 2  # botocore did send it twice
        assert len(result.started) == 3
        assert len(ecs.list_tasks(cluster=world.cluster)["taskArns"]) == 3


def test_the_same_launch_token_starts_nothing_twice(idempotent_run_task: dict[str, Any]) -> None:
    """A launch repeated with its token (the same pass's batch sent again) starts nothing more. botocore
    fills in a fresh `clientToken` per call when none is given, so only a token derived from the pass
    makes a repeat of the call itself idempotent."""
    with ecs_world() as (ecs, world):
        pool = pool_config(world)
        compute = EcsCompute(ecs, {pool.name: pool.ecs})
        first = compute.launch(pool.name, 3, token="pass-7")
        again = compute.launch(pool.name, 3, token="pass-7")
        assert {t.task_arn for t in again.started} == {t.task_arn for t in first.started}
        assert len(ecs.list_tasks(cluster=world.cluster)["taskArns"]) == 3


def test_a_failing_later_batch_keeps_the_earlier_batches_in_the_result() -> None:
    from botocore.exceptions import EndpointConnectionError

    with ecs_world() as (ecs, world):
        pool = pool_config(world, max_agents=30)
        seen: list[int] = []

        def fail_third(params: dict[str, Any], **_: Any) -> None:
            seen.append(1)
            if len(seen) == 3:
                raise EndpointConnectionError(endpoint_url="https://ecs.us-east-1.amazonaws.com")

        ecs.meta.events.register("provide-client-params.ecs.RunTask", fail_third)
        result = EcsCompute(ecs, {pool.name: pool.ecs}).launch(pool.name, 25, token="pass-2")
        assert len(result.started) == 20
        assert any("EndpointConnectionError" in f for f in result.failures)
