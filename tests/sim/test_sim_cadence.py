"""The simulator's adoscale policies observe when the deployed workflow does: one execution per schedule
tick, a round at each offset of the schedule's input (`adoscale.workflow.schedule_input`, which Terraform's
input is tested against in tests/deploy/test_schedule_input.py), plus the modelled round latency."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from adoscale.cli import app
from adoscale.cli.commands import register
from adoscale.workflow import ROUND_LATENCY_S, SCHEDULE_INTERVAL_S, TASK_CHECKS, observation_instants, schedule_input
from adoscale_lab.sim import POLICIES, JobSpec, simulate
from adoscale_lab.sim.cost import (
    DAYS_PER_MONTH,
    ROUND_SECONDS,
    SECONDS_PER_MONTH,
    Usage,
    deployed_workflow,
    load_prices,
    monthly_costs,
)
from tests.conftest import REPO

VARIABLES = REPO / "deploy" / "terraform" / "modules" / "control-plane" / "variables.tf"


def test_the_schedule_interval_is_terraforms_default_rate() -> None:
    block = re.search(r'variable "schedule_expression" \{(.*?)\n\}', VARIABLES.read_text(), re.S)
    assert block is not None
    default = re.search(r'default\s*=\s*"rate\((\d+) minutes?\)"', block.group(1))
    assert default is not None, block.group(1)
    assert int(default.group(1)) * 60 == SCHEDULE_INTERVAL_S


@pytest.mark.parametrize("name", ["adoscale", "adoscale-hooks"])
def test_adoscale_observes_at_the_workflows_instants(name: str) -> None:
    # One job, queued 637 s in: the simulation starts observing 600 s before it (at 37 s) and runs until the
    # job is done and its agent gone, several minutes of executions.
    first_run_s = 37.0
    result = simulate([JobSpec(queued_at_s=600 + first_run_s, duration_s=60.0)], POLICIES[name], seed=3)
    observed = [hours * 3600 - first_run_s for hours, *_ in result.timeline]
    assert observed[-1] > 5 * SCHEDULE_INTERVAL_S  # a few minutes: several executions compared
    expected = observation_instants(observed[-1] + 0.001, latency_s=ROUND_LATENCY_S)
    assert observed == pytest.approx(expected, abs=1e-6)
    # What that means: 4 looks a minute, 15 s apart, the first a round latency after the execution starts.
    assert observed[:5] == pytest.approx([1.0, 16.0, 31.0, 46.0, 61.0], abs=1e-6)
    assert result.jobs == 1 and len(result.waits_s) == 1


def test_the_cost_model_follows_the_deployed_workflow() -> None:
    """An execution lasts the last round's offset plus one round (rounds run concurrently); each round
    invokes `round` once and `pass` once per pool; each launch, the waiter up to TASK_CHECKS times."""
    offsets = schedule_input()["offsets"]
    usage = replace(deployed_workflow(Usage()), pools=3, launches_per_day=100.0)
    lines = {line.service: line for line in monthly_costs(usage, load_prices())}
    executions = SECONDS_PER_MONTH / SCHEDULE_INTERVAL_S
    assert (
        f"{executions:,.0f} executions of {offsets[-1] + ROUND_SECONDS:.0f} s"
        in lines["Step Functions (Express)"].basis
    )
    invocations = executions * len(offsets) * (1 + 3) + 100.0 * DAYS_PER_MONTH * TASK_CHECKS
    assert f"{invocations:,.0f} invocations" in lines["AWS Lambda"].basis
    register()
    body = json.loads(CliRunner().invoke(app, ["cost", "--deployed", "--json"]).stdout)
    assert body["usage"]["workflow_seconds"] == offsets[-1] + ROUND_SECONDS
    assert body["usage"]["observations_per_execution"] == len(offsets)


def test_the_backoff_observes_when_the_deployed_tick_would() -> None:
    """`adoscale-backoff` runs the deployed tick's decision (`plan_execution`) each minute: with every hook
    lost, a job queued in an idle pool is first observed on the next minute divisible by IDLE_EVERY_MINUTES
    (Unix minutes), the tick's and the round's latency after it; then every minute while its task starts; and
    on due minutes only once its agent runs the job."""
    from datetime import timedelta

    from adoscale.workflow import PLAN_LATENCY_S
    from adoscale.workflow.backoff import IDLE_EVERY_MINUTES
    from adoscale_lab.sim.runner import START

    queued_s = 3 * 3600 + 61.0  # 03:01:01, minute 181 of the day: the next due minute is 190
    result = simulate(
        [JobSpec(queued_at_s=queued_s, duration_s=900.0)], POLICIES["adoscale-backoff"], seed=4, hook_loss=1.0
    )
    observed = [START + timedelta(hours=hours) for hours, *_ in result.timeline]
    latency = PLAN_LATENCY_S + ROUND_LATENCY_S
    runs = [t - timedelta(seconds=latency) for t in observed]
    after = [t for t in runs if t >= START + timedelta(seconds=queued_s)]
    assert after, observed
    first = after[0]
    assert int(first.timestamp() // 60) % IDLE_EVERY_MINUTES == 0, first
    assert (first - START).total_seconds() - queued_s <= IDLE_EVERY_MINUTES * 60
    # Then a minute later only if its task was still starting at that tick (30-60 s to RUNNING: here it ran
    # by then), else only due minutes, through the 15-minute job and after.
    for previous, run in itertools.pairwise(after):
        due_minute = int(run.timestamp() // 60) % IDLE_EVERY_MINUTES == 0
        assert due_minute or (run - previous).total_seconds() == pytest.approx(60.0, abs=1e-6), (previous, run)
    assert len(after) >= 3 and len(result.waits_s) == 1
    assert result.executions >= 9 * result.observing_executions  # the ticks that started no round
