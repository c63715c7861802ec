"""ECS Fargate compute against moto: batching, tagging, listing, stopping, Spot fallback."""

from __future__ import annotations

from typing import Any

import pytest

from adoscale.aws import CallCounter
from adoscale.compute import POOL_TAG, EcsCompute
from adoscale_lab.moto_rules.ecs import EcsRules
from tests.aws import ecs_world, pool_config, refuse_spot


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


SPOT_POOL = {"capacity_provider_strategy": [{"capacity_provider": "FARGATE_SPOT"}]}


@pytest.mark.parametrize(
    "reason",
    [
        "Capacity is unavailable at this time. Please try again later.",
        # Refusals that are not about capacity: AWS's pages have disagreed over time on what FARGATE_SPOT takes.
        "Fargate Spot does not support platform version 1.3.0",
        "The ARM64 CPU architecture is not supported on FARGATE_SPOT",
    ],
)
def test_any_spot_failure_falls_back_to_fargate_and_says_why(reason: str) -> None:
    with ecs_world() as (ecs, world):
        pool = pool_config(world, ecs=SPOT_POOL)
        calls = _run_task_calls(ecs)
        refused = refuse_spot(ecs, failure=reason)
        result = EcsCompute(ecs, {pool.name: pool.ecs}).launch(pool.name, 4, token="t")
        assert len(result.started) == 4
        assert result.fell_back == 4
        assert refused == [4] and calls[1]["launchType"] == "FARGATE"
        assert any(reason in refusal for refusal in result.spot_refusals)
        assert result.failures == ()


def test_spot_refusing_the_request_falls_back_and_later_batches_go_to_fargate() -> None:
    """An InvalidParameterException for the Spot strategy (e.g. an unsupported platform version) is a
    refusal too; it will refuse every batch the same way, so the launch's later batches skip Spot."""
    with ecs_world() as (ecs, world):
        pool = pool_config(world, max_agents=30, ecs=SPOT_POOL)
        calls = _run_task_calls(ecs)
        refused = refuse_spot(ecs, error="Fargate Spot is not supported for platform version 1.3.0")
        result = EcsCompute(ecs, {pool.name: pool.ecs}).launch(pool.name, 25, token="t")
        assert len(result.started) == 25 and result.fell_back == 10
        assert refused == [10]
        assert [c.get("launchType") for c in calls[1:]] == ["FARGATE", "FARGATE", "FARGATE"]
        assert len({c["clientToken"] for c in calls}) == len(calls)
        assert any("platform version 1.3.0" in refusal for refusal in result.spot_refusals)


def test_a_broken_connection_on_spot_is_no_refusal_to_fall_back_from() -> None:
    """No answer is not a refusal: ECS may have started the tasks, and a FARGATE launch could double them."""
    from botocore.exceptions import EndpointConnectionError

    with ecs_world() as (ecs, world):
        pool = pool_config(world, ecs=SPOT_POOL)
        calls = _run_task_calls(ecs)

        def broken(params: dict[str, Any], **_: Any) -> None:
            raise EndpointConnectionError(endpoint_url="https://ecs.us-east-1.amazonaws.com")

        ecs.meta.events.register("before-call.ecs.RunTask", broken)
        result = EcsCompute(ecs, {pool.name: pool.ecs}).launch(pool.name, 4, token="t")
        assert result.started == () and result.fell_back == 0 and result.spot_refusals == ()
        assert all("capacityProviderStrategy" in c for c in calls)
        assert any("EndpointConnectionError" in f for f in result.failures)


def test_pools_alike_once_sanitised_see_only_their_own_tasks(ecs_rules: EcsRules) -> None:
    names = ("Linux Docker (x64) v2.0", "Linux Docker [x64] v2.0")
    with ecs_world() as (ecs, world):
        pools = {name: pool_config(world, name).ecs for name in names}
        compute = EcsCompute(ecs, pools)
        launched = {
            name: {t.task_arn for t in compute.launch(name, n, token=name).started}
            for name, n in zip(names, (2, 3), strict=True)
        }
        for name in names:
            listed = compute.list_tasks(name)
            assert {t.task_arn for t in listed} == launched[name]
            assert {t.pool for t in listed} == {name}
        run = ecs_rules.of("RunTask")
        assert len({c["startedBy"] for c in run}) == 2 and len({c["tags"][0]["value"] for c in run}) == 2
        env = [{e["name"]: e["value"] for e in c["overrides"]["containerOverrides"][0]["environment"]} for c in run]
        assert [e["AZP_POOL"] for e in env] == list(names)  # the agent still registers in the real pool
        assert ecs_rules.broken == []


def test_stopped_tasks_are_listed_without_filtering_by_started_by_and_status_together(ecs_rules: EcsRules) -> None:
    with ecs_world() as (ecs, world):
        linux, java = pool_config(world, "linux"), pool_config(world, "java")
        compute = EcsCompute(ecs, {"linux": linux.ecs, "java": java.ecs})
        java_tasks = [t.task_arn for t in compute.launch("java", 3, token="j").started]
        linux_task = compute.launch("linux", 1, token="l").started[0].task_arn
        for arn in java_tasks:
            compute.stop("java", arn, "adoscale: test")
        compute.stop("linux", linux_task, "adoscale: test")
        described: list[list[str]] = []
        ecs.meta.events.register(
            "provide-client-params.ecs.DescribeTasks", lambda params, **_: described.append(list(params["tasks"]))
        )
        assert {(t.task_arn, t.desired_status) for t in compute.list_tasks("linux")} == {(linux_task, "STOPPED")}
        assert set(java_tasks) <= {arn for batch in described for arn in batch}
        described.clear()
        compute.list_tasks("linux")
        # java's stopped tasks were someone else's the first time; their startedBy never changes.
        assert not set(java_tasks) & {arn for batch in described for arn in batch}
        listed = ecs_rules.of("ListTasks")
        assert listed and all(set(c) & {"startedBy", "desiredStatus"} != {"startedBy", "desiredStatus"} for c in listed)
        assert ecs_rules.broken == []


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
