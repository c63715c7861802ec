"""The organization's parallel-job limit is shared across pools in the same round of the deployed workflow (issue 22
item 6; H1 item 4).

The round reads the limit once and its Map runs one pass per pool with the same share. Before, each pass counted
only the other pools' *running jobs* (ADO's view at the round's start), so passes of one round, all launching at
once, each took the whole free capacity: limit 4 and two pools of 4 queued jobs gave 8 tasks, and the limit held
only from the next round. Now a launch under a known limit happens inside a critical section (an org-wide lease in
the lease table), where the share is counted again with the other pools' live tasks as ECS lists them.

Two tests: the rendered definition in moto's interpreter with the zip's handlers (the emulator answers the limit
over HTTP), and two pool passes forced to run at once (both observe before either acts), the Map's concurrency as
deployed.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from adoscale.handlers import pass_
from adoscale.workflow import DEFAULT_INPUT
from adoscale_lab.emulator import AdoModel
from tests.aws import meet_in_observe
from tests.workflow.test_workflow import Context, _finish, _machine, _world

TABLE = "adoscale-leases"
POOLS = [{"name": "linux", "max_agents": 10}, {"name": "windows", "max_agents": 10}]


def _two_pools_of_4_jobs(model: AdoModel) -> None:
    model.set_parallel_limit(4)
    for name in ("linux", "windows"):
        pool = model.create_pool(name)
        model.register_agent(pool, "adoscale-placeholder", online=False)
        for _ in range(4):
            model.queue_job(pool)


def test_the_workflows_round_keeps_two_pools_within_the_limit_in_the_same_round(
    aws: None, routed_lambdas: list[str], model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ecs, world = _world(model, org_url, monkeypatch, POOLS)
    _two_pools_of_4_jobs(model)
    monkeypatch.setenv("ADOSCALE_LEASE_TABLE", TABLE)
    sfn, machine, _ = _machine(lease_table=TABLE)
    execution = sfn.start_execution(
        stateMachineArn=machine, input=json.dumps({**DEFAULT_INPUT, "offsets": [0], "task_wait_s": 0})
    )["executionArn"]
    assert _finish(sfn, execution)["status"] == "SUCCEEDED"
    assert len(ecs.list_tasks(cluster=world.cluster)["taskArns"]) == 4  # one round: 4 in all, not 4 a pool
    assert routed_lambdas.count("adoscale-pass") == 3  # the round, then one pass a pool


def test_two_pool_passes_at_once_launch_no_more_than_the_limit(
    aws: None, model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Map's two passes, both past their observation before either launches (each saw capacity 4)."""
    ecs, world = _world(model, org_url, monkeypatch, POOLS)
    _two_pools_of_4_jobs(model)
    monkeypatch.setenv("ADOSCALE_LEASE_TABLE", TABLE)
    _machine(lease_table=TABLE)
    meet_in_observe(monkeypatch, parties=2)
    share = {"total": 4, "running_by_pool": {}}  # what the round read: nothing running yet
    results: list[dict[str, Any]] = []

    def invoke(pool: str) -> None:
        event = {"action": "pass", "pool": pool, "parallel": share}
        results.append(pass_.handler(event, Context("adoscale-pass")))

    threads = [threading.Thread(target=invoke, args=(pool["name"],)) for pool in POOLS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    launched = len(ecs.list_tasks(cluster=world.cluster)["taskArns"])
    assert len(results) == 2 and launched == 4, [r["report"] for r in results]
    assert sorted(r["report"]["launched"] for r in results) == [0, 4]
    held_back = next(r for r in results if r["report"]["launched"] == 0)["report"]
    assert any("parallel-job limit is held by other pools" in w for w in held_back["warnings"]), held_back
