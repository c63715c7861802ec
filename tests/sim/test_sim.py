"""The simulator's targets, and the reliability soak. Figures are asserted, timings never are."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adoscale.cli import app
from adoscale.cli.commands import register
from adoscale_lab.sim import POLICIES, FargateProfile, JobSpec, PolicyResult, burst, from_csv, seed_day, simulate

# The platform's start-up floor without standby: 30-60 s to RUNNING plus 10-20 s for the agent.
STARTUP = FargateProfile()
FLOOR_P95 = (
    STARTUP.to_running_s[0] + 0.95 * (STARTUP.to_running_s[1] - STARTUP.to_running_s[0]) + STARTUP.agent_connect_s[1]
)


@pytest.fixture(scope="module")
def seed_day_results() -> dict[str, PolicyResult]:
    jobs = seed_day(1, random.Random(11))
    return {
        name: simulate(jobs, POLICIES[name], seed=11) for name in ("seed", "naive-fast", "adoscale", "adoscale-standby")
    }


def test_adoscale_on_burst_overlaunches_strands_kills_and_leaks_nothing() -> None:
    result = simulate(burst(random.Random(2)), POLICIES["adoscale"], seed=2)
    assert result.jobs == 50 and len(result.waits_s) == 50
    assert result.overlaunched == 0 and result.launched == 50
    assert result.stranded == 0 and result.busy_killed == 0 and result.leaked == 0


def test_naive_fast_shows_why_starting_tasks_count(seed_day_results: dict[str, PolicyResult]) -> None:
    assert seed_day_results["naive-fast"].overlaunched > 0
    assert seed_day_results["adoscale"].overlaunched == 0


def test_adoscale_p95_near_the_startup_floor_and_seed_a_minute_behind(
    seed_day_results: dict[str, PolicyResult],
) -> None:
    adoscale, seed = seed_day_results["adoscale"], seed_day_results["seed"]
    assert adoscale.percentile(0.95) <= FLOOR_P95 + 20
    mean = sum(adoscale.waits_s) / len(adoscale.waits_s)
    seed_mean = sum(seed.waits_s) / len(seed.waits_s)
    assert 30 <= seed_mean - mean <= 120  # the seed's 2-minute poll adds about a minute on average
    assert max(seed.waits_s) - max(adoscale.waits_s) <= 120


def test_adoscale_bills_close_to_busy_plus_startup(seed_day_results: dict[str, PolicyResult]) -> None:
    result = seed_day_results["adoscale"]
    startup_minutes = result.launched * (sum(STARTUP.to_running_s) / 2 + sum(STARTUP.agent_connect_s) / 2) / 60
    assert result.agent_minutes <= 1.10 * (result.busy_minutes + startup_minutes)


def test_standby_median_wait_in_working_hours_and_its_extra_cost(seed_day_results: dict[str, PolicyResult]) -> None:
    standby, plain = seed_day_results["adoscale-standby"], seed_day_results["adoscale"]
    in_hours = sorted(wait for at_h, wait in standby.hourly_waits if 8 <= at_h % 24 < 18)
    assert in_hours and in_hours[len(in_hours) // 2] < 10
    assert standby.agent_minutes > plain.agent_minutes  # the price of standby, shown in the report


def test_soak_with_faults_keeps_every_invariant() -> None:
    """A simulated week (two days in CI; ADOSCALE_SOAK_DAYS=7 for the full size) with ADO 2 % 5xx and 1 %
    429, 1 % task start failures and Spot interruptions.

    Wait bound, 300 s: the worst start-up (60 s + 20 s), a launch lost to a capacity error and relaunched on
    the next pass (15 s + 80 s), a pass or two lost to ADO faults after retries (2 x 15 s), and a Spot
    interruption's re-queue: 80 + 95 + 30 = 205 s, rounded up with margin for the 30 s retry deadline.
    """
    days = int(os.environ.get("ADOSCALE_SOAK_DAYS", "2"))
    jobs = seed_day(days, random.Random(23))
    profile = FargateProfile(capacity_error_rate=0.01, spot_interruption_per_hour=0.5)
    result = simulate(jobs, POLICIES["adoscale"], seed=23, fault_rate=0.03, max_agents=20, profile=profile)
    print(f"\nsoak {days} d: {result.summary()} spot={result.spot_interrupted} capacity={result.capacity_errors}")
    assert result.busy_killed == 0
    assert result.stranded == 0
    assert max(result.waits_s) < 300
    assert result.leaked == 0
    assert result.max_live_tasks <= 20
    assert result.ado_calls > 0


def test_csv_trace_with_demands(tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text("queued_at_s,duration_s,demands\n100,60,docker\n130,90,docker;java -equals 17\n160,30,\n")
    jobs = from_csv(trace)
    assert jobs[1] == JobSpec(130.0, 90.0, ("docker", "java -equals 17"))
    result = simulate(jobs, POLICIES["adoscale"], seed=1)
    assert result.stranded == 0 and len(result.waits_s) == 3 and result.leaked == 0
    trace.write_text("queued_at_s,duration_s\n1,abc\n")
    with pytest.raises(ValueError, match="line 2"):
        from_csv(trace)


def test_simulate_cli_json_and_report(tmp_path: Path) -> None:
    register()
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app,
        ["simulate", "--workload", "burst", "--policy", "seed", "--policy", "adoscale", "--json", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout[result.stdout.index("{") :])
    keys = {
        "policy",
        "wait_p50_s",
        "wait_p95_s",
        "wait_max_s",
        "stranded",
        "launched",
        "overlaunched",
        "agent_minutes",
        "idle_agent_minutes",
        "busy_killed",
        "leaked",
        "cost_usd_month",
    }
    assert [p["policy"] for p in body["policies"]] == ["seed", "adoscale"]
    assert keys <= set(body["policies"][0])
    assert (out / "timeline.png").stat().st_size > 1000 and (out / "wait_cdf.png").stat().st_size > 1000
    assert "| adoscale |" in (out / "report.md").read_text()


def test_cost_cli_reproduces_the_seed_estimate_shape() -> None:
    register()
    # The original design's schedule (every 2 minutes); `cost` alone prices what Terraform deploys.
    result = CliRunner().invoke(app, ["cost", "--interval", "120", "--json"])
    assert result.exit_code == 0
    body = json.loads(result.stdout)
    lines = {line["service"]: line["monthly_usd"] for line in body["lines"]}
    # The seed's own figures (January 2022): Step Functions 0.09, Fargate 3.38, ECR 1.00.
    assert lines["Step Functions (Express)"] == pytest.approx(0.09, abs=0.02)
    assert lines["AWS Fargate"] == pytest.approx(3.38, rel=0.1)
    assert lines["Amazon ECR"] == pytest.approx(1.0)
    assert body["total_usd_month"] == pytest.approx(sum(lines.values()), abs=0.01)
