"""Single flight per pool, end to end: the ADO emulator over HTTP on 127.0.0.1, ECS and the lease table
(DynamoDB, string partition key `pool`) in moto.

Two passes on one pool, started together and forced to observe before either acts, launch exactly the
queue; without the lease the same harness launches it twice (the unleased case below proves the passes
really overlap). A pass that dies holding the lease blocks its pool until the lease's expiry, no longer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from adoscale.ado import AdoClient
from adoscale.compute import EcsCompute
from adoscale.control import PassLimits, PoolReport, Reconciler
from adoscale.lease import DynamoLease, Lease, Unleased
from adoscale_lab.emulator import AdoModel
from tests.aws import config_for, create_lease_table, ecs_world, meet_in_observe
from tests.clock import Clock
from tests.conftest import PAT

TABLE = "adoscale-leases"
QUEUED = 25
LIMITS = PassLimits(deadline_s=20, lease_ttl_s=60)


@dataclass
class World:
    model: AdoModel
    ecs: Any
    dynamodb: Any
    config: Any
    org_url: str
    pool_id: int

    def reconciler(self, lease: Lease, clock: Clock | None = None) -> tuple[Reconciler, AdoClient]:
        """A controller of its own (its own ADO connection and pool-id cache), as a second process would be."""
        clock = clock or Clock()
        compute = EcsCompute.for_config(self.ecs, self.config)
        ado = AdoClient(self.org_url, PAT)
        return Reconciler(self.config, ado, compute, clock, lease=lease, limits=LIMITS), ado

    def live_tasks(self) -> int:
        arns = self.ecs.list_tasks(cluster=self.config.pools[0].ecs.cluster, desiredStatus="RUNNING")["taskArns"]
        return len(arns)


@pytest.fixture
def world(model: AdoModel, org_url: str) -> Iterator[World]:
    with ecs_world() as (ecs, resources):
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_lease_table(dynamodb, TABLE)
        config = config_for(resources, org_url, [{"name": "linux", "max_agents": 30}])
        pool_id = model.create_pool("linux")
        model.register_agent(pool_id, "adoscale-placeholder", online=False)
        for _ in range(QUEUED):
            model.queue_job(pool_id)
        yield World(model, ecs, dynamodb, config, org_url, pool_id)


def _together(world: World, leases: list[Lease], barrier: threading.Barrier) -> list[PoolReport]:
    """One pass per lease, each in its own thread with its own controller, started together."""
    controllers = [world.reconciler(lease) for lease in leases]
    reports: list[PoolReport] = []
    errors: list[BaseException] = []

    def one(reconciler: Reconciler) -> None:
        try:
            reports.append(reconciler.run_pool(reconciler.config.pools[0]))
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(r,)) for r, _ in controllers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for _, ado in controllers:
        ado.close()
    barrier.abort()  # the test's own ListTasks calls below need not wait for a partner
    assert not any(t.is_alive() for t in threads), "a pass did not finish"
    assert not errors, errors
    return reports


def test_two_passes_together_launch_exactly_the_queue_and_a_third_is_not_locked_out(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pass that takes the lease waits in its observe step for a partner that never comes (the lease kept
    # it out), so the other pass's attempt certainly falls inside the first pass, before it acts.
    barrier = meet_in_observe(monkeypatch, parties=2)
    reports = _together(world, [DynamoLease(world.dynamodb, TABLE), DynamoLease(world.dynamodb, TABLE)], barrier)

    assert world.live_tasks() == QUEUED
    ran = [r for r in reports if not r.skipped]
    skipped = [r for r in reports if r.skipped]
    assert len(ran) == 1 and len(skipped) == 1, [r.as_dict() for r in reports]
    assert ran[0].launched == QUEUED and not ran[0].errors
    assert "another pass holds the lease" in str(skipped[0].skipped)
    assert ran[0].pass_id in str(skipped[0].skipped)  # it names the holder
    assert skipped[0].launched == 0 and skipped[0].plan == []

    # Right after: the lease was given back, so a third pass runs (not skipped) and launches nothing.
    third, ado = world.reconciler(DynamoLease(world.dynamodb, TABLE))
    with ado:
        report = third.run_pool(third.config.pools[0])
    assert report.skipped is None, report.as_dict()
    assert (report.queued, report.starting, report.launched) == (QUEUED, QUEUED, 0)
    assert world.live_tasks() == QUEUED
    assert "Item" not in world.dynamodb.get_item(TableName=TABLE, Key={"pool": {"S": "linux"}})


def test_without_the_lease_the_same_harness_launches_twice(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The failure the lease prevents, shown with the same forced overlap: proof that the passes above
    really observed together (otherwise the leased test would pass for the wrong reason)."""
    barrier = meet_in_observe(monkeypatch, parties=2)
    reports = _together(world, [Unleased(), Unleased()], barrier)
    assert [r.launched for r in reports] == [QUEUED, QUEUED]
    assert world.live_tasks() == 2 * QUEUED


def test_a_pass_killed_holding_the_lease_blocks_its_pool_only_until_the_expiry(world: World) -> None:
    clock = Clock()
    lease = DynamoLease(world.dynamodb, TABLE, clock=clock)
    # The killed pass: took the lease and never gave it back.
    assert lease.acquire("linux", "killed-pass", LIMITS.lease_ttl_s) is None

    reconciler, ado = world.reconciler(lease, clock)
    with ado:
        blocked = reconciler.run_pool(reconciler.config.pools[0])
        assert blocked.skipped is not None and "killed-pass" in blocked.skipped
        assert world.live_tasks() == 0

        clock.advance(LIMITS.lease_ttl_s - 1)  # still within the expiry: still blocked
        assert "killed-pass" in str(reconciler.run_pool(reconciler.config.pools[0]).skipped)
        assert world.live_tasks() == 0

        # Just past the expiry (stored in whole seconds, rounded up): taken over without waiting.
        clock.advance(2)
        report = reconciler.run_pool(reconciler.config.pools[0])
    assert report.skipped is None, report.as_dict()
    assert report.launched == QUEUED and not report.errors
    assert world.live_tasks() == QUEUED
    # The dead pass cannot release what it no longer holds.
    assert lease.acquire("linux", "another", LIMITS.lease_ttl_s) is None
    lease.release("linux", "killed-pass")
    held = lease.acquire("linux", "a-third", LIMITS.lease_ttl_s)
    assert held is not None and held.owner == "another"
