"""The organization's parallel-job limit is one for all pools (issue 22 item 6): limit 4 and two pools of
4 queued jobs start at most 4 tasks in all. The ADO emulator over HTTP (its resource-usage endpoint answers
the limit), ECS in moto, the real EcsCompute."""

from __future__ import annotations

from adoscale.ado import AdoClient
from adoscale.compute import EcsCompute
from adoscale.control import Reconciler
from adoscale_lab.emulator import AdoModel
from tests.aws import config_for, ecs_world
from tests.clock import Clock
from tests.conftest import PAT


def test_limit_4_two_pools_of_4_jobs_start_at_most_4_tasks(model: AdoModel, org_url: str) -> None:
    clock = Clock()
    model.clock = clock
    model.set_parallel_limit(4)
    with ecs_world() as (ecs, resources):
        counts: list[int] = []
        ecs.meta.events.register(
            "provide-client-params.ecs.RunTask", lambda params, **_: counts.append(params["count"])
        )
        config = config_for(resources, org_url, [{"name": "linux"}, {"name": "windows"}])
        compute = EcsCompute(ecs, {p.name: p.ecs for p in config.pools}, organization_url=org_url, clock=clock)
        for name in ("linux", "windows"):
            pool = model.create_pool(name)
            model.register_agent(pool, "adoscale-placeholder", online=False)
            for _ in range(4):
                model.queue_job(pool)
        with AdoClient(org_url, PAT) as ado:
            reconciler = Reconciler(config, ado, compute, clock)
            first = reconciler.run()
            clock.advance(30)
            second = reconciler.run()  # the next round sees both pools' tasks: still no more
    assert sum(counts) == 4, (counts, [p.as_dict() for p in first.pools])
    assert [p.launched for p in first.pools] == [4, 0]
    assert all(p.launched == 0 for p in second.pools)
