"""One alert per incident for the workflow's two other failures (H7): failing rounds and a pool's failing task
waits, over the rendered definition in moto's interpreter, each Lambda invocation served from the built zip
(`tests.lambda_runtime`), the ADO emulator over HTTP, the incidents in the lease table as Terraform deploys it.

Rounds: a revoked PAT, as Azure DevOps answers it (401 to every call; the round's parallel-job-limit read
raises `AdoAuthError`, which no Retry lists), fails every round before any pool is visited. Before H7 each
failed round published "a round failed" (here 5 executions, 5 messages; deployed, 4 a minute); now the
incident's opening alert only, one "rounds succeed again" at the first round that visits pools, and a new
alert when rounds fail again. Task waits: the waiter function failing (a function error as Lambda reports
it) after each launch; before H7 every failed wait published "a pool's pass failed"."""

from __future__ import annotations

import json
from collections.abc import Callable

import boto3
import pytest

from adoscale.workflow import DEFAULT_INPUT
from adoscale_lab.emulator import AdoModel
from tests.conftest import PAT
from tests.workflow.conftest import Routing
from tests.workflow.test_pass_alerts import TABLE, _drain
from tests.workflow.test_workflow import _finish, _machine, _world


def _executor(lease_table: str | None = TABLE) -> Callable[..., tuple[str, list[str]]]:
    sfn, machine, queue = _machine(lease_table=lease_table)
    names = iter(range(1000))

    def execute(offsets: tuple[int, ...] = (0,)) -> tuple[str, list[str]]:
        run = json.dumps({**DEFAULT_INPUT, "offsets": list(offsets), "task_wait_s": 0})
        execution = sfn.start_execution(stateMachineArn=machine, name=f"e{next(names)}", input=run)["executionArn"]
        return str(_finish(sfn, execution)["status"]), sorted(_drain(queue))

    return execute


def _linux(model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch, **pool: object) -> int:
    _world(model, org_url, monkeypatch, [{"name": "linux", **pool}])
    pool_id = model.create_pool("linux")
    model.register_agent(pool_id, "adoscale-placeholder", online=False)
    return pool_id


