"""Idle agents whose jobs they can never take are reclaimed (issue 22 item 6, "jobs no agent of the pool can take
... their idle agents reclaimed").

The case from the issue: a pool without `capabilities` receives jobs its image cannot run (`msbuild`). The service
keeps such a job queued while another registration meets its demands (here an old offline Windows agent), so
adoscale launched agents for it, they came online without `msbuild`, were never assigned the job, and were kept
for ever: the queue counted the job, so they were never surplus. Now the jobs that the pool's own online agents
cannot take (as those agents report their capabilities) are not demand: they are reported as unservable, the
idle agents are drained by the drain protocol (disable, read again, stop) after their idle timeout, a busy one
never, and once drained, the same jobs launch nothing again.

The ADO emulator over HTTP (it assigns a job only to an agent that meets its demands, and keeps it queued while
an offline registration does), ECS in moto, the real EcsCompute.
"""

from __future__ import annotations

from adoscale.ado import AdoClient
from adoscale.ado.queue import KnownUnservable
from adoscale.compute import EcsCompute
from adoscale.control import Reconciler
from adoscale_lab.emulator import AdoModel
from tests.aws import config_for, ecs_world
from tests.clock import Clock
from tests.conftest import PAT

IDLE_TIMEOUT_S = 120


def test_idle_agents_of_jobs_their_image_cannot_run_are_drained_and_not_launched_again(
    model: AdoModel, org_url: str
) -> None:
    clock = Clock()
    model.clock = clock
    with ecs_world() as (ecs, resources):
        config = config_for(
            resources, org_url, [{"name": "linux", "max_agents": 10, "idle_timeout_seconds": IDLE_TIMEOUT_S}]
        )
        compute = EcsCompute(ecs, {p.name: p.ecs for p in config.pools}, organization_url=org_url, clock=clock)
        pool = model.create_pool("linux")
        model.register_agent(pool, "adoscale-placeholder", online=False)
        model.register_agent(pool, "old-windows-agent", {"msbuild": "17"}, online=False)  # keeps msbuild jobs queued
        msbuild = [model.queue_job(pool, ["msbuild"]) for _ in range(2)]
        plain = model.queue_job(pool)
        with AdoClient(org_url, PAT) as ado:
            reconciler = Reconciler(config, ado, compute, clock, known_unservable=KnownUnservable())
            first = reconciler.run().pools[0]
            assert first.launched == 3 and first.unservable == 0  # nothing told yet that the image lacks msbuild
            # The tasks' agents come online as the image makes them: no msbuild. The plain job is assigned to one.
            for task in compute.list_tasks("linux"):
                model.register_agent(pool, task.task_id, online=True, once=True)
            assert model.job(plain).reserved_agent is not None
            assert all(model.job(j).reserved_agent is None for j in msbuild)

            seen = reconciler.run().pools[0]  # the jobs are known unservable now; the agents are still new
            clock.advance(IDLE_TIMEOUT_S + 30)
            reclaimed = reconciler.run().pools[0]
            stopped = {t.task_arn for t in compute.list_tasks("linux") if t.last_status == "STOPPED"}
            busy_task = next(t for t in compute.list_tasks("linux") if t.last_status != "STOPPED")
            # The stopped tasks' agents remove their registration on exit (the entrypoint does).
            for agent in list(model.agents(pool)):
                if agent.online and not agent.assigned_request:
                    model.remove_agent(pool, agent.id)
            later = []
            for _ in range(3):
                clock.advance(30)
                later.append(reconciler.run().pools[0])
    assert (seen.queued, seen.unservable, seen.launched, seen.drained) == (0, 2, 0, 0), seen
    assert (reclaimed.queued, reclaimed.unservable, reclaimed.drained, reclaimed.launched) == (0, 2, 2, 0), reclaimed
    assert len(stopped) == 2 and busy_task.task_arn not in stopped  # never the busy one
    assert all(model.job(j).reserved_agent is None for j in msbuild)  # still queued, never cancelled
    # No agent of the pool is online any more: what was learnt is remembered, nothing is launched for them.
    assert [(r.launched, r.unservable, r.queued) for r in later] == [(0, 2, 0)] * 3, [r.as_dict() for r in later]
