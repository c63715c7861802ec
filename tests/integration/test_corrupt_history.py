"""A corrupt warm-pool history item is ignored and reported (issue 22 item 4): the pool is served, the
report says the history started afresh, and the damaged item is replaced. Before, every pass of the pool
failed (5 of 5, 0 of 2 jobs served). The ADO emulator over HTTP, ECS and DynamoDB in moto."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adoscale.ado import AdoClient
from adoscale.compute import EcsCompute
from adoscale.control import Reconciler
from adoscale.history import DynamoHistory, HistoryCorruptError, Watermark
from adoscale_lab.emulator import AdoModel
from tests.aws import config_for, create_lease_table, ecs_world
from tests.clock import Clock
from tests.conftest import PAT

TABLE = "adoscale-leases"


def test_a_corrupt_history_item_is_ignored_reported_and_replaced(model: AdoModel, org_url: str) -> None:
    clock = Clock()
    model.clock = clock
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    for _ in range(2):
        model.queue_job(pool)
    with ecs_world() as (ecs, resources):
        dynamodb = create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        dynamodb.put_item(
            TableName=TABLE,
            Item={"pool": {"S": "history#linux"}, "arrivals": {"L": [{"S": "yesterday"}]}, "idle_seconds": {"N": "1"}},
        )
        config = config_for(resources, org_url, [{"name": "linux", "warm_pool": {"mode": "predictive"}}])
        compute = EcsCompute(ecs, {p.name: p.ecs for p in config.pools}, organization_url=org_url, clock=clock)
        history = DynamoHistory(dynamodb, TABLE)
        with AdoClient(org_url, PAT) as ado:
            first = Reconciler(config, ado, compute, clock, history=history).run().pools[0]
            clock.advance(30)
            second = Reconciler(config, ado, compute, clock, history=history).run().pools[0]
        stored = history.load("linux")
    assert first.errors == [] and first.launched >= 2, first.as_dict()  # the jobs, and a warm agent
    assert first.warnings[0] == (
        "history item history#linux is unreadable (KeyError); the warm pool's history starts afresh"
    )
    assert not any("unreadable" in w for w in second.warnings)  # replaced by the first pass's record
    assert stored.max_request_id > 0 and len(stored.arrivals) == 2


def test_a_damaged_metrics_mark_is_reported_as_a_corrupt_item() -> None:
    """A mark that cannot be read back is the item's corruption (the pass starts the record afresh and says
    so), never a pass failure."""
    with mock_aws():
        dynamodb = create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        for at in ("yesterday", "2026-01-05T09:00:00"):  # not a time; a time without its zone
            dynamodb.put_item(TableName=TABLE, Item={"pool": {"S": "history#linux"}, "jobs_counted_at": {"S": at}})
            with pytest.raises(HistoryCorruptError, match="history#linux is unreadable"):
                DynamoHistory(dynamodb, TABLE).load("linux")


def test_an_item_from_before_the_durations_loads_with_them_empty() -> None:
    """An item written before the record kept running jobs, durations, start-ups and the agents counted (no
    such attributes) loads with them empty, the rest as it was: an upgrade needs no migration. The agents
    counted load as not kept (None, not none counted): the agents' mark decides then, as it did when the item
    was written, so the upgrade counts no agent again (tests/metrics/test_first_seen.py)."""
    with mock_aws():
        dynamodb = create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        old = {
            "pool": {"S": "history#linux"},
            "max_request_id": {"N": "41"},
            "idle_day": {"S": "2026-01-05"},
            "idle_seconds": {"N": "600"},
            "arrivals": {"L": [{"N": "1767603600"}, {"N": "1767603660"}]},
            "last_pass": {"N": "1767603690"},
            "jobs_counted_at": {"S": "2026-01-05T09:01:00.123000+00:00"},
            "jobs_counted_ids": {"L": [{"N": "41"}]},
        }
        dynamodb.put_item(TableName=TABLE, Item=old)
        loaded = DynamoHistory(dynamodb, TABLE).load("linux")
    assert (loaded.running, loaded.durations, loaded.finished_counted, loaded.startups) == ({}, [], Watermark(), [])
    assert loaded.started_agents is None
    assert loaded.max_request_id == 41 and len(loaded.arrivals) == 2 and loaded.jobs_counted.ids == (41,)
    demand = loaded.demand(datetime(2026, 1, 5, 9, 2, tzinfo=UTC))
    assert demand.job_seconds is None and demand.startup_s is None


@pytest.mark.parametrize(
    "damaged",
    [
        {"durations": {"L": [{"N": "300"}, {"S": "five minutes"}]}},
        {"durations": {"L": [{"N": "-5"}]}},  # no job runs for less than nothing
        {"durations": {"S": "300,240"}},
        {"running": {"M": {"job-7": {"N": "1767603600"}}}},  # a request id is a number
        {"running": {"M": {"7": {"S": "yesterday"}}}},
        {"running": {"L": [{"N": "7"}]}},
        {"finished_counted_at": {"S": "2026-01-05T09:00:00"}},  # a stamp without its zone
        {"startups": {"L": [{"N": "60"}, {"S": "a minute"}]}},
        {"startups": {"L": [{"N": "-1"}]}},  # no agent comes online before it is launched
        {"startups": {"NS": ["60", "240"]}},
        {"started_agents": {"L": [{"N": "7"}, {"S": "agent-8"}]}},
        {"started_agents": {"L": [{"N": "7.5"}]}},  # an agent id is a whole number
        {"started_agents": {"NS": ["7", "8"]}},
        {"started_agents": {"S": "7,8"}},
    ],
)
def test_a_damaged_duration_start_up_or_running_job_is_reported_as_a_corrupt_item(damaged: dict[str, Any]) -> None:
    with mock_aws():
        dynamodb = create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        dynamodb.put_item(TableName=TABLE, Item={"pool": {"S": "history#linux"}, **damaged})
        with pytest.raises(HistoryCorruptError, match=r"^history item history#linux is unreadable \(\w+\)$"):
            DynamoHistory(dynamodb, TABLE).load("linux")
