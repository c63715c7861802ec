"""One alert per failing-pass incident in the deployed workflow (H4), over the rendered definition in moto's
interpreter, each Lambda invocation served from the built zip (`tests.lambda_runtime`), the ADO emulator over
HTTP, the pools' incidents in the lease table as Terraform deploys it.

The fault is a broken ECS cluster as ECS reports it: `ListTasks` answers `ClusterNotFoundException` ("The
specified cluster wasn't found", ECS API reference, ListTasks errors), not a transient error, so the pass fails
at once after no retry. Before: the workflow's Catch published one message for every failed pass (5 passes, 5
messages); now the incident's opening alert only, one "succeed again" message at the first pass that works,
and a new alert when the pool fails again.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.ecs.exceptions import ClusterNotFoundException
from moto.ecs.models import EC2ContainerServiceBackend

from adoscale.history.incidents import DynamoIncidents, PassIncident
from adoscale.workflow import DEFAULT_INPUT
from adoscale_lab.emulator import AdoModel
from tests.workflow.test_workflow import _alerts, _finish, _machine, _world

TABLE = "adoscale-leases"


class ClusterFault:
    """While `on`, ECS answers every ListTasks as for a cluster that does not exist."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.on = True
        original = EC2ContainerServiceBackend.list_tasks

        def list_tasks(backend: EC2ContainerServiceBackend, *args: Any, **kwargs: Any) -> Any:
            if self.on:
                raise ClusterNotFoundException
            return original(backend, *args, **kwargs)

        monkeypatch.setattr(EC2ContainerServiceBackend, "list_tasks", list_tasks)


def _executor(offsets: list[int], lease_table: str | None = TABLE, alert_reminder_hours: int = 24) -> Any:
    sfn, machine, queue = _machine(lease_table=lease_table, alert_reminder_hours=alert_reminder_hours)
    names = iter(range(1000))

    def execute(rounds: list[int] = offsets) -> list[str]:
        run = json.dumps({**DEFAULT_INPUT, "offsets": rounds, "task_wait_s": 0})
        execution = sfn.start_execution(stateMachineArn=machine, name=f"e{next(names)}", input=run)["executionArn"]
        assert _finish(sfn, execution)["status"] == "SUCCEEDED"
        return sorted(_drain(queue))

    return execute


def _drain(queue: str) -> list[str]:
    """Every message on the queue now (SQS answers at most 10 a receive, and some of them only)."""
    bodies: list[str] = []
    while batch := _alerts(queue):
        bodies += batch
    return bodies


def test_the_workflow_alerts_once_per_failing_pass_incident(
    aws: None, routed_lambdas: list[str], model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _world(model, org_url, monkeypatch, [{"name": "linux"}])
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    fault = ClusterFault(monkeypatch)
    execute = _executor([0])

    # Five executions of failing passes. The first runs three rounds at once: each either takes the lease and
    # fails, or finds it held and skips (a skipped pass neither opens nor closes anything), so 5 to 7 fail.
    first_incident = [execute([0, 0, 0]), *(execute() for _ in range(4))]
    fault.on = False
    recovered = [execute() for _ in range(2)]
    fault.on = True
    second_incident = [execute() for _ in range(2)]

    assert [len(alerts) for alerts in first_incident] == [1, 0, 0, 0, 0], first_incident
    opened = first_incident[0][0]
    assert opened.startswith("pool linux: its passes fail (one alert until a pass succeeds; a reminder every 24 h): ")
    assert "ClusterNotFoundException" in opened, opened
    assert [len(alerts) for alerts in recovered] == [1, 0], recovered
    closed = re.match(
        r"pool linux: its passes succeed again, after 0 min and (\d+) failed passes \(the last: ", recovered[0][0]
    )
    assert closed is not None and 5 <= int(closed.group(1)) <= 7, recovered
    assert [len(alerts) for alerts in second_incident] == [1, 0], second_incident
    assert second_incident[0][0].startswith("pool linux: its passes fail"), second_incident


def test_a_failure_that_cannot_be_recorded_alerts_every_time(
    aws: None, routed_lambdas: list[str], model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB down for the pass (here: a lease table that does not exist, ResourceNotFoundException): the
    pass fails before it can write anything, and so does recording the failure; the workflow then publishes
    each failure as it is. The first alert is never lost; an alert too many beats none."""
    _world(model, org_url, monkeypatch, [{"name": "linux"}])
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    sfn, machine, queue = _machine(lease_table=None)
    lam = boto3.client("lambda", region_name="us-east-1")
    for name in ("adoscale-pass", "adoscale-waiter"):
        variables = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        lam.update_function_configuration(
            FunctionName=name, Environment={"Variables": {**variables, "ADOSCALE_LEASE_TABLE": "no-such-table"}}
        )
    run = json.dumps({**DEFAULT_INPUT, "offsets": [0], "task_wait_s": 0})
    sent = []
    for n in range(2):
        execution = sfn.start_execution(stateMachineArn=machine, name=f"d{n}", input=run)["executionArn"]
        assert _finish(sfn, execution)["status"] == "SUCCEEDED"
        sent.append(_drain(queue))
    assert [len(alerts) for alerts in sent] == [1, 1], sent
    assert all(alerts[0].startswith("pool linux failed: ") for alerts in sent), sent
    assert "ResourceNotFoundException" in sent[0][0], sent


def _seed_incident(opened_ago: timedelta, alerted_ago: timedelta) -> None:
    """The pool's failing-pass incident as an earlier failure left it in the lease table (through the product's
    own store), opened and last alerted that long ago: the workflow's clock is the Lambda's, which a test cannot
    move, so the incident is moved back instead."""
    store = DynamoIncidents(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
    now = datetime.now(UTC)
    current, version = store.load("linux")
    incident = PassIncident(
        opened_at=now - opened_ago,
        failures=current.failures if current else 10,
        reason="ClusterNotFoundException: earlier",
        last_failure_at=now - timedelta(minutes=1),
        alerted_at=now - alerted_ago,
    )
    assert store.save("linux", incident, version)


def test_the_reminder_comes_after_the_configured_hours_and_not_before(
    aws: None, routed_lambdas: list[str], model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The module's `alert_reminder_hours` (here 2) rendered into the workflow as Terraform renders it: an open
    incident last alerted 1 h 55 min ago gets no message; one last alerted 2 h 1 min ago gets the reminder, once."""
    _world(model, org_url, monkeypatch, [{"name": "linux"}])
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    ClusterFault(monkeypatch)
    execute = _executor([0], alert_reminder_hours=2)

    opened = execute()  # the first failure opens the incident, and its alert tells the interval
    _seed_incident(opened_ago=timedelta(hours=3), alerted_ago=timedelta(hours=1, minutes=55))
    not_yet = execute()
    _seed_incident(opened_ago=timedelta(hours=3), alerted_ago=timedelta(hours=2, minutes=1))
    due, after = execute(), execute()

    assert len(opened) == 1, opened
    assert opened[0].startswith("pool linux: its passes fail (one alert until a pass succeeds; a reminder every 2 h): ")
    assert not_yet == [], not_yet
    assert len(due) == 1 and due[0].startswith("pool linux: its passes still fail, for 3 h 0 min ("), due
    assert "ClusterNotFoundException" in due[0], due
    assert after == [], after  # the reminder restarts the interval
