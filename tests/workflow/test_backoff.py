"""The schedule's back-off with hooks (`adoscale.workflow.backoff`): the pure plan, the tick's input, and the
tick (the pass function's handler, in this process) starting the rendered workflow in moto's interpreter,
whose functions run the built zip's handlers against the ADO emulator: an idle minute starts nothing and
makes no Azure DevOps call; a pool with a task starting is observed every minute, others on due minutes; a
tick that cannot read the tasks observes every pool."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.client
import pytest
from moto.ecs.models import ecs_backends

from adoscale.compute.base import TaskInfo
from adoscale.config import parse_config
from adoscale.workflow import DEFAULT_INPUT, HOOK_ROUNDS, schedule_input, tick_input
from adoscale.workflow.backoff import (
    IDLE_EVERY_MINUTES,
    PoolActivity,
    activity,
    due,
    keeps_agents,
    plan_execution,
)
from adoscale_lab.emulator import AdoModel
from adoscale_lab.packaging import deployed_functions
from tests.workflow.conftest import Routing
from tests.workflow.test_workflow import Context, _alerts, _finish, _machine, _world

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
    pools = [PoolActivity("busy", "1 task(s) starting"), PoolActivity("idle")]
    off_minute = plan_execution(OFFSETS, ON_THE_HOUR + timedelta(minutes=2), pools, 5)
    assert off_minute.offsets == tuple(OFFSETS) and off_minute.pools == ("busy",)
    on_minute = plan_execution(OFFSETS, ON_THE_HOUR, pools, 5)
    assert on_minute.offsets == tuple(OFFSETS) and on_minute.pools == ("busy", "idle")


def test_the_plan_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="at least one offset"):
        plan_execution([], ON_THE_HOUR, [], 5)
    with pytest.raises(ValueError, match="between 1 and 60"):
        plan_execution(OFFSETS, ON_THE_HOUR, [], 0)


def test_work_is_a_starting_task_or_agents_kept_by_configuration() -> None:
    plain = _pool()
    assert activity(plain, []).idle
    assert activity(plain, [_task("STOPPED", "STOPPED"), _task("DEPROVISIONING", "STOPPED")]).idle
    assert activity(plain, [_task("RUNNING")]).idle  # an agent running its job leaves by itself
    assert activity(plain, [_task("PENDING", "STOPPED")]).idle  # being stopped
    for status in ("PROVISIONING", "PENDING", "ACTIVATING"):
        assert activity(plain, [_task(status), _task("RUNNING")]).work == "1 task(s) starting", status
    assert keeps_agents(_pool(min_agents=1)) == "min_agents 1"
    assert keeps_agents(_pool(standby_agents=2)) == "standby_agents 2"
    assert keeps_agents(_pool(warm_pool={"mode": "predictive"})) == "warm pool predictive"
    assert not activity(_pool(warm_pool={"mode": "predictive"}), []).idle


def test_the_tick_input() -> None:
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:adoscale"
    assert schedule_input() == DEFAULT_INPUT  # without hooks: unchanged
    assert tick_input(arn) == {
        "action": "tick",
        "state_machine_arn": arn,
        "started": "<aws.scheduler.scheduled-time>",
        "idle_every_minutes": IDLE_EVERY_MINUTES,
        "offsets": [0] * HOOK_ROUNDS,
        "task_wait_s": 10,
    }


# -- the tick and the rendered workflow ------------------------------------------------------------------


class Calls:
    """The AWS calls the handler makes (service:Operation), as the least-privilege tests record them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.made: list[str] = []
        original = botocore.client.BaseClient._make_api_call
        calls = self

        def recording(client: Any, operation: str, params: Any) -> Any:
            model = client.meta.service_model
            calls.made.append(f"{model.signing_name or model.endpoint_prefix}:{operation}")
            return original(client, operation, params)

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)


def _tick(machine: str, started: datetime, idle_every_minutes: int = 5) -> dict[str, Any]:
    from adoscale.handlers import _runtime, pass_

    _runtime.clear_cache()
    _runtime.client.cache_clear()
    event = {**tick_input(machine, idle_every_minutes), "started": started.isoformat()}
    answer: dict[str, Any] = pass_.handler(event, Context("adoscale-pass"))
    return answer


