"""One alert per start-failure incident in the deployed workflow (issue 22 item 1), over the rendered definition in
moto's interpreter, each Lambda invocation served from the built zip (`tests.lambda_runtime`), the ADO emulator
over HTTP.

The fault is played as ECS reports it (ECS developer guide, "Amazon ECS stopped tasks error codes"): every task
RunTask starts is stopped at once with `stopCode: TaskFailedToStart`, `stoppedReason: CannotPullContainerError: ...`,
no `startedAt`, and, in the first incident, `createdAt`/`stoppedAt` twenty minutes back (beyond the back-off's
longest wait, so that each next execution launches a probe at once rather than this test waiting out 30, 60,
120 s). Before: each launch
whose tasks failed alerted (the batch, then every probe: 3 alerts in 3 executions); now only the launch that
opened the incident does, and a new incident, after a task started, alerts again.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto.ecs.models import EC2ContainerServiceBackend

from adoscale.workflow import DEFAULT_INPUT
from adoscale_lab.emulator import AdoModel
from tests.workflow.test_workflow import _alerts, _finish, _machine, _world

PULL_ERROR = "CannotPullContainerError: pull image manifest has been retried 5 time(s): not found"


class StartFault:
    """While `on`, every task RunTask starts fails to start, as ECS reports it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.on = True
        self.backdated = True  # failures dated beyond the back-off's longest wait: the next probe is due at once
        original = EC2ContainerServiceBackend.run_task

        def run_task(backend: EC2ContainerServiceBackend, *args: Any, **kwargs: Any) -> Any:
            tasks = original(backend, *args, **kwargs)
            now = datetime.now(UTC)
            back = now - timedelta(minutes=20) if self.backdated else now
            for task in tasks:
                task.created_at = back if self.on else now  # (ECS always sends createdAt; moto 5.2 does not)
                if self.on:
                    task.last_status = task.desired_status = "STOPPED"
                    task.stop_code, task.stopped_reason = "TaskFailedToStart", PULL_ERROR
                    task.stopped_at = back + timedelta(seconds=20)
            return tasks

        monkeypatch.setattr(EC2ContainerServiceBackend, "run_task", run_task)


def test_the_workflow_alerts_once_per_start_failure_incident(
    aws: None, routed_lambdas: list[str], model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ecs, world = _world(model, org_url, monkeypatch, [{"name": "linux", "max_agents": 5}])
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    model.queue_job(pool)
    model.queue_job(pool)
    fault = StartFault(monkeypatch)
    sfn, machine, queue = _machine()
    run = json.dumps({**DEFAULT_INPUT, "offsets": [0], "task_wait_s": 0})

    names = iter(range(100))

    def execute() -> list[str]:
        execution = sfn.start_execution(stateMachineArn=machine, name=f"e{next(names)}", input=run)["executionArn"]
        assert _finish(sfn, execution)["status"] == "SUCCEEDED"
        return _alerts(queue)

    first_incident = [execute() for _ in range(3)]  # the batch of 2, then a probe of 1 each time: all fail
    launched = len(ecs.list_tasks(cluster=world.cluster, desiredStatus="STOPPED")["taskArns"])
    fault.on = False  # the image is fixed: the next probe starts, its agent registers and takes a job
    execute()
    running = ecs.list_tasks(cluster=world.cluster)["taskArns"]
    assert len(running) == 1
    model.register_agent(pool, running[0].rsplit("/", 1)[1], online=True, once=True)
    # A new incident: the next launch, for the job still queued, fails to start (dated now: after the start).
    fault.on, fault.backdated = True, False
    second_incident = [execute() for _ in range(2)]
    assert launched == 4  # 2, then one probe per execution
    assert [len(alerts) for alerts in first_incident] == [1, 0, 0], first_incident
    assert first_incident[0][0].startswith("pool linux: tasks fail to start")
    assert PULL_ERROR in first_incident[0][0]
    assert [len(alerts) for alerts in second_incident] == [1, 0], second_incident
