"""Start-up timeouts are measured on ECS's clock (issue 22 item 2): a controller whose clock runs 15 minutes
ahead neither stops its new tasks as stalled nor launches again for the same job. The ADO emulator over HTTP,
ECS in moto (which omits `createdAt`; real ECS always returns it, stamped by its own clock, so a hook adds it as
ECS would: the time of the describe, on the server's clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from adoscale.ado import AdoClient
from adoscale.compute import EcsCompute
from adoscale.control import Reconciler
from adoscale_lab.emulator import AdoModel
from tests.aws import config_for, ecs_world
from tests.clock import Clock
from tests.conftest import PAT


def test_a_controller_15_minutes_ahead_keeps_its_starting_tasks(model: AdoModel, org_url: str) -> None:
    clock = Clock(datetime.now(UTC) + timedelta(minutes=15))
    model.clock = clock
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    model.queue_job(pool)
    created: dict[str, datetime] = {}

    def stamp(parsed: dict[str, Any], **_: Any) -> None:
        for task in parsed.get("tasks", []):
            task.setdefault("createdAt", created.setdefault(task["taskArn"], datetime.now(UTC)))

    with ecs_world() as (ecs, resources):
        ecs.meta.events.register("after-call.ecs.DescribeTasks", stamp)
        ecs.meta.events.register("after-call.ecs.RunTask", stamp)
        config = config_for(resources, org_url, [{"name": "linux", "startup_timeout_seconds": 600}])
        compute = EcsCompute(ecs, {p.name: p.ecs for p in config.pools}, organization_url=org_url, clock=clock)
        with AdoClient(org_url, PAT) as ado:
            reconciler = Reconciler(config, ado, compute, clock)
            first = reconciler.run().pools[0]
            clock.advance(30)
            second = reconciler.run().pools[0]
    assert first.launched == 1
    assert (second.launched, second.stopped, second.starting) == (0, 0, 1), second.as_dict()