def _pools_world(model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch, jobs: dict[str, int]) -> Any:
    ecs, world = _world(model, org_url, monkeypatch, [{"name": name, "max_agents": 5} for name in jobs])
    for name, count in jobs.items():
        pool = model.create_pool(name)
        model.register_agent(pool, "adoscale-placeholder", online=False)
        for _ in range(count):
            model.queue_job(pool)
    return ecs, world


def test_an_idle_minute_starts_nothing_and_calls_no_ado(
    aws: None, routing: Routing, model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two idle pools (no task, nothing queued): off the due minutes the tick reads their tasks and starts no
    execution, with no Azure DevOps call; on a due minute it starts one round that visits both."""
    _pools_world(model, org_url, monkeypatch, {"a": 0, "b": 0})
    sfn, machine, queue = _machine()
    calls = Calls(monkeypatch)
    before = model.stats.total
    for minute in range(1, 5):
        answer = _tick(machine, ON_THE_HOUR + timedelta(minutes=minute))
        assert answer["offsets"] == [] and "execution_arn" not in answer, answer
    assert model.stats.total == before  # not one Azure DevOps call
    assert set(calls.made) <= {"ssm:GetParameter", "ecs:ListTasks", "ecs:DescribeTasks"}, calls.made
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []
    assert routing.invocations == []

    answer = _tick(machine, ON_THE_HOUR)
    assert answer["offsets"] == [0] and answer["pools"] == ["a", "b"], answer
    assert _finish(sfn, answer["execution_arn"])["status"] == "SUCCEEDED"
    assert len(routing.passes("a")) == len(routing.passes("b")) == 1
    assert _alerts(queue) == []


@pytest.mark.background  # the executions' real Wait states: about 33 s of waiting for a few of CPU
def test_a_pool_with_a_task_starting_is_observed_every_minute_and_an_idle_one_is_not(
    aws: None,
    routing: Routing,
    fargate_still_starting: None,
    model: AdoModel,
    org_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`busy` got a task from a due minute's round (its job was queued and its hook lost), still starting
    (PROVISIONING); on the next minutes the tick starts an execution for `busy` alone, which counts the task
    and launches nothing more. Once the task runs, `busy` is observed as an idle pool again."""
    ecs, world = _pools_world(model, org_url, monkeypatch, {"busy": 1, "idle": 0})
    sfn, machine, _queue = _machine()
    first = _tick(machine, ON_THE_HOUR)
    assert first["pools"] == ["busy", "idle"]
    assert _finish(sfn, first["execution_arn"])["status"] == "SUCCEEDED"
    assert len(ecs.list_tasks(cluster=world.cluster)["taskArns"]) == 1
    routing.invocations.clear()
    for minute in (1, 2):
        answer = _tick(machine, ON_THE_HOUR + timedelta(minutes=minute))
        assert answer["pools"] == ["busy"] and answer["offsets"] == [0], answer
        assert answer["reason"] == "1 pool(s) with work"
        assert _finish(sfn, answer["execution_arn"])["status"] == "SUCCEEDED"
    assert len(routing.passes("busy")) == 2 and routing.passes("idle") == []
    tasks = ecs.list_tasks(cluster=world.cluster)["taskArns"]
    assert len(tasks) == 1  # the task was counted: nothing more
    ecs_backend = ecs_backends["123456789012"]["us-east-1"]
    for task in ecs_backend.list_tasks():
        task.last_status = "RUNNING"  # Fargate brought it up; its agent takes the job and leaves after it
    answer = _tick(machine, ON_THE_HOUR + timedelta(minutes=3))
    assert answer["offsets"] == [] and "execution_arn" not in answer, answer


@pytest.mark.background  # the execution's real Wait states: mostly waiting
def test_a_tick_that_cannot_read_the_tasks_observes_every_pool(
    aws: None, routing: Routing, model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ECS refuses the task list (a missing permission, say): observing too often is safe and missing a job is
    not, so the tick starts a round for every pool (and logs the reason at ERROR)."""
    from adoscale.compute.ecs import EcsCompute

    _pools_world(model, org_url, monkeypatch, {"linux": 1})
    sfn, machine, _queue = _machine()

    def refused(self: Any, pool: str) -> list[Any]:
        raise RuntimeError("AccessDeniedException: not authorized to perform ecs:ListTasks")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(EcsCompute, "list_tasks", refused)
        answer = _tick(machine, ON_THE_HOUR + timedelta(minutes=1))
    assert answer["pools"] == ["linux"] and answer["offsets"] == [0], answer
    assert answer["reason"].startswith("fail-open: RuntimeError: AccessDeniedException"), answer
    # The execution's pass (its own function, the zip's handler) reads the tasks as usual and launches.
    assert _finish(sfn, answer["execution_arn"])["status"] == "SUCCEEDED"
    assert len(routing.passes("linux")) == 1


def test_the_tick_calls_what_its_backoff_grant_adds(
    aws: None, routing: Routing, model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Least privilege: the tick's AWS calls are granted to the pass function, StartExecution only with the
    back-off (`backoff_actions` in functions.json, granted by main.tf when enable_hooks)."""
    spec = deployed_functions()["control-plane"]["pass"]
    assert spec["backoff_actions"] == ["states:StartExecution"]
    _pools_world(model, org_url, monkeypatch, {"linux": 0})
    sfn, machine, _queue = _machine()
    calls = Calls(monkeypatch)
    answer = _tick(machine, ON_THE_HOUR)
    made = set(calls.made) - {"states:DescribeExecution"}
    assert "states:StartExecution" in made
    assert made <= set(spec["actions"]) | set(spec["backoff_actions"]), made
    _finish(sfn, answer["execution_arn"])


def test_the_tick_event_is_validated() -> None:
    from adoscale.handlers._control import BadEventError
    from adoscale.handlers.pass_ import parse_event

    good = {
        **tick_input("arn:aws:states:us-east-1:123456789012:stateMachine:adoscale"),
        "started": "2026-12-05T03:00:01Z",
    }
    assert parse_event(good).action == "tick"
    for bad in (
        {**good, "idle_every_minutes": 0},
        {**good, "offsets": []},
        {**good, "offsets": [0, 75]},
        {**good, "started": "<aws.scheduler.scheduled-time>"},  # not filled in: not a time
        {**good, "state_machine_arn": "arn:aws:lambda:us-east-1:123456789012:function:x"},
    ):
        with pytest.raises(BadEventError):
            parse_event(bad)


def test_history_events_per_execution_are_the_cost_models(
    aws: None, routing: Routing, model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control plane's log cost (`adoscale_lab.sim.cost`, the workflow logs at level ALL with execution
    data) counts history events and their bytes per execution: measured here on the rendered workflow, for
    the tick's executions (`pools` given) and the schedule's (every pool), one and two rounds and pools, no
    launch. Prints the figures; the model's constants must match the counts and be within 25 % of the bytes."""
    from adoscale_lab.sim.cost import EXECUTION_HISTORY

    _pools_world(model, org_url, monkeypatch, {"a": 0, "b": 0})
    sfn, machine, _queue = _machine()
    measured: dict[tuple[str, int, int], tuple[int, int]] = {}
    # The schedule's executions visit every configured pool: two here.
    cases = [("tick", 1, 1), ("tick", 1, 2), ("tick", 2, 1), ("schedule", 1, 2), ("schedule", 2, 2)]
    for index, (kind, rounds, pools) in enumerate(cases):
        body: dict[str, Any] = {"offsets": list(range(rounds)), "task_wait_s": 1}
        if kind == "tick":
            body["pools"] = ["a", "b"][:pools]
        arn = sfn.start_execution(stateMachineArn=machine, name=f"m{index}", input=json.dumps(body))["executionArn"]
        assert _finish(sfn, arn)["status"] == "SUCCEEDED"
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        measured[(kind, rounds, pools)] = (len(events), sum(len(json.dumps(e, default=str)) for e in events))
    print(f"\nhistory events (kind, rounds, pools) -> (events, bytes): {measured}")
    for (kind, rounds, pools), (count, size) in measured.items():
        base, per_round, per_pass = EXECUTION_HISTORY[kind]
        assert base[0] + rounds * per_round[0] + rounds * pools * per_pass[0] == count, (kind, rounds, pools)
        modelled = base[1] + rounds * per_round[1] + rounds * pools * per_pass[1]
        assert abs(modelled - size) <= 0.25 * size, (kind, rounds, pools, modelled, size)
