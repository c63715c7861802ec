"""Tasks that fail to start (issue 22 item 1): the ADO emulator over HTTP, ECS in moto, the real EcsCompute.

moto never fails a task at start, so the fault is played as ECS reports it (ECS developer guide, "Amazon ECS
stopped tasks error codes"): the task is stopped, and DescribeTasks answers `stopCode: TaskFailedToStart`,
`stoppedReason: CannotPullContainerError: ...` and a `stoppedAt` (added to moto's answer by a botocore event
hook on the client the adapter uses, for the tasks the fault stopped).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Any

import pytest

from adoscale.ado import AdoClient
from adoscale.compute import EcsCompute
from adoscale.control import Reconciler
from adoscale.control.backoff import BACKOFF_MAX_S
from adoscale_lab.emulator import AdoModel
from tests.aws import config_for, ecs_world
from tests.clock import Clock
from tests.conftest import PAT

PASS_INTERVAL_S = 30.0  # `serve`'s default interval
PULL_ERROR = "CannotPullContainerError: pull image manifest has been retried 5 time(s): not found"


@dataclass
class Fault:
    """Every task that RunTask starts fails to start, until `on` is cleared."""

    ecs: Any
    cluster: str
    clock: Clock
    on: bool = True
    failed: dict[str, datetime] = field(default_factory=dict)  # task ARN -> stopped at

    def strike(self, arns: list[str]) -> None:
        for arn in arns:
            self.ecs.stop_task(cluster=self.cluster, task=arn, reason=PULL_ERROR)
            self.failed[arn] = self.clock()

    def answer(self, parsed: dict[str, Any], **_: Any) -> None:
        # ECS's clock is the test's here, as the emulator's is: its `Date` header says so.
        parsed["ResponseMetadata"]["HTTPHeaders"]["date"] = format_datetime(self.clock(), usegmt=True)
        for task in parsed.get("tasks", []):
            if task["taskArn"] in self.failed:
                task.update(
                    lastStatus="STOPPED",
                    desiredStatus="STOPPED",
                    stopCode="TaskFailedToStart",
                    stoppedReason=PULL_ERROR,
                    stoppedAt=self.failed[task["taskArn"]],
                )


@dataclass
class World:
    model: AdoModel
    reconciler: Reconciler
    compute: EcsCompute
    clock: Clock
    fault: Fault
    run_task_counts: list[int]


@pytest.fixture
def world(model: AdoModel, org_url: str) -> Iterator[World]:
    clock = Clock()
    model.clock = clock
    with ecs_world() as (ecs, resources):
        counts: list[int] = []
        ecs.meta.events.register(
            "provide-client-params.ecs.RunTask", lambda params, **_: counts.append(params["count"])
        )
        fault = Fault(ecs, resources.cluster, clock)
        ecs.meta.events.register("after-call.ecs.DescribeTasks", fault.answer)
        config = config_for(resources, org_url, [{"name": "linux", "max_agents": 10, "capabilities": ["docker"]}])
        compute = EcsCompute(ecs, {p.name: p.ecs for p in config.pools}, organization_url=org_url, clock=clock)
        with AdoClient(org_url, PAT) as ado:
            yield World(model, Reconciler(config, ado, compute, clock), compute, clock, fault, counts)


def test_tasks_that_fail_to_start_back_off_keep_the_jobs_queued_and_say_why(world: World) -> None:
    pool = world.model.create_pool("linux")
    world.model.register_agent(pool, "adoscale-placeholder", {"docker": ""}, online=False)
    jobs = [world.model.queue_job(pool, ["docker"]) for _ in range(3)]
    reports = []
    for _ in range(12):
        report = world.reconciler.run().pools[0]
        reports.append(report)
        if world.fault.on:
            world.fault.strike(report.launched_tasks)  # each task dies at start, as ECS would stop it
        world.clock.advance(PASS_INTERVAL_S)
    launched = sum(world.run_task_counts)
    assert launched <= 6, [r.launched for r in reports]
    assert launched == sum(r.launched for r in reports) and reports[0].launched == 3
    later = reports[1:]
    assert all(r.start_failures >= 3 and r.start_failure and PULL_ERROR in r.start_failure for r in later)
    assert all(any("tasks fail to start" in e for e in r.errors) for r in later)
    assert later[-1].as_dict()["start_failure"] == f"TaskFailedToStart: {PULL_ERROR}"
    assert all(world.model.job(j).reserved_agent is None for j in jobs)
    assert world.reconciler.run().pools[0].queued == 3  # still queued, never cancelled

    # The fault clears (a good image is pushed): the next try starts, its agent registers, the rest follow.
    world.fault.on = False
    served = False
    for _ in range(int(BACKOFF_MAX_S / PASS_INTERVAL_S) + 6):
        world.clock.advance(PASS_INTERVAL_S)
        world.reconciler.run()
        for task in world.compute.list_tasks("linux"):
            known = {a.name for a in world.model.agents(pool)}
            if task.last_status != "STOPPED" and task.task_id not in known:
                world.model.register_agent(pool, task.task_id, {"docker": ""}, once=True)
        if all(world.model.job(j).reserved_agent is not None for j in jobs):
            served = True
            break
    assert served, [world.model.job(j) for j in jobs]
    assert world.reconciler.run().pools[0].start_failures == 0


def _serve_agents(world: World, pool: int) -> None:
    """The agents of the tasks still up register, as the image's entrypoint makes them."""
    known = {a.name for a in world.model.agents(pool)}
    for task in world.compute.list_tasks("linux"):
        if task.last_status != "STOPPED" and task.task_id not in known:
            world.model.register_agent(pool, task.task_id, {"docker": ""}, once=True)


