"""The event-driven simulator (issue 25, item 2): the passes it skips are the ones that would have observed a
quiet pool and changed nothing, and the reads it answers from the last answer are the ones whose records in
the model have not changed since, so every figure is what running every pass through HTTP gives.
Timings are in `benchmarks.sim_speed`; here only results are compared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adoscale.cli import app
from adoscale.cli.commands import register
from adoscale_lab.sim import POLICIES, PolicyResult, simulate
from adoscale_lab.sim.families import generate, run
from adoscale_lab.sim.workloads import named


def _same(event: PolicyResult, every: PolicyResult) -> None:
    assert event.summary() == every.summary()
    assert event.waits_s == every.waits_s
    assert event.timeline == every.timeline
    assert event.ticks == every.ticks
    assert event.aws_calls == every.aws_calls


@pytest.mark.parametrize(
    ("workload", "days", "policy"),
    [
        ("bursty", 2, "adoscale-predictive"),  # the forecast warms agents before the second day's burst
        ("quiet", 1, "adoscale-predictive"),
        ("bursty", 2, "adoscale"),
        ("burst", 1, "seed"),
    ],
)
def test_skipping_quiet_passes_changes_no_result(workload: str, days: int, policy: str) -> None:
    jobs, since = named(workload, days, 1)
    event = simulate(jobs, POLICIES[policy], seed=1, measure_from_s=since)
    every = simulate(jobs, POLICIES[policy], seed=1, measure_from_s=since, event_driven=False)
    assert every.quiet_passes_skipped == every.reads_reused == 0
    assert event.quiet_passes_skipped > 0
    _same(event, every)


@pytest.mark.parametrize("name", ["burst-3", "trickle-12"])
def test_reusing_unchanged_reads_changes_no_result_on_a_busy_generated_day(name: str) -> None:
    """A generated day keeps the pool busy for hours (no pass is quiet then), and most passes read the same
    jobs and agents as the one before: those reads are answered from the last answer (`_UnchangedReads`)."""
    family, seed = name.split("-")
    trace = generate(family, int(seed))
    event = run(trace, POLICIES["adoscale-predictive"])
    every = run(trace, POLICIES["adoscale-predictive"], event_driven=False)
    ran = event.ticks - event.quiet_passes_skipped + event.hook_passes
    assert event.reads_reused > ran  # two reads a pass: more than half of them reused
    assert every.reads_reused == 0
    _same(event, every)


def test_most_of_a_multi_day_trace_is_skipped() -> None:
    """Nights and the gaps of a trickle: what made a 4-day run take 40 s."""
    jobs, since = named("bursty", 3, 2)
    result = simulate(jobs, POLICIES["adoscale-hooks"], seed=2, measure_from_s=since)
    assert result.quiet_passes_skipped > 0.75 * result.ticks


def test_faults_run_every_pass() -> None:
    """A fault's draw depends on the calls before it: with faults nothing is skipped."""
    jobs, _ = named("burst", 1, 1)
    result = simulate(jobs, POLICIES["adoscale"], seed=1, fault_rate=0.02)
    assert result.quiet_passes_skipped == result.reads_reused == 0 and result.stranded == 0


def test_simulate_runs_a_users_csv_trace(tmp_path: Path) -> None:
    register()
    trace = tmp_path / "monday.csv"
    trace.write_text("queued_at_s,duration_s,demands\n32400,300,\n32410,600,docker\n40000,120,\n")
    result = CliRunner().invoke(app, ["simulate", "--workload", str(trace), "--policy", "adoscale-hooks", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout[result.stdout.index("{") :])
    (row,) = body["policies"]
    assert row["jobs"] == 3 and row["stranded"] == 0 and row["launched"] == 3 and row["leaked"] == 0


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("queued_at_s\n1\n", "missing column(s) duration_s"),
        ("queued_at_s,duration_s\n1,abc\n", "line 2: could not convert"),
        ("queued_at_s,duration_s\n1,60\n-5,60\n", "line 3: queued_at_s must be 0 or more"),
        ("queued_at_s,duration_s\n1,0\n", "line 2: duration_s must be more than 0"),
        ("queued_at_s,duration_s\n1,nan\n", "line 2: duration_s must be more than 0"),
        ("queued_at_s,duration_s\ninf,60\n", "line 2: queued_at_s must be 0 or more"),
    ],
)
def test_simulate_refuses_a_bad_csv_trace_in_one_line(tmp_path: Path, text: str, says: str) -> None:
    register()
    trace = tmp_path / "bad.csv"
    trace.write_text(text)
    result = CliRunner().invoke(app, ["simulate", "--workload", str(trace), "--policy", "adoscale"])
    assert result.exit_code != 0
    flat = " ".join(result.output.replace("│", " ").split())  # rich wraps the message in a box
    assert says in flat
    assert "Traceback" not in result.output


def test_simulate_names_the_choices_for_a_missing_trace(tmp_path: Path) -> None:
    register()
    result = CliRunner().invoke(app, ["simulate", "--workload", str(tmp_path / "nope.csv")])
    assert result.exit_code != 0
    assert "an existing CSV file" in result.output
