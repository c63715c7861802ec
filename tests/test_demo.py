"""The README's first command: the demo runs, every job runs, and nothing is left running or registered."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from adoscale.compute.base import LaunchResult
from adoscale.compute.ec2 import Ec2Compute
from adoscale_lab.demo.run import DemoPool, run_demo


def test_demo_scales_out_and_back_to_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    launched_instances: list[int] = []
    launch = Ec2Compute.launch

    def count(self: Ec2Compute, pool: str, count: int, token: str) -> LaunchResult:
        result = launch(self, pool, count, token)
        launched_instances.append(len(result.started))
        return result

    monkeypatch.setattr(Ec2Compute, "launch", count)
    out = io.StringIO()
    pools = (
        # The Docker pool on emulated EC2, one instance per job (docs/ec2.md), beside a Fargate pool.
        DemoPool("linux-docker", {"docker": ""}, ("docker",), jobs=12, max_agents=6, compute="ec2"),
        DemoPool("linux-java", {"java": "17"}, ("java -equals 17",), jobs=5, max_agents=3),
    )
    summary = run_demo(console=Console(file=out, width=200), live=False, seed=3, pools=pools, interval_s=1.0)
    assert summary.jobs_run == summary.jobs_queued == 17
    assert summary.tasks_left == 0 and summary.registrations_left == 0
    assert summary.busy_killed == 0
    assert summary.launched == 17  # one task or instance per job: nothing over-launched
    assert summary.ok
    assert "linux-java: queued=5" in out.getvalue()
    assert sum(launched_instances) == 12  # the Docker pool's jobs ran on instances