def test_one_alert_per_start_failure_incident_not_per_pass(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """A long-running controller (`serve`'s passes) alerts once when a pool's tasks begin failing to start,
    naming the pool and the reason, says once that they start again, and alerts again for a new incident.
    Before: no alert at all, only the pass report's error line every pass."""
    caplog.set_level(logging.INFO, logger="adoscale.alerts")
    pool = world.model.create_pool("linux")
    world.model.register_agent(pool, "adoscale-placeholder", {"docker": ""}, online=False)
    jobs = [world.model.queue_job(pool, ["docker"]) for _ in range(3)]
    for _ in range(12):  # one incident: the batch, then probes that fail too
        report = world.reconciler.run().pools[0]
        world.fault.strike(report.launched_tasks)
        world.clock.advance(PASS_INTERVAL_S)
    first_incident = [r for r in caplog.records if r.name == "adoscale.alerts"]
    world.fault.on = False
    for _ in range(int(BACKOFF_MAX_S / PASS_INTERVAL_S) + 6):  # the fault clears: a probe starts, the rest follow
        world.clock.advance(PASS_INTERVAL_S)
        world.reconciler.run()
        _serve_agents(world, pool)
        if all(world.model.job(j).reserved_agent is not None for j in jobs):
            break
    world.reconciler.run()
    over = [r for r in caplog.records if r.name == "adoscale.alerts"][len(first_incident) :]
    world.fault.on = True  # a second incident: a new job's task fails to start
    world.model.queue_job(pool, ["docker"])
    for _ in range(4):
        world.clock.advance(PASS_INTERVAL_S)
        world.fault.strike(world.reconciler.run().pools[0].launched_tasks)
    second = [r for r in caplog.records if r.name == "adoscale.alerts"][len(first_incident) + len(over) :]
    assert [(r.levelno, r.getMessage()) for r in first_incident] == [
        (logging.ERROR, f"ALERT pool linux: tasks fail to start: TaskFailedToStart: {PULL_ERROR} (the jobs stay "
         "queued; launches back off; one alert until a task starts)")
    ]  # fmt: skip
    assert [(r.levelno, r.getMessage()) for r in over] == [
        (logging.WARNING, "pool linux: tasks start again (the start-failure incident is over)")
    ]
    assert [r.levelno for r in second] == [logging.ERROR] and "ALERT pool linux" in second[0].getMessage()
