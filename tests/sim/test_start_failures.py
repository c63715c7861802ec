"""The simulator's start-failure fault (`FargateProfile.start_failure_rate`) makes the back-off's cost
visible: tasks that never start are relaunched one at a time after a growing wait, not per pass."""

from __future__ import annotations

from adoscale_lab.sim.fargate import FargateProfile
from adoscale_lab.sim.policies import POLICIES
from adoscale_lab.sim.runner import simulate
from adoscale_lab.sim.workloads import JobSpec

JOBS = [JobSpec(100.0, 60.0, ()) for _ in range(3)]


def test_every_task_failing_to_start_costs_a_probe_per_wait_not_a_batch_per_pass() -> None:
    result = simulate(JOBS, POLICIES["adoscale"], seed=1, profile=FargateProfile(start_failure_rate=1.0))
    # Without the back-off every pass launched a task per queued job: 3 x ticks.
    print(f"\nstart failures 100 %: launched={result.launched} over {result.ticks} passes (3 jobs, never served)")
    assert result.stranded == 3 and not result.waits_s
    assert result.launched < result.ticks * 3 / 20


def test_some_tasks_failing_to_start_still_serves_every_job() -> None:
    result = simulate(JOBS, POLICIES["adoscale"], seed=1, profile=FargateProfile(start_failure_rate=0.3))
    print(f"\nstart failures 30 %: launched={result.launched} waits={[round(w) for w in result.waits_s]}")
    assert result.stranded == 0 and len(result.waits_s) == 3 and result.leaked == 0
