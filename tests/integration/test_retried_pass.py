"""A retried pass launches nothing twice (issue 10: "3 queued jobs became 9 tasks after three attempts").

The workflow's one unit of work is the `pass` Lambda; its Retry re-invokes it with the same input when
it raises a transient error, and the pass then observes again instead of replaying a stale plan. Here a
pass fails after its RunTask succeeded (ECS StopTask throttled, or Azure DevOps answering 503 on the
agent it was about to delete), is retried exactly as the deployed state machine's Retry says (its
error list and MaxAttempts are read from the rendered definition), and the tasks still equal the queue.
The ADO emulator runs over HTTP on 127.0.0.1; ECS and the lease table are moto.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adoscale.compute import EcsCompute
from adoscale.handlers import _runtime, pass_
from adoscale.transient import AwsUnavailableError
from adoscale.workflow import PLACEHOLDERS, render
from adoscale_lab.emulator import AdoModel, FaultRule, Faults
from tests.aws import config_for, create_lease_table
from tests.conftest import PAT

QUEUED = 3
TABLE = "adoscale-leases"
DEAD_AGENT = "ab" * 16  # a name adoscale makes (a task id) whose task is gone: a dead registration


class Context:
    """A Lambda context with a few seconds left: the pass's deadline is what remains less the margin."""

    function_name = "adoscale-pass"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:adoscale-pass"
    aws_request_id = "req"

    def get_remaining_time_in_millis(self) -> int:
        return int((pass_.LAMBDA_MARGIN_S + 2.0) * 1000)


def _pool_pass_retry() -> tuple[set[str], int]:
    """The deployed per-pool pass state's Retry: the errors it retries and how many times."""
    values = {name: f"arn:aws:lambda:us-east-1:123456789012:function:{name}" for name in PLACEHOLDERS}
    machine = json.loads(render(values))
    each_pool = machine["States"]["Rounds"]["Iterator"]["States"]["EachPool"]
    state = each_pool["Iterator"]["States"]["PoolPass"]
    (rule,) = [r for r in state["Retry"] if "AdoUnavailableError" in r["ErrorEquals"]]
    return set(rule["ErrorEquals"]), int(rule["MaxAttempts"])


def invoke_as_the_workflow(event: dict[str, Any]) -> tuple[list[str], dict[str, Any] | None]:
    """One PoolPass state: the invocation and its retries. Answers the errors raised, and the result (None
    when the retries ran out: the state's Catch alerts and the next round carries on)."""
    retried, max_attempts = _pool_pass_retry()
    errors: list[str] = []
    for _attempt in range(1 + max_attempts):
        try:
            return errors, pass_.handler(dict(event), Context())
        except Exception as exc:  # a function error, as Lambda reports it (errorType: the class name)
            errors.append(type(exc).__name__)
            if type(exc).__name__ not in retried:
                break
    return errors, None


@pytest.fixture
def aws(model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str, list[int]]]:
    from adoscale_lab.demo.aws import create_ecs_world
    from adoscale_lab.moto_rules.ecs import hold_tasks_running

    _runtime.client.cache_clear()
    with mock_aws():
        hold_tasks_running()
        ecs = boto3.client("ecs", region_name="us-east-1")
        world = create_ecs_world(boto3.client("ec2", region_name="us-east-1"), ecs)
        create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        config = config_for(world, org_url, [{"name": "linux", "max_agents": 30}])
        monkeypatch.setenv("ADOSCALE_CONFIG", config.model_dump_json())
        monkeypatch.setenv("ADOSCALE_LEASE_TABLE", TABLE)
        monkeypatch.setenv("AZP_TOKEN", PAT)
        # Every RunTask the pass Lambda makes, by its count.
        run_task_counts: list[int] = []
        _runtime.client("ecs").meta.events.register(
            "provide-client-params.ecs.RunTask", lambda params, **_: run_task_counts.append(params["count"])
        )
        yield ecs, world.cluster, run_task_counts
    _runtime.client.cache_clear()


def _live(ecs: Any, cluster: str) -> set[str]:
    return set(ecs.list_tasks(cluster=cluster, desiredStatus="RUNNING")["taskArns"])


def test_a_pass_whose_stop_fails_after_runtask_is_retried_and_launches_nothing_twice(
    aws: tuple[Any, str, list[int]], model: AdoModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    ecs, cluster, run_task_counts = aws
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    # An earlier pass's task whose run-once agent finished its job: this pass stops it, after launching.
    earlier = EcsCompute.for_config(ecs, pass_.load_config()).launch("linux", 1, token="an-earlier-pass")
    (finished_task,) = earlier.started
    job = model.queue_job(pool)
    model.register_agent(pool, finished_task.task_id, once=True)
    model.finish_job(job)
    for _ in range(QUEUED):
        model.queue_job(pool)

    def throttled(self: EcsCompute, pool: str, task_arn: str, reason: str) -> None:
        raise AwsUnavailableError("StopTask: ThrottlingException")

    recovered = EcsCompute.stop
    monkeypatch.setattr(EcsCompute, "stop", throttled)
    errors, result = invoke_as_the_workflow({"action": "pass", "pool": "linux"})
    _, max_attempts = _pool_pass_retry()
    assert errors == ["AwsUnavailableError"] * (1 + max_attempts)  # every attempt got past the lease
    assert result is None
    launched = _live(ecs, cluster) - {finished_task.task_arn}
    assert len(launched) == QUEUED  # the first attempt's launch, and nothing more
    assert run_task_counts == [QUEUED]

    # The next round, with ECS recovered: stops the finished task, launches nothing.
    monkeypatch.setattr(EcsCompute, "stop", recovered)
    errors, result = invoke_as_the_workflow({"action": "pass", "pool": "linux"})
    assert errors == [] and result is not None
    report = result["report"]
    assert report["skipped"] is None and (report["launched"], report["stopped"]) == (0, 1)
    assert _live(ecs, cluster) == launched
    assert run_task_counts == [QUEUED]


def test_a_pass_that_meets_ado_503s_after_runtask_is_retried_and_launches_nothing_twice(
    aws: tuple[Any, str, list[int]], model: AdoModel, faults: Faults
) -> None:
    ecs, cluster, run_task_counts = aws
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    dead = model.register_agent(pool, DEAD_AGENT, online=False)
    for _ in range(QUEUED):
        model.queue_job(pool)
    # ADO fails every request about the dead registration: the pass launches, then cannot delete it.
    faults.rules = [FaultRule(route=f"/agents/{dead}", error_5xx=1.0)]

    errors, result = invoke_as_the_workflow({"action": "pass", "pool": "linux"})
    _, max_attempts = _pool_pass_retry()
    assert errors == ["AdoUnavailableError"] * (1 + max_attempts)
    assert result is None
    assert len(_live(ecs, cluster)) == QUEUED
    assert run_task_counts == [QUEUED]
    assert any(a.id == dead for a in model.agents(pool))

    faults.rules = []  # ADO recovers: the next round deletes the registration and launches nothing
    errors, result = invoke_as_the_workflow({"action": "pass", "pool": "linux"})
    assert errors == [] and result is not None
    assert (result["report"]["launched"], result["report"]["deleted"]) == (0, 1)
    assert len(_live(ecs, cluster)) == QUEUED
    assert run_task_counts == [QUEUED]
    assert all(a.id != dead for a in model.agents(pool))
