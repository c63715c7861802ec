"""The schedule's back-off with hooks (`adoscale.workflow.backoff`): the pure plan, the schedule's input, and
the rendered workflow run in moto's interpreter with the built zip's handlers against the ADO emulator: an
idle execution that is not due makes no Azure DevOps call and runs no round; a pool with a live task is
observed; a failed plan alerts and observes every pool."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adoscale.compute.base import TaskInfo
from adoscale.config import parse_config
from adoscale.workflow import DEFAULT_INPUT, HOOK_ROUNDS, hooks_input, schedule_input
from adoscale.workflow.backoff import (
    IDLE_EVERY_MINUTES,
    PoolActivity,
    activity,
    due,
    keeps_agents,
    plan_execution,
)
from adoscale_lab.emulator import AdoModel
from tests.workflow.conftest import Routing
from tests.workflow.test_workflow import _alerts, _finish, _machine, _world

OFFSETS = [0, 15, 30, 45]
ECS = {"cluster": "adoscale", "task_definition": "agent", "subnets": ["subnet-1"]}
ON_THE_HOUR = datetime(2026, 12, 5, 3, 0, 1, tzinfo=UTC)  # minute 0 of the hour: due for every divisor of 60


def _task(status: str, desired: str = "RUNNING") -> TaskInfo:
    return TaskInfo("arn:task/1", "1", status, desired, ON_THE_HOUR, "adoscale", "linux")


def _pool(**extra: Any) -> Any:
    body = {"organization_url": "https://dev.azure.com/acme", "pools": [{"name": "linux", "ecs": ECS, **extra}]}
    return parse_config(json.dumps(body), "<test>").pools[0]


# -- the pure plan ---------------------------------------------------------------------------------------


def test_due_counts_unix_minutes() -> None:
    assert due(ON_THE_HOUR, 5)
    assert not due(ON_THE_HOUR + timedelta(minutes=1), 5)
    assert due(ON_THE_HOUR + timedelta(minutes=5, seconds=58), 5)
    assert [due(ON_THE_HOUR + timedelta(minutes=m), 5) for m in range(10)].count(True) == 2
    assert due(ON_THE_HOUR + timedelta(minutes=7), 1)  # 1: every execution


def test_idle_pools_are_observed_once_on_due_minutes_only() -> None:
    idle = [PoolActivity("a"), PoolActivity("b")]
    due_plan = plan_execution(OFFSETS, ON_THE_HOUR, idle, 5)
    assert due_plan.offsets == (0,) and due_plan.pools == ("a", "b")
    for minute in range(1, 5):
        skipped = plan_execution(OFFSETS, ON_THE_HOUR + timedelta(minutes=minute), idle, 5)
        assert skipped.offsets == () and skipped.pools == (), minute


def test_a_pool_with_work_is_observed_at_every_offset_every_minute() -> None:
    pools = [PoolActivity("busy", "1 live task(s)"), PoolActivity("idle")]
    off_minute = plan_execution(OFFSETS, ON_THE_HOUR + timedelta(minutes=2), pools, 5)
    assert off_minute.offsets == tuple(OFFSETS) and off_minute.pools == ("busy",)
    on_minute = plan_execution(OFFSETS, ON_THE_HOUR, pools, 5)
    assert on_minute.offsets == tuple(OFFSETS) and on_minute.pools == ("busy", "idle")


def test_the_plan_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="at least one offset"):
        plan_execution([], ON_THE_HOUR, [], 5)
    with pytest.raises(ValueError, match="between 1 and 60"):
        plan_execution(OFFSETS, ON_THE_HOUR, [], 0)


def test_work_is_a_live_task_or_agents_kept_by_configuration() -> None:
    plain = _pool()
    assert activity(plain, []).idle
    assert activity(plain, [_task("STOPPED", "STOPPED"), _task("DEPROVISIONING", "STOPPED")]).idle
    assert activity(plain, [_task("RUNNING", "STOPPED")]).idle  # being stopped: holds no agent for long
    for status in ("PROVISIONING", "PENDING", "ACTIVATING", "RUNNING"):
        assert activity(plain, [_task(status)]).work == "1 live task(s)", status
    assert keeps_agents(_pool(min_agents=1)) == "min_agents 1"
    assert keeps_agents(_pool(standby_agents=2)) == "standby_agents 2"
    assert keeps_agents(_pool(warm_pool={"mode": "predictive"})) == "warm pool predictive"
    assert not activity(_pool(warm_pool={"mode": "predictive"}), []).idle


def test_the_schedule_input_with_hooks() -> None:
    assert schedule_input() == DEFAULT_INPUT  # without hooks: unchanged, no plan
    assert "backoff" not in schedule_input(idle_every_minutes=1)  # 1 turns the back-off off
    assert hooks_input() == {
        "offsets": [0] * HOOK_ROUNDS,
        "task_wait_s": 10,
        "backoff": {"idle_every_minutes": IDLE_EVERY_MINUTES},
    }


# -- the rendered workflow -------------------------------------------------------------------------------


def _plans(routing: Routing) -> list[Any]:
    return [i.event for i in routing.invocations if i.event.get("action") == "plan"]


def _started(sfn: Any, execution: str) -> datetime:
    started: datetime = sfn.describe_execution(executionArn=execution)["startDate"]
    return started


def test_an_idle_execution_calls_no_ado_unless_due(
    aws: None, routing: Routing, model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two pools with nothing queued and no task, the hooks input with idle pools every 2 minutes: the
    execution asks the plan, then runs one round for both pools if it started on an even minute, else none
    and no Azure DevOps call at all."""
    _world(model, org_url, monkeypatch, [{"name": "a"}, {"name": "b"}])
    for name in ("a", "b"):
        model.register_agent(model.create_pool(name), "adoscale-placeholder", online=False)
    sfn, machine, queue = _machine()
    calls_before = model.stats.total
    run = json.dumps(hooks_input(idle_every_minutes=2))
    execution = sfn.start_execution(stateMachineArn=machine, input=run)["executionArn"]
    status = _finish(sfn, execution)
    assert status["status"] == "SUCCEEDED", status
    plans = _plans(routing)
    assert len(plans) == 1 and plans[0]["idle_every_minutes"] == 2, plans
    # The plan was told when the execution started ($$.Execution.StartTime), and judged by that minute.
    started = datetime.fromisoformat(plans[0]["started"].replace("Z", "+00:00"))
    assert abs((started - _started(sfn, execution)).total_seconds()) < 2
    if due(started, 2):
        assert routing.passes("a") and routing.passes("b")
        assert model.stats.total > calls_before
    else:
        assert routing.passes("a") == routing.passes("b") == []
        assert [i.event.get("action") for i in routing.invocations] == ["plan"]  # no round either
        assert model.stats.total == calls_before  # not one Azure DevOps call
    assert _alerts(queue) == []


