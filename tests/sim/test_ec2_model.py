"""The EC2 pool in the simulator: the start-up model's stages add up to the published range, the costs are
the documented arithmetic, and the same trace runs on both pool types side by side."""

from __future__ import annotations

import pytest

from adoscale_lab.sim import POLICIES
from adoscale_lab.sim.ec2 import (
    BILLING_MINIMUM_S,
    Ec2Prices,
    Ec2StartModel,
    FargateSize,
    billed_seconds,
    compare,
    ec2_cost,
    fargate_cost,
)
from adoscale_lab.sim.workloads import JobSpec


def test_baked_image_start_up_is_about_45_to_70_seconds() -> None:
    model = Ec2StartModel()
    assert model.total_s() == (44.0, 72.0)
    profile = model.profile(spot_interruption_per_hour=0.5)
    assert profile.running_range_s() == (16.0, 23.0)  # no image pull: the baked image adds nothing
    assert profile.agent_connect_s == (28.0, 49.0)
    assert profile.spot_interruption_per_hour == 0.5


def test_per_second_billing_with_a_one_minute_minimum() -> None:
    assert billed_seconds([10.0, 59.0, 61.0, 3600.0]) == BILLING_MINIMUM_S * 2 + 61.0 + 3600.0
    prices = Ec2Prices(instance_hour=0.36, spot_instance_hour=0.18, gp3_gb_month=0.0)
    assert ec2_cost(3600.0, prices) == pytest.approx(0.36)
    assert ec2_cost(3600.0, prices, spot=True) == pytest.approx(0.18)
    with_volume = Ec2Prices(instance_hour=0.0, gp3_gb_month=0.08, root_volume_gb=50.0)
    assert ec2_cost(30.42 * 86400, with_volume) == pytest.approx(4.0)  # 50 GB for a month
    assert fargate_cost(3600.0, FargateSize(vcpu=2, memory_gb=8, vcpu_hour=0.04, gb_hour=0.005)) == pytest.approx(0.12)


def test_the_same_trace_on_fargate_and_on_ec2() -> None:
    jobs = [JobSpec(60.0 * i, 300.0) for i in range(6)]
    rows = compare(jobs, POLICIES["adoscale"], seed=3)
    assert [row["compute"] for row in rows] == ["fargate", "ec2"]
    fargate, ec2 = rows
    assert fargate["jobs"] == ec2["jobs"] == 6 and fargate["stranded"] == ec2["stranded"] == 0
    # A job waits at least its agent's start-up: 16 + 28 s at the least on EC2, 30 + 10 s on Fargate.
    low, _ = Ec2StartModel().total_s()
    assert float(ec2["wait_p50_s"]) >= low
    assert float(fargate["wait_p50_s"]) >= 40.0
    assert float(ec2["cost_usd"]) == pytest.approx(ec2_cost(float(ec2["agent_minutes"]) * 60), abs=0.01)
