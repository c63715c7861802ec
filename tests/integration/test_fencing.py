"""Two controllers whose clocks are 120 s apart, and a pass whose RunTask takes longer than its lease (issue 22
item 2): never more tasks than jobs. The ADO emulator over HTTP, ECS and the lease table in moto, the real
EcsCompute and DynamoLease, each controller with its own clients and clock.

moto does not honour RunTask's `clientToken`; ECS does ("An identifier that you provide to ensure the
idempotency of the request", ECS API Reference, RunTask): `IdempotentRunTask` plays that rule on both
controllers' clients (one ECS), answering a repeated token with the first call's answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from adoscale.ado import AdoClient
from adoscale.bootstrap import LEASE_SKEW_MARGIN_S
from adoscale.compute import EcsCompute
from adoscale.control import PoolReport, Reconciler
from adoscale.lease import DynamoLease
from adoscale_lab.emulator import AdoModel
from tests.aws import config_for, create_lease_table, ecs_world
from tests.clock import Clock
from tests.conftest import PAT

TABLE = "adoscale-leases"
SKEW_S = 120.0
START = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


class _Answered:
    status_code = 200
    headers: dict[str, str] = {}  # noqa: RUF012 - botocore reads it, nobody writes it


@dataclass
class IdempotentRunTask:
    answers: dict[str, Any] = field(default_factory=dict)

    def attach(self, ecs: Any) -> None:
        ecs.meta.events.register("before-call.ecs.RunTask", self.before)
        ecs.meta.events.register("after-call.ecs.RunTask", self.after)

    def before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> Any:
        token = _token(params)
        context["client_token"] = token  # for `after`, which botocore gives the context, not the request
        return (_Answered(), self.answers[token]) if token in self.answers else None

    def after(self, parsed: Any, context: dict[str, Any], **_: Any) -> None:
        token = context.get("client_token")
        if token and parsed and "tasks" in parsed:
            self.answers.setdefault(token, parsed)


def _token(request: dict[str, Any]) -> str:
    import json

    body = request.get("body") or b"{}"
    return str(json.loads(body).get("clientToken", ""))


@pytest.mark.parametrize("runtask_s", [0.0, 70.0], ids=["B-during-A", "A-runtask-outlives-lease"])
def test_two_controllers_120_s_apart_never_start_more_tasks_than_jobs(
    model: AdoModel, org_url: str, runtask_s: float
) -> None:
    clock_a, clock_b = Clock(START), Clock(START.replace(minute=2))  # B's clock 120 s ahead of A's
    model.clock = clock_a
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    for _ in range(3):
        model.queue_job(pool)
    with ecs_world() as (ecs_a, resources):
        ecs_b = boto3.client("ecs", region_name="us-east-1")
        dynamodb = create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        idempotent = IdempotentRunTask()
        config = config_for(resources, org_url, [{"name": "linux"}])
        with AdoClient(org_url, PAT) as ado_a, AdoClient(org_url, PAT) as ado_b:

            def controller(ecs: Any, ado: AdoClient, clock: Clock) -> Reconciler:
                compute = EcsCompute(ecs, {p.name: p.ecs for p in config.pools}, organization_url=org_url, clock=clock)
                lease = DynamoLease(dynamodb, TABLE, clock=clock, skew_margin_s=LEASE_SKEW_MARGIN_S)
                return Reconciler(config, ado, compute, clock, lease=lease)

            a, b = controller(ecs_a, ado_a, clock_a), controller(ecs_b, ado_b, clock_b)
            b_reports: list[PoolReport] = []

            def slow_runtask(**_: Any) -> None:
                # A's RunTask is on its way (it takes `runtask_s`): B's pass runs meanwhile, once.
                if not b_reports:
                    clock_a.advance(runtask_s)
                    clock_b.advance(runtask_s)
                    b_reports.append(b.run().pools[0])

            ecs_a.meta.events.register("provide-client-params.ecs.RunTask", slow_runtask)
            for ecs in (ecs_a, ecs_b):
                idempotent.attach(ecs)
            a_report = a.run().pools[0]
            live = [t for t in a._compute_for(config.pools[0]).list_tasks("linux") if t.last_status != "STOPPED"]
    (b_report,) = b_reports
    assert len(live) <= 3, (len(live), a_report.as_dict(), b_report.as_dict())
    if runtask_s < 60:
        # A's lease is live by A's clock: B, 120 s ahead, still sees it held (the skew margin).
        assert b_report.skipped and "another pass holds the lease" in b_report.skipped
    else:
        # A outlived its lease and B took the pool over; both decided on what they saw, which was the same.
        assert b_report.launched == 3 and not b_report.skipped
    assert len(live) == 3
