"""A long-running controller (`serve`'s passes) logs one ERROR when a pool's passes begin failing, one WARNING
when a pass succeeds again, and one ERROR for a new incident; each failed pass in between is a WARNING (H4).
Real boto3 against moto (ECS), real HTTP to the ADO emulator.

The fault is a broken ECS cluster as ECS reports it: `ListTasks` answers `ClusterNotFoundException` (ECS API
reference, ListTasks errors). Before: an ERROR for every failed pass (8 in a row here), and no word when it
worked again."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from adoscale.ado import AdoClient
from adoscale.compute import EcsCompute
from adoscale.control import Reconciler
from adoscale.control.incidents import PassIncidents
from adoscale_lab.emulator import AdoModel
from tests.aws import config_for, ecs_world
from tests.clock import Clock
from tests.conftest import PAT

PASS_INTERVAL_S = 30.0  # `serve`'s default interval


@dataclass
class BrokenCluster:
    on: bool = False

    def __call__(self, **_: Any) -> None:
        if self.on:
            error = {"Error": {"Code": "ClusterNotFoundException", "Message": "Cluster not found."}}
            raise ClientError(error, "ListTasks")  # type: ignore[arg-type]


@pytest.fixture
def serving(model: AdoModel, org_url: str) -> Iterator[tuple[Reconciler, Clock, BrokenCluster]]:
    clock = Clock()
    model.clock = clock
    with ecs_world() as (ecs, resources):
        fault = BrokenCluster()
        ecs.meta.events.register("before-call.ecs.ListTasks", fault)
        config = config_for(resources, org_url, [{"name": "linux"}])
        compute = EcsCompute(ecs, {p.name: p.ecs for p in config.pools}, organization_url=org_url, clock=clock)
        with AdoClient(org_url, PAT) as ado:
            yield Reconciler(config, ado, compute, clock, pass_incidents=PassIncidents()), clock, fault


def test_serve_logs_one_error_per_failing_pass_incident(
    serving: tuple[Reconciler, Clock, BrokenCluster], model: AdoModel, caplog: pytest.LogCaptureFixture
) -> None:
    reconciler, clock, fault = serving
    caplog.set_level(logging.INFO)
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)

    def passes(n: int) -> list[logging.LogRecord]:
        start = len(caplog.records)
        for _ in range(n):
            reconciler.run()
            clock.advance(PASS_INTERVAL_S)
        return [r for r in caplog.records[start:] if r.levelno >= logging.WARNING]

    fault.on = True
    first = passes(8)
    fault.on = False
    over = passes(2)
    fault.on = True
    second = passes(2)

    errors = [r for r in first if r.levelno == logging.ERROR]
    assert [(r.name, r.getMessage()) for r in errors] == [
        (
            "adoscale.alerts",
            "ALERT pool linux: its passes fail (one alert until a pass succeeds; a reminder every 24 h): "
            "ClientError: An error occurred (ClusterNotFoundException) when calling the ListTasks operation: "
            "Cluster not found.",
        )
    ]
    assert sum(1 for r in first if r.name == "adoscale.reconcile" and r.levelno == logging.WARNING) == 8
    assert [(r.levelno, r.getMessage()) for r in over if r.name == "adoscale.alerts"] == [
        (
            logging.WARNING,
            "pool linux: its passes succeed again, after 4 min and 8 failed passes (the last: ClientError: An error "
            "occurred (ClusterNotFoundException) when calling the ListTasks operation: Cluster not found.) (the "
            "failing-pass incident is over)",
        )
    ]
    assert [r.levelno for r in second if r.levelno == logging.ERROR] == [logging.ERROR]


def test_serve_reminds_once_a_day_while_the_incident_lasts(
    serving: tuple[Reconciler, Clock, BrokenCluster], model: AdoModel, caplog: pytest.LogCaptureFixture
) -> None:
    reconciler, clock, fault = serving
    caplog.set_level(logging.INFO, logger="adoscale.alerts")
    model.register_agent(model.create_pool("linux"), "adoscale-placeholder", online=False)
    fault.on = True
    reconciler.run()
    clock.advance(timedelta(hours=23, minutes=59).total_seconds())
    reconciler.run()
    clock.advance(60.0)
    reconciler.run()
    reconciler.run()
    said = [r.getMessage() for r in caplog.records if r.name == "adoscale.alerts"]
    assert len(said) == 2, said
    assert said[1].startswith("ALERT pool linux: its passes still fail, for 24 h 0 min (3 failed passes since ")
