"""The start-up model's image term and the issue-14 traces: what they are, not what they make pass."""

from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

from adoscale.cli import app
from adoscale.cli.commands import register
from adoscale_lab.sim import POLICIES, FargateProfile, ImageModel, burst, quiet, simulate
from adoscale_lab.sim.fargate import MIN_TO_RUNNING_S
from adoscale_lab.sim.workloads import BURST_JOBS, last_day_start, named


def test_the_reference_image_keeps_the_published_startup_range() -> None:
    assert ImageModel().delta_seconds() == 0.0
    assert FargateProfile().running_range_s() == (30.0, 60.0)


def test_a_smaller_zstd_or_lazily_loaded_image_starts_sooner() -> None:
    reference = ImageModel().pull_seconds()
    small = ImageModel(size_mb=300).pull_seconds()
    zstd = ImageModel(compression="zstd").pull_seconds()
    soci = ImageModel(soci=True).pull_seconds()
    assert small < zstd < reference and soci < reference
    # AWS's own claims as sanity bounds: zstd up to 27 % of the start-up, SOCI up to half (docs/latency.md).
    mean_startup = sum(FargateProfile().to_running_s) / 2
    assert 0.10 <= (reference - zstd) / mean_startup <= 0.27
    assert 0.40 <= (reference - soci) / mean_startup <= 0.65
    # A tiny image still pays for scheduling and the network interface.
    assert FargateProfile(image=ImageModel(size_mb=1)).running_range_s()[0] == MIN_TO_RUNNING_S
    # A bigger one waits longer.
    assert FargateProfile(image=ImageModel(size_mb=3000)).running_range_s()[0] > 60.0


@pytest.mark.parametrize("kwargs", [{"size_mb": 0}, {"compression": "lz4"}])
def test_an_impossible_image_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"image size|compression"):
        ImageModel(**kwargs)  # type: ignore[arg-type]


def test_a_smaller_image_shortens_the_simulated_wait() -> None:
    jobs = burst(random.Random(3), count=20)
    plain = simulate(jobs, POLICIES["adoscale"], seed=3)
    small = simulate(jobs, POLICIES["adoscale"], seed=3, profile=FargateProfile(image=ImageModel(size_mb=300)))
    print(f"\nburst of 20, p50 wait: 1000 MB {plain.percentile(0.5):.1f} s, 300 MB {small.percentile(0.5):.1f} s")
    # 700 MB less is 14 s less download and 8.75 s less unpacking, on every task.
    assert plain.percentile(0.5) - small.percentile(0.5) == pytest.approx(22.75, abs=8)
    assert small.overlaunched == 0 and small.stranded == 0


@pytest.mark.parametrize(("name", "per_hour"), [("bursty", 2.0), ("bursty-steady", 6.0)])
def test_bursty_is_30_jobs_in_5_minutes_then_a_trickle_every_day(name: str, per_hour: float) -> None:
    jobs, since = named(name, 3, 5)
    for day in range(3):
        mine = [j.queued_at_s - day * 86400 for j in jobs if day * 86400 <= j.queued_at_s < (day + 1) * 86400]
        burst_jobs = [t for t in mine if 9 * 3600 <= t <= 9 * 3600 + 360]
        assert len(burst_jobs) >= BURST_JOBS
        assert max(burst_jobs) - min(burst_jobs) <= 300
        trickle = [t for t in mine if t > 9 * 3600 + 360]
        expected = per_hour * 9  # from about 09:05 until 18:00
        assert expected / 2 <= len(trickle) <= expected * 2 and max(trickle) < 18 * 3600
    assert since == last_day_start(jobs) == 2 * 86400
    if name == "bursty":  # the burst is most of each day's work: it, not the trickle, carries the median
        assert all(
            len([j for j in jobs if d * 86400 <= j.queued_at_s < (d + 1) * 86400]) < 2 * BURST_JOBS for d in range(3)
        )


def test_quiet_is_a_few_jobs_over_one_night() -> None:
    jobs = quiet(random.Random(5))
    assert len(jobs) == 4
    assert all(22 * 3600 <= j.queued_at_s < 30 * 3600 for j in jobs)


def test_named_workloads_say_where_to_measure() -> None:
    assert named("bursty", 3, 1)[1] == 2 * 86400
    assert named("seed-day", 3, 1)[1] == 0.0
    with pytest.raises(KeyError):
        named("nope", 1, 1)


def test_only_the_measured_day_counts() -> None:
    jobs, since = named("bursty", 2, 4)
    last_day = [j for j in jobs if j.queued_at_s >= since]
    result = simulate(jobs, POLICIES["adoscale"], seed=4, measure_from_s=since)
    assert result.jobs == len(last_day) and len(result.waits_s) == len(last_day)
    assert result.launched == len(last_day)  # one task per job, and only the last day's tasks
    assert result.measured_from_h == 24.0


def test_simulate_cli_reports_the_new_policies_on_the_new_traces() -> None:
    register()
    args = ["simulate", "-w", "quiet", "-p", "adoscale-hooks", "-p", "adoscale-predictive", "--json"]
    result = CliRunner().invoke(app, [*args, "--image-mb", "300", "--zstd"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout[result.stdout.index("{") :])
    rows = {p["policy"]: p for p in body["policies"]}
    assert set(rows) == {"adoscale-hooks", "adoscale-predictive"}
    fields = {"wait_p50_s", "wait_p95_s", "agent_minutes", "idle_agent_minutes", "busy_minutes"}
    fields |= {"overlaunched", "stranded", "busy_killed", "leaked"}
    assert fields <= set(rows["adoscale-predictive"])
    assert rows["adoscale-hooks"]["jobs"] == 4 and rows["adoscale-hooks"]["hook_passes"] >= 4
    # 300 MB of zstd starts in 10-29 s instead of 30-60 s, so no job waits a full reference start-up.
    assert rows["adoscale-hooks"]["wait_max_s"] < 30 + 20 + 15


def test_simulate_cli_refuses_an_unknown_workload_clearly() -> None:
    register()
    result = CliRunner().invoke(app, ["simulate", "-w", "nightly", "--json"])
    assert result.exit_code == 2
    text = " ".join(result.output.replace("│", " ").split())  # rich wraps the message in a box
    assert "not seed-day, burst, bursty, bursty-steady, quiet, or an existing CSV file: nightly" in text
    assert "Traceback" not in result.output