def test_a_pool_with_a_live_task_is_observed_and_an_idle_one_is_not(
    aws: None, routing: Routing, model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`busy` got a task from an earlier execution (its job is queued); with idle pools every 60 minutes,
    the next execution observes `busy` at its round and leaves `idle` alone (unless it started on the hour)."""
    ecs, world = _world(model, org_url, monkeypatch, [{"name": "busy", "max_agents": 5}, {"name": "idle"}])
    for name, jobs in (("busy", 1), ("idle", 0)):
        pool = model.create_pool(name)
        model.register_agent(pool, "adoscale-placeholder", online=False)
        for _ in range(jobs):
            model.queue_job(pool)
    sfn, machine, _queue = _machine()
    first = sfn.start_execution(
        stateMachineArn=machine, name="first", input=json.dumps({**DEFAULT_INPUT, "offsets": [0]})
    )
    assert _finish(sfn, first["executionArn"])["status"] == "SUCCEEDED"
    assert len(ecs.list_tasks(cluster=world.cluster)["taskArns"]) == 1
    routing.invocations.clear()

    second = sfn.start_execution(
        stateMachineArn=machine, name="second", input=json.dumps(hooks_input(idle_every_minutes=60))
    )
    assert _finish(sfn, second["executionArn"])["status"] == "SUCCEEDED"
    started = datetime.fromisoformat(_plans(routing)[0]["started"].replace("Z", "+00:00"))
    assert len(routing.passes("busy")) == HOOK_ROUNDS
    assert len(routing.passes("idle")) == (1 if due(started, 60) else 0)
    assert len(ecs.list_tasks(cluster=world.cluster)["taskArns"]) == 1  # the task is counted: nothing more


def test_a_failed_plan_alerts_and_observes_every_pool(
    aws: None, routing: Routing, model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan cannot read the pools' tasks (ECS refuses: a missing permission, say): observing too often is
    safe and missing a job is not, so the execution alerts and runs every pool at every offset."""
    _world(model, org_url, monkeypatch, [{"name": "linux"}])
    model.register_agent(model.create_pool("linux"), "adoscale-placeholder", online=False)
    routing.fail_actions = {"plan"}
    sfn, machine, queue = _machine()
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(hooks_input()))["executionArn"]
    status = _finish(sfn, execution)
    assert status["status"] == "SUCCEEDED", status
    assert len(routing.passes("linux")) == HOOK_ROUNDS
    bodies = _alerts(queue)
    assert any("the plan failed, so every pool is observed" in body for body in bodies), bodies


def test_the_plan_event_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    from adoscale.handlers._control import BadEventError
    from adoscale.handlers.pass_ import parse_event

    good = {"action": "plan", "offsets": [0], "started": "2026-12-05T03:00:01Z", "idle_every_minutes": 5}
    assert parse_event(good).action == "plan"
    for bad in ({**good, "idle_every_minutes": 0}, {**good, "offsets": []}, {**good, "started": "yesterday"}):
        with pytest.raises(BadEventError):
            parse_event(bad)
