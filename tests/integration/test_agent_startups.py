"""The warm pool's history learns how long the pool's agents take to come online, end to end (issue 25, the
start-up the warm pool's sizing for short jobs pays): the pass as it ships (the ADO emulator over HTTP, ECS and
the lease table's history item in moto) keeps each agent's start-up once, from its task's launch to the
`statusChangedOn` the service stamped when it connected, and once enough agents have come online (and jobs
finished), the warm decision uses their median in place of the assumed 60 s; a configured `startup_seconds`
is used as given.

An agent that loses its connection and connects again (ADO stamps `statusChangedOn` anew) came online once:
one `AgentStartupSeconds` and one kept start-up, whatever the passes see after.

moto 5.2's tasks carry no `createdAt`, so the launch is the controller's clock when RunTask answered (what
`EcsCompute` falls back to); the emulator's clock and the controller's are the same test clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from adoscale.ado import AdoClient
from adoscale.compute import EcsCompute
from adoscale.control import PoolReport, Reconciler
from adoscale.history import DynamoHistory
from adoscale.history.base import STARTUPS_NEEDED
from adoscale.metrics import pool_metrics
from adoscale_lab.emulator import AdoModel
from tests.aws import config_for, create_lease_table, ecs_world
from tests.clock import Clock
from tests.conftest import PAT

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TABLE = "adoscale-leases"
# When each task's agent connects, seconds after the launch: a median of 240 s (their mean is 265 s).
CONNECT_AFTER_S = (200.0, 235.0, 240.0, 250.0, 400.0)
JOB_S = 600.0  # each job runs ten minutes


@dataclass(frozen=True)
class World:
    clock: Clock
    pool: int  # the emulator's pool id of `linux`
    history: DynamoHistory
    dynamodb: DynamoDBClient
    run_pass: Callable[[], PoolReport]  # one pass, asserted error-free


@contextmanager
def one_pool(model: AdoModel, org_url: str, pool: dict[str, Any]) -> Iterator[World]:
    """The pool `linux` (configured as `pool`, its placeholder registered offline) in the emulator on a test
    clock, ECS and the lease table in moto, and the pass as it ships over HTTP."""
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    model.clock = clock
    pool_id = model.create_pool("linux")
    model.register_agent(pool_id, "adoscale-placeholder", online=False)
    with ecs_world() as (ecs, resources):
        dynamodb = create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        config = config_for(resources, org_url, [{"name": "linux", **pool}])
        compute = EcsCompute(ecs, {p.name: p.ecs for p in config.pools}, organization_url=org_url, clock=clock)
        history = DynamoHistory(dynamodb, TABLE)
        with AdoClient(org_url, PAT) as ado:

            def run_pass() -> PoolReport:
                report = Reconciler(config, ado, compute, clock, history=history).run().pools[0]
                assert report.errors == [], report.as_dict()
                return report

            yield World(clock, pool_id, history, dynamodb, run_pass)


@pytest.mark.parametrize(
    ("configured", "expected"),
    [(None, "start-up 240 s learnt"), (60, "start-up 60 s configured")],
    ids=["learnt", "configured"],
)
def test_the_pass_keeps_each_agent_s_start_up_and_the_warm_pool_uses_their_median(
    model: AdoModel, org_url: str, configured: int | None, expected: str
) -> None:
    assert len(CONNECT_AFTER_S) == STARTUPS_NEEDED
    warm: dict[str, Any] = {"mode": "predictive", "idle_share": 0.5}
    if configured is not None:
        warm["startup_seconds"] = configured
    with one_pool(model, org_url, {"max_agents": 5, "warm_pool": warm}) as world:
        clock, pool, history, run_pass = world.clock, world.pool, world.history, world.run_pass
        jobs = [model.queue_job(pool) for _ in CONNECT_AFTER_S]
        launched = run_pass().launched_tasks
        assert len(launched) == len(jobs)
        start = clock()
        for task, after_s in zip(launched, CONNECT_AFTER_S, strict=True):
            clock.advance(after_s - (clock() - start).total_seconds())  # it connects, takes the oldest job
            model.register_agent(pool, task.rsplit("/", 1)[-1], once=True)
        clock.advance(10)
        counting = run_pass()
        assert sorted(s["startup_s"] for s in counting.agent_startups) == list(CONNECT_AFTER_S)
        assert history.load("linux").startups == list(CONNECT_AFTER_S)  # in the order they came online
        clock.advance(30)
        run_pass()  # seen again: counted already
        assert history.load("linux").startups == list(CONNECT_AFTER_S)

        # Each job ends ten minutes after its agent took it (its agent's last completed request says when).
        for after_s, job in zip(CONNECT_AFTER_S, jobs, strict=True):
            clock.advance(max(0.0, after_s + JOB_S - (clock() - start).total_seconds()))
            model.finish_job(job)
        clock.advance(10)
        finishing = run_pass()
        stored = history.load("linux")
    assert stored.durations == [JOB_S] * len(jobs)
    assert stored.startups == list(CONNECT_AFTER_S)
    assert stored.demand(clock()).startup_s == 240.0
    # Jobs of ten minutes at idle share 0.5 leave 300 s each; at a 240 s start-up a warm agent no job takes
    # costs more than a job leaves (q = 60 / 360), at an assumed or configured 60 s it does not (240 / 360).
    assert finishing.decision is not None and finishing.decision.warm is not None
    assert expected in finishing.decision.warm.reason, finishing.decision.warm.reason
    assert ("q=0.17" in finishing.decision.warm.reason) == (configured is None)


def test_an_agent_that_reconnects_is_counted_once(model: AdoModel, org_url: str) -> None:
    """Two standby agents: the first connects and is counted; it loses its connection and connects again (a
    network blip between two passes, `statusChangedOn` stamped anew an hour after its launch), and the second
    comes online for the first time in the same gap. Each is published and kept once, the first with the
    start-up it had when it first connected."""
    published: list[float] = []  # the AgentStartupSeconds values the passes' metrics carry
    with one_pool(model, org_url, {"max_agents": 2, "standby_agents": 2}) as world:
        clock, pool, history = world.clock, world.pool, world.history

        def run_pass() -> PoolReport:
            report = world.run_pass()
            published.extend(v for name, _, v in pool_metrics(report, 0.1) if name == "AgentStartupSeconds")
            return report

        first_task, second_task = (arn.rsplit("/", 1)[-1] for arn in run_pass().launched_tasks)
        clock.advance(50)
        blipping = model.register_agent(pool, first_task)
        clock.advance(10)
        assert [s["startup_s"] for s in run_pass().agent_startups] == [50.0]
        clock.advance(3600)
        model.set_agent_online(pool, blipping, False)
        clock.advance(20)
        model.set_agent_online(pool, blipping, True)
        clock.advance(5)
        model.register_agent(pool, second_task)  # online for the first time, 3685 s after its launch
        clock.advance(10)
        assert [s["startup_s"] for s in run_pass().agent_startups] == [3685.0]
        clock.advance(30)
        assert run_pass().agent_startups == []
        stored = history.load("linux")
    assert published == [50.0, 3685.0]
    assert stored.startups == [50.0, 3685.0]


def test_an_agent_counted_by_an_earlier_version_is_not_counted_again(model: AdoModel, org_url: str) -> None:
    """An item the earlier version wrote (the agents' mark, no ids) after it had counted the pool's agent: the
    upgraded pass counts nothing, saves the item with the agent's id, and the agent's reconnect later is not
    counted either."""
    with one_pool(model, org_url, {"max_agents": 1, "standby_agents": 1}) as world:
        clock, pool, history, dynamodb, run_pass = (
            world.clock,
            world.pool,
            world.history,
            world.dynamodb,
            world.run_pass,
        )

        (launched,) = run_pass().launched_tasks
        clock.advance(50)
        agent_id = model.register_agent(pool, launched.rsplit("/", 1)[-1])
        connected = model.agent(pool, agent_id).status_changed_on
        old = {
            "pool": {"S": "history#linux"},
            "max_request_id": {"N": "0"},
            "agents_counted_at": {"S": connected.isoformat()},
            "agents_counted_ids": {"L": [{"N": str(agent_id)}]},
        }
        dynamodb.put_item(TableName=TABLE, Item=old)
        assert history.load("linux").started_agents is None
        clock.advance(10)
        assert run_pass().agent_startups == []
        assert history.load("linux").started_agents == {agent_id}
        clock.advance(600)
        model.set_agent_online(pool, agent_id, False)
        clock.advance(20)
        model.set_agent_online(pool, agent_id, True)
        clock.advance(10)
        assert run_pass().agent_startups == []
