"""A corrupt warm-pool history item is ignored and reported (issue 22 item 4): the pool is served, the
report says the history started afresh, and the damaged item is replaced. Before, every pass of the pool
failed (5 of 5, 0 of 2 jobs served). The ADO emulator over HTTP, ECS and DynamoDB in moto."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from adoscale.ado import AdoClient
from adoscale.compute import EcsCompute
from adoscale.control import Reconciler
from adoscale.history import DynamoHistory, HistoryCorruptError
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
