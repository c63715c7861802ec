"""A PAT without the "Agent Pools (read & manage)" scope is found out before a pass acts (issue 22 item 4).

Reading a pool needs only "Agent Pools (read)", so before this check the first refusal came at the first drain,
after launching: `serve` ended (exit 3) and the agent it had launched idled for ever. Now each pass that would
launch or change a registration first writes the pool's placeholder registration again as it is (or has just
registered it): refused, the pool's pass fails naming the scope, nothing is launched, and `serve` goes on.

The ADO emulator over HTTP enforces PAT scopes as the service does (`adoscale_lab.emulator.scopes`: 401 TF400813
for a known PAT without the scope a call needs; ../shared/ado-api/README.md §6.2), ECS is moto, the adapter the
real EcsCompute.
"""

from __future__ import annotations

import threading

import httpx
import pytest

from adoscale.ado import AdoClient, AdoScopeError
from adoscale.compute import EcsCompute
from adoscale.control import PoolReport, Reconciler, ServeEnd, serve_loop
from adoscale.hooks.server import PendingPools
from adoscale_lab.emulator import AdoModel
from tests.aws import config_for, ecs_world
from tests.clock import Clock
from tests.conftest import PAT

READ_ONLY = frozenset({"vso.agentpools"})
SCOPE_LINE = "lacks the Agent Pools (read & manage) scope"


def test_the_emulator_refuses_a_write_the_pats_scopes_do_not_grant_as_the_service_does(
    model: AdoModel, org_url: str
) -> None:
    pool = model.create_pool("linux")
    agent = model.register_agent(pool, "adoscale-placeholder", online=False)
    base = f"{org_url}/_apis/distributedtask/pools/{pool}/agents"
    admin = org_url.rsplit("/", 1)[0] + "/_emulator/pat-scopes"
    with httpx.Client(auth=("", PAT), params={"api-version": "7.1"}) as http:
        assert http.put(admin, json={"scopes": ["vso.nothing"]}).status_code == 400  # unknown scope named
        assert http.put(admin, json={"scopes": sorted(READ_ONLY)}).json() == {"scopes": sorted(READ_ONLY)}
        assert model.pat_scopes == READ_ONLY
        assert http.get(base).status_code == 200  # reading needs the read scope only
        for headers in ({}, {"X-TFS-FedAuthRedirect": "Suppress"}):
            # A PAT the service knows: 401 JSON, never the 203 sign-in page of an unknown one.
            refused = http.patch(f"{base}/{agent}", json={"id": agent, "enabled": False}, headers=headers)
            assert refused.status_code == 401, refused.text
            assert refused.json()["typeKey"] == "UnauthorizedRequestException"
            assert refused.json()["message"].startswith("TF400813")
        assert model.agent(pool, agent).enabled  # nothing changed
        model.pat_scopes = frozenset({"vso.agentpools_manage"})  # manage includes read
        assert http.get(base).status_code == 200
        assert http.patch(f"{base}/{agent}", json={"id": agent, "enabled": True}).status_code == 200
        assert http.get(f"{org_url}/_apis/projects").status_code == 401  # another scope


def test_a_pat_without_the_manage_scope_fails_each_pools_pass_before_it_launches_and_serve_goes_on(
    model: AdoModel, org_url: str
) -> None:
    clock = Clock()
    model.clock = clock
    model.pat_scopes = READ_ONLY
    with ecs_world() as (ecs, resources):
        run_tasks: list[int] = []
        ecs.meta.events.register("provide-client-params.ecs.RunTask", lambda params, **_: run_tasks.append(1))
        config = config_for(resources, org_url, [{"name": "linux"}, {"name": "windows"}])
        compute = EcsCompute(ecs, {p.name: p.ecs for p in config.pools}, organization_url=org_url, clock=clock)
        linux = model.create_pool("linux")
        model.register_agent(linux, "adoscale-placeholder", online=False)  # registered: the check rewrites it
        windows = model.create_pool("windows")  # no placeholder yet: registering it is the pass's first write
        model.register_agent(windows, "old-agent", online=False)  # (the service fails jobs in an empty pool)
        for pool in (linux, windows):
            model.queue_job(pool)
            model.queue_job(pool)
        reports: list[PoolReport] = []
        changed = threading.Condition()
        stop, pending = threading.Event(), PendingPools()
        ended: list[ServeEnd] = []

        def on_report(report: PoolReport) -> None:
            with changed:
                reports.append(report)
                changed.notify_all()

        with AdoClient(org_url, PAT) as ado:
            reconciler = Reconciler(config, ado, compute, clock)

            def serve() -> None:
                try:
                    outcome = serve_loop(reconciler, interval=0.01, stop=stop, pending=pending, on_report=on_report)
                    ended.append(outcome.end)
                finally:
                    with changed:
                        changed.notify_all()

            loop = threading.Thread(target=serve, daemon=True)
            loop.start()
            with changed:  # three passes over both pools, serve still looping
                assert changed.wait_for(lambda: len(reports) >= 6 or bool(ended), timeout=30), reports
                refused = list(reports)
                launched_while_refused = len(run_tasks)
                # The operator gives the PAT the scope: the next passes launch for the queued jobs.
                model.pat_scopes = None
                assert changed.wait_for(
                    lambda: sum(r.launched for r in reports[len(refused) :]) >= 4 or bool(ended), timeout=30
                ), reports
            stop.set()
            pending.wake()
            loop.join(timeout=10)
        tasks = ecs.list_tasks(cluster=resources.cluster)["taskArns"]
    assert not loop.is_alive() and ended == [ServeEnd.STOPPED]
    assert launched_while_refused == 0
    assert {r.pool for r in refused} == {"linux", "windows"}
    for report in refused[:4]:
        assert report.launched == 0 and isinstance(report.failure, AdoScopeError), report
        assert any(SCOPE_LINE in e and f"pool {report.pool}" in e for e in report.errors), report.errors
    assert len(tasks) == 4  # two queued jobs a pool, once the PAT may manage


@pytest.mark.parametrize("scopes", [None, frozenset({"vso.agentpools_manage"})])
def test_a_pat_with_the_manage_scope_launches_and_a_steady_pass_makes_no_extra_call(
    model: AdoModel, org_url: str, scopes: frozenset[str] | None
) -> None:
    """The check costs one call in a pass that acts, none in a pass that does nothing (two ADO calls)."""
    clock = Clock()
    model.clock = clock
    model.pat_scopes = scopes
    with ecs_world() as (ecs, resources):
        config = config_for(resources, org_url, [{"name": "linux"}])
        compute = EcsCompute(ecs, {p.name: p.ecs for p in config.pools}, organization_url=org_url, clock=clock)
        pool = model.create_pool("linux")
        model.register_agent(pool, "adoscale-placeholder", online=False)
        with AdoClient(org_url, PAT) as ado:
            reconciler = Reconciler(config, ado, compute, clock)
            reconciler.run()  # the pool id is cached from here on
            before = model.stats.total
            steady = reconciler.run().pools[0]
            steady_calls = model.stats.total - before
            model.queue_job(pool)
            before = model.stats.total
            acting = reconciler.run().pools[0]
            acting_calls = model.stats.total - before
    assert steady.errors == [] and steady.launched == 0
    assert acting.errors == [] and acting.launched == 1
    assert (steady_calls, acting_calls) == (2, 3)
