"""The README's first command: the demo runs, every job runs, and nothing is left running or registered."""

from __future__ import annotations

import io

from rich.console import Console

from adoscale_lab.demo.run import DemoPool, run_demo


def test_demo_scales_out_and_back_to_zero() -> None:
    out = io.StringIO()
    pools = (
        DemoPool("linux-docker", {"docker": ""}, ("docker",), jobs=12, max_agents=6),
        DemoPool("linux-java", {"java": "17"}, ("java -equals 17",), jobs=5, max_agents=3),
    )
    summary = run_demo(console=Console(file=out, width=200), live=False, seed=3, pools=pools, interval_s=1.0)
    assert summary.jobs_run == summary.jobs_queued == 17
    assert summary.tasks_left == 0 and summary.registrations_left == 0
    assert summary.busy_killed == 0
    assert summary.launched == 17  # one task per job: nothing over-launched
    assert summary.ok
    assert "linux-java: queued=5" in out.getvalue()