def test_failing_rounds_alert_once_per_incident(
    aws: None, routed_lambdas: list[str], model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _linux(model, org_url, monkeypatch)
    execute = _executor()

    model.pat = "revoked-" + PAT  # the deployment's PAT no longer opens the organization
    # Five executions of failing rounds; the first runs three rounds at once (all three fail: they race to open
    # the one incident, the version-conditional write lets one of them).
    first_incident = [execute((0, 0, 0)), *(execute() for _ in range(4))]
    model.pat = PAT
    recovered = [execute() for _ in range(2)]
    model.pat = "revoked-again-" + PAT
    second_incident = [execute() for _ in range(2)]

    # A failed round still fails its execution (the ExecutionsFailed metric counts it), alert or not.
    assert {status for status, _ in first_incident + second_incident} == {"FAILED"}
    assert {status for status, _ in recovered} == {"SUCCEEDED"}
    assert [len(alerts) for _, alerts in first_incident] == [1, 0, 0, 0, 0], first_incident
    opened = first_incident[0][1][0]
    assert opened.startswith(
        "rounds fail, no pool is observed (one alert until a round succeeds; a reminder every 24 h): AdoAuthError: "
    ), opened
    assert PAT not in opened
    assert [alerts for _, alerts in recovered][1:] == [[]], recovered
    [closed] = recovered[0][1]
    assert closed.startswith("rounds succeed again, after 0 min and 7 failed rounds (the last: AdoAuthError: "), closed
    assert [len(alerts) for _, alerts in second_incident] == [1, 0], second_incident
    assert second_incident[0][1][0].startswith("rounds fail, no pool is observed"), second_incident
    # Kept beside the pools' leases, under a key no pool's incident can have.
    db = boto3.client("dynamodb", region_name="us-east-1")
    item = db.get_item(TableName=TABLE, Key={"pool": {"S": "incident-round"}}, ConsistentRead=True)["Item"]
    assert item["failures"] == {"N": "2"}


def test_a_round_failure_that_cannot_be_recorded_alerts_every_time(
    aws: None, routed_lambdas: list[str], model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB refusing (a lease table that does not exist): recording the round's failure fails too, and the
    workflow publishes each failed round as it is, as before. An alert too many beats none."""
    _linux(model, org_url, monkeypatch)
    execute = _executor(lease_table=None)
    lam = boto3.client("lambda", region_name="us-east-1")
    variables = lam.get_function_configuration(FunctionName="adoscale-pass")["Environment"]["Variables"]
    lam.update_function_configuration(
        FunctionName="adoscale-pass", Environment={"Variables": {**variables, "ADOSCALE_LEASE_TABLE": "no-such-table"}}
    )
    model.pat = "revoked-" + PAT
    sent = [execute() for _ in range(2)]
    assert [len(alerts) for _, alerts in sent] == [1, 1], sent
    assert all(alerts[0].startswith("round at +0 s failed (no pool was visited): AdoAuthError") for _, alerts in sent)


def test_failing_task_waits_alert_once_per_incident(
    aws: None, routing: Routing, model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = _linux(model, org_url, monkeypatch, max_agents=30)
    execute = _executor()

    def launch() -> tuple[str, list[str]]:
        model.queue_job(pool)  # a new job each time: each execution's pass launches a task, and waits for it
        return execute()

    routing.fail_functions = {"adoscale-waiter"}
    first_incident = [launch() for _ in range(3)]
    routing.fail_functions = set()
    recovered = [launch() for _ in range(2)]
    routing.fail_functions = {"adoscale-waiter"}
    second_incident = [launch() for _ in range(2)]

    assert {status for status, _ in first_incident + recovered + second_incident} == {"SUCCEEDED"}
    assert len(routing.checks("linux")) == 7  # every execution launched and waited
    assert [len(alerts) for _, alerts in first_incident] == [1, 0, 0], first_incident
    opened = first_incident[0][1][0]
    assert opened.startswith(
        "pool linux: the wait for its launched tasks fails (one alert until a wait succeeds; a reminder every 24 h): "
        "RuntimeError: injected failure of adoscale-waiter"
    ), opened
    assert [len(alerts) for _, alerts in recovered] == [1, 0], recovered
    assert recovered[0][1][0].startswith(
        "pool linux: the wait for its launched tasks succeeds again, after 0 min and 3 failed waits (the last: "
    ), recovered
    assert [len(alerts) for _, alerts in second_incident] == [1, 0], second_incident
    assert second_incident[0][1][0].startswith("pool linux: the wait for its launched tasks fails"), second_incident


def test_a_failure_event_names_a_pool_unless_it_is_the_rounds() -> None:
    from adoscale.handlers._control import BadEventError
    from adoscale.handlers.pass_ import FailedEvent, WaitedEvent, parse_event

    assert parse_event({"action": "failed", "scope": "round", "error": {"Error": "AdoAuthError"}}) == FailedEvent(
        action="failed", scope="round", error={"Error": "AdoAuthError"}
    )
    assert parse_event({"action": "failed", "pool": "linux"}).scope == "pass"  # type: ignore[union-attr]
    assert parse_event({"action": "waited", "pool": "linux"}) == WaitedEvent(action="waited", pool="linux")
    with pytest.raises(BadEventError, match="pool: required with scope 'wait'"):
        parse_event({"action": "failed", "scope": "wait"})
    with pytest.raises(BadEventError, match="scope"):
        parse_event({"action": "failed", "scope": "everything", "pool": "linux"})
    with pytest.raises(BadEventError, match="remind_after_hours"):
        parse_event({"action": "failed", "pool": "linux", "remind_after_hours": 721})
