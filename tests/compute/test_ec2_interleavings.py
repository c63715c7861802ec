"""Never terminate a busy agent's instance, as a property over interleavings: the property of
`tests/reconcile/test_confirm_before_stop.py`, with the real `Ec2Compute` between the pass and the world.

The world (agents, their instances, the schedule of agent changes the pass races against) is the one that
test draws; here the instances are reached through EC2's API as `Ec2Compute` calls it (DescribeInstances
pages, TerminateInstances, CreateTags), each call one step of the schedule, like every ADO call. So the
property also covers what the EC2 adapter adds: its stop is two calls (terminate, then the reason's tag),
and the terminate must be the call right after the confirming read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from hypothesis import given, settings

from adoscale.compute import Ec2Compute
from adoscale.compute.ec2 import STARTED_BY_TAG
from adoscale.compute.identity import POOL_TAG
from adoscale.config import Config, parse_config
from adoscale.control import PassLimits, Reconciler
from tests.reconcile.test_confirm_before_stop import (
    IDLE_TIMEOUT,
    NOW,
    PLACEHOLDER,
    PREFIX,
    STARTUP_TIMEOUT,
    FakeAdo,
    FakeTask,
    World,
    worlds,
)

STATES = {"PROVISIONING": "pending", "RUNNING": "running", "STOPPED": "terminated"}


def _config() -> Config:
    pool = {
        "name": "linux",
        "max_agents": 10,
        "idle_timeout_seconds": IDLE_TIMEOUT,
        "startup_timeout_seconds": STARTUP_TIMEOUT,
        "agent_name_prefix": PREFIX,
        "placeholder_name": PLACEHOLDER,
        "ec2": {"launch_template": "lt-0123456789abcdef0", "instance_types": ["m7i.large"], "subnets": ["subnet-1"]},
    }
    return parse_config(json.dumps({"organization_url": "https://dev.azure.com/acme", "pools": [pool]}))


CONFIG = _config()
TAGS = [{"Key": POOL_TAG, "Value": "linux"}, {"Key": STARTED_BY_TAG, "Value": "adoscale/linux"}]


class FakeEc2:
    """EC2's API over the drawn world: an instance is a world task (its id the task id)."""

    def __init__(self, world: World) -> None:
        self.w = world

    def _task(self, instance_id: str) -> FakeTask | None:
        return next((t for t in self.w.tasks.values() if t.task_id == instance_id), None)

    def create_fleet(self, **params: Any) -> dict[str, Any]:
        self.w.before()
        ids = []
        for _ in range(params["TargetCapacitySpecification"]["TotalTargetCapacity"]):
            task = FakeTask(f"{0xF00000 + len(self.w.tasks):032x}", "PROVISIONING", NOW)
            self.w.tasks[task.arn] = task
            ids.append(task.task_id)
        return {"Instances": [{"InstanceIds": ids, "Lifecycle": "on-demand"}], "Errors": []}

    def get_paginator(self, name: str) -> FakeEc2:
        assert name == "describe_instances"
        return self

    def paginate(self, **_: Any) -> Iterator[dict[str, Any]]:
        self.w.before()
        instances = [
            {
                "InstanceId": t.task_id,
                "State": {"Name": STATES[t.status]},
                "LaunchTime": t.created_at,
                "Tags": TAGS,
            }
            for t in self.w.tasks.values()
        ]
        yield {"Reservations": [{"Instances": instances}]}

    def terminate_instances(self, InstanceIds: list[str]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        (instance_id,) = InstanceIds
        name = PREFIX + instance_id
        self.w.before(about=name, action=True)
        self.w.check_not_busy(self.w.by_name(name), f"terminate {name}")
        task = self._task(instance_id)
        if task is not None:
            task.status = "STOPPED"
        return {"TerminatingInstances": [{"InstanceId": instance_id}]}

    def create_tags(self, **_: Any) -> dict[str, Any]:
        self.w.before()
        return {}


@settings(max_examples=200, deadline=None)
@given(worlds())
def test_no_busy_agents_instance_is_terminated_whatever_changes_between_read_and_act(world: World) -> None:
    compute = Ec2Compute(FakeEc2(world), {"linux": CONFIG.pools[0].ec2})  # type: ignore[dict-item]
    reconciler = Reconciler(
        CONFIG,
        FakeAdo(world),
        compute,
        clock=lambda: NOW,
        limits=PassLimits(deadline_s=60, lease_ttl_s=120),
        monotonic=lambda: 0.0,
    )
    report = reconciler.run_pool(CONFIG.pools[0])
    assert not world.violations and not report.errors and report.failure is None, report.as_dict()


def test_the_property_reaches_terminations() -> None:
    """The same hand-made world as the ECS property's: the pass drains one idle agent's instance and
    terminates the stalled and the finished ones, so the property above is not true for want of actions."""
    from datetime import timedelta

    from tests.reconcile.test_confirm_before_stop import FakeAgent

    old = NOW - timedelta(seconds=STARTUP_TIMEOUT + 60)
    long_ago = NOW - timedelta(seconds=IDLE_TIMEOUT + 120)
    ids = [f"{i:032x}" for i in (1, 2, 3, 4)]
    tasks = {t.arn: t for t in (FakeTask(ids[0], "RUNNING", old), FakeTask(ids[1], "RUNNING", old))}
    tasks.update({t.arn: t for t in (FakeTask(ids[2], "RUNNING", old), FakeTask(ids[3], "STOPPED", old))})
    agents = {
        1: FakeAgent(1, PREFIX + PLACEHOLDER, online=False),
        11: FakeAgent(11, PREFIX + ids[1], online=True, status_changed_on=long_ago),
        12: FakeAgent(12, PREFIX + ids[2], online=False, last_finished=long_ago),
        13: FakeAgent(13, PREFIX + ids[3], online=False),
    }
    world = World(agents, tasks, 0, [], ids)
    compute = Ec2Compute(FakeEc2(world), {"linux": CONFIG.pools[0].ec2})  # type: ignore[dict-item]
    report = Reconciler(CONFIG, FakeAdo(world), compute, clock=lambda: NOW).run_pool(CONFIG.pools[0])
    assert (report.drained, report.stopped, report.deleted) == (1, 2, 1), report.as_dict()
    assert {f"terminate {PREFIX + i}" for i in ids[:3]} <= set(world.actions)
