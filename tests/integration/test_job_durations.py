"""The warm pool's history learns how long the pool's jobs run, end to end: the pass as it ships (the ADO
emulator over HTTP, ECS and the lease table's history item in moto) records a job seen finished at its exact
duration and once, and a job whose agent took its registration away at the midpoint of the two passes.

The agent here is registered by hand and stays registered (its last completed request stays visible, pass
after pass); adoscale's own agents remove their registration as they exit, so their jobs end the second way.
"""

from __future__ import annotations

from datetime import UTC, datetime

import boto3

from adoscale.ado import AdoClient
from adoscale.compute import EcsCompute
from adoscale.control import Reconciler
from adoscale.history import DynamoHistory
from adoscale_lab.emulator import AdoModel
from tests.aws import config_for, create_lease_table, ecs_world
from tests.clock import Clock
from tests.conftest import PAT

TABLE = "adoscale-leases"


def test_the_pass_records_each_job_s_duration_once(model: AdoModel, org_url: str) -> None:
    # A start 0.7 s into a second: the stored assign times keep their fraction (truncated to the second, the
    # second job came out at 61 s).
    clock = Clock(datetime.now(UTC).replace(microsecond=700_000))
    model.clock = clock
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    builder = model.register_agent(pool, "builder-1", online=True)
    with ecs_world() as (ecs, resources):
        dynamodb = create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        config = config_for(resources, org_url, [{"name": "linux", "warm_pool": {"mode": "predictive"}}])
        compute = EcsCompute(ecs, {p.name: p.ecs for p in config.pools}, organization_url=org_url, clock=clock)
        history = DynamoHistory(dynamodb, TABLE)
        with AdoClient(org_url, PAT) as ado:

            def run_pass(after_s: float) -> None:
                clock.advance(after_s)
                report = Reconciler(config, ado, compute, clock, history=history).run().pools[0]
                assert report.errors == [], report.as_dict()

            first = model.queue_job(pool)  # assigned to builder-1 at once
            run_pass(10)
            assert history.load("linux").running.keys() == {first}
            clock.advance(60)
            model.finish_job(first)  # 70 s after its assignment; builder-1 keeps it as its last completed
            run_pass(20)
            run_pass(30)  # still builder-1's last completed request: counted already
            assert history.load("linux").durations == [70.0]

            second = model.queue_job(pool)
            run_pass(30)  # 30 s after its assignment: running
            clock.advance(40)
            model.finish_job(second)
            model.remove_agent(pool, builder)  # as adoscale's agents do on exit: its last completed goes too
            run_pass(20)  # the passes 30 s and 90 s after its assignment: it ended at the midpoint, 60 s
        stored = history.load("linux")
    assert stored.durations == [70.0, 60.0]
    assert stored.running == {}
