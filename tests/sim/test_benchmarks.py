"""The benchmarks still run and count what they claim, read from their structured results (`benchmarks.results`),
never from their prose. Counts are asserted; their timings never are (only that they were taken).

Each benchmark runs as its documented command (`python -m benchmarks.X`), small, with `--out FILE`: the JSON
file is read back with the benchmark's own model, and what it printed must be that result's rendering and
nothing else (the prose is only a view of the figures)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TypeVar

import pytest
from benchmarks.cold_import import ColdImportResult
from benchmarks.controller_scale import ControllerScaleResult
from benchmarks.family_compare import FamilyCompareResult
from benchmarks.family_table import FamilyTableResult, TraceRow
from benchmarks.lambda_pass import LambdaPassResult
from benchmarks.queue_read import QueueReadResult
from benchmarks.reconcile_pass import ReconcilePassResult
from benchmarks.results import BenchResult
from benchmarks.sim_speed import SimSpeedResult
from benchmarks.sim_speed import main as sim_speed_main

from adoscale.config import MAX_POOLS
from adoscale_lab.sim import POLICIES
from adoscale_lab.sim.families import generate, rescaled, run
from adoscale_lab.sim.workloads import named

ROOT = Path(__file__).resolve().parents[2]
R = TypeVar("R", bound=BenchResult)
POOL_ROUTE = "/{org}/_apis/distributedtask/pools/{pool_id}"  # the emulator's route templates


def _command(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def _run(model: type[R], tmp_path: Path, *args: str) -> R:
    """Run the benchmark with `--out`, read the file back as `model`, and check the prose is its rendering."""
    out = tmp_path / "result.json"
    module = f"benchmarks.{model.model_fields['benchmark'].default}"
    done = _command(module, *args, "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    result = model.model_validate_json(out.read_text())
    assert done.stdout == result.render() + "\n"
    assert result.run.command == ["python", "-m", module, *args, "--out", str(out)]
    return result


def test_lambda_path_makes_two_ado_calls_per_pool_per_steady_pass(tmp_path: Path) -> None:
    pools, max_agents = 3, 2
    args = ("--pools", str(pools), "--queued", "4", "--max-agents", str(max_agents), "--rounds", "3")
    result = _run(LambdaPassResult, tmp_path, *args)
    assert [r.number for r in result.rounds] == [0, 1, 2]
    first, *steady = result.rounds
    # The round action reads the parallel-job limit once for every pool; the first passes also look up the
    # pool ids and, as they launch, check the PAT's manage scope (a PATCH of the placeholder as it is): 4 calls
    # a pool; the steady ones list the jobs and the agents only (issue 10's goal: 2).
    assert all(r.round_ado_calls == 1 for r in result.rounds)
    assert first.pass_ado_calls == 4 * pools
    assert [r.pass_ado_calls for r in steady] == [2 * pools, 2 * pools]
    assert result.steady_ado_calls_per_pool_pass == 2.0
    for r in steady:  # the round action's one read, then each pass lists its jobs and its agents, nothing else
        assert r.ado_calls_by_route == {
            "GET /{org}/_apis/distributedtask/resourceusage": 1,
            f"GET {POOL_ROUTE}/jobrequests": pools,
            f"GET {POOL_ROUTE}/agents": pools,
        }
    assert (first.launched, first.errors) == (pools * max_agents, 0)
    assert all((r.launched, r.errors) == (0, 0) for r in steady)
    # Each pass takes and releases the pool's lease; only the first round launches.
    assert all(r.aws_calls["dynamodb:DeleteItem"] == pools for r in result.rounds)
    assert first.aws_calls["ecs:RunTask"] == pools
    assert all("ecs:RunTask" not in r.aws_calls for r in steady)


def test_reconcile_pass_counts_the_calls_of_a_first_and_a_steady_pass(tmp_path: Path) -> None:
    pools, max_agents = 3, 2
    result = _run(
        ReconcilePassResult, tmp_path, "--pools", str(pools), "--queued", "4", "--max-agents", str(max_agents)
    )
    assert (result.pools, result.queued_per_pool, result.max_agents) == (pools, 4, max_agents)
    first, steady = result.first, result.steady
    assert (first.launched, first.errors) == (pools * max_agents, 0)
    # Pool id, job requests, agents and the manage-scope check before launching (a PATCH of the placeholder as
    # it is) per pool, plus the organization's parallel-job limit once.
    assert first.ado_calls == 4 * pools + 1
    assert first.aws_calls == {"ecs:ListTasks": 2 * pools, "ecs:RunTask": pools}
    assert (steady.launched, steady.errors, steady.ado_calls) == (0, 0, 2 * pools)
    assert steady.ado_calls_by_route == {f"GET {POOL_ROUTE}/jobrequests": pools, f"GET {POOL_ROUTE}/agents": pools}
    assert steady.aws_calls == {"ecs:ListTasks": 2 * pools, "ecs:DescribeTasks": pools}
    assert first.wall_s > 0 and steady.wall_s > 0 and result.peak_rss_mb > 0


@pytest.mark.parametrize("fresh", [False, True], ids=["served-before", "fresh"])
def test_controller_scale_splits_pools_over_configurations(tmp_path: Path, fresh: bool) -> None:
    pools = 101
    args = ["--pools", str(pools), "--queued", "202", "--agents", "101"] + (["--fresh"] if fresh else [])
    result = _run(ControllerScaleResult, tmp_path, *args)
    assert (result.configurations, result.max_pools_per_configuration, result.fresh) == (2, MAX_POOLS, fresh)
    assert (result.launched, result.pools_with_errors) == (202, 0)
    assert result.steady_peak_traced_bytes > 0
    assert result.ado_calls == sum(result.ado_calls_by_route.values())
    if fresh:
        # No placeholder yet: the first pass registers one in each pool and reads the pool again.
        assert result.ado_calls_by_route[f"POST {POOL_ROUTE}/agents"] == pools
        assert result.ado_calls_by_route[f"GET {POOL_ROUTE}/jobrequests"] == 2 * pools
        # The placeholders' key is made once, inside the pass, and its cost shown apart.
        assert 0 < result.key_cpu_s < result.own_cpu_s
    else:
        # Each pool's placeholder is kept: one read, and the manage scope confirmed before launching.
        assert f"POST {POOL_ROUTE}/agents" not in result.ado_calls_by_route
        assert result.ado_calls_by_route[f"GET {POOL_ROUTE}/jobrequests"] == pools
        assert result.ado_calls_by_route[f"PATCH {POOL_ROUTE}/agents/{{agent_id}}"] == pools
        assert result.key_cpu_s == 0
    # adoscale's own CPU is taken apart from the emulator's and the simulated Fargate's (issue 25).
    assert 0 < result.emulator_cpu_s < result.cpu_s and result.compute_cpu_s >= 0
    assert 0 < result.own_cpu_s < result.cpu_s


def test_queue_read_decodes_every_request_both_ways_and_one_pass_launches(tmp_path: Path) -> None:
    queued, agents = 5, 4
    result = _run(QueueReadResult, tmp_path, "--queued", str(queued), "--agents", str(agents))
    assert result.listed == queued
    assert result.decode_keeping_matched_agents.requests == result.decode_dropping_matched_agents.requests == queued
    # Dropping each request's matchedAgents as it is decoded keeps less in memory than decoding them all.
    assert result.decode_dropping_matched_agents.peak_bytes < result.decode_keeping_matched_agents.peak_bytes
    # Every queued request names every registered agent: the body grows with the agents.
    assert result.body_bytes // queued > agents * 200
    one = result.one_pass
    assert (one.queued, one.launched, one.errors, one.deadline_s) == (queued, queued, [], 20.0)


def test_sim_speed_skips_quiet_passes_and_prints_json_on_request() -> None:
    done = _command("benchmarks.sim_speed", "--workload", "burst", "--days", "1", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    result = SimSpeedResult.model_validate_json(done.stdout)
    jobs, _ = named("burst", 1, 1)
    assert (result.policy, result.workload, result.days, result.seed) == ("adoscale", "burst", 1, 1)
    assert result.event_driven and result.jobs == len(jobs)
    assert result.sim_seconds > 0 and result.wall_s > 0
    assert 0 < result.quiet_passes_skipped < result.scheduled_passes


def test_family_table_measures_each_trace_as_the_families_are_judged(tmp_path: Path) -> None:
    """docs/performance.md's family tables come from this command: each row is the trace's own run (the same
    figures as `run(generate(...))` in this process, whichever worker ran it), and a miss is named with the
    floor it is over."""
    result = _run(FamilyTableResult, tmp_path, "--trace", "night-2", "--trace", "burst-3", "--workers", "2")
    assert [(t.trace, t.family) for t in result.traces] == [("night-2", "night"), ("burst-3", "burst")]
    night, burst = result.traces
    direct = run(generate("night", 2), POLICIES["adoscale-predictive"])
    assert (night.jobs, night.p50_s, night.idle_minutes) == (
        direct.jobs,
        direct.percentile(0.5),
        direct.idle_agent_minutes,
    )
    # burst-3's jobs of 1.4 minutes: the mean start-up alone is over half the busy minutes.
    assert burst.mean_floor_minutes > burst.busy_minutes / 2 > burst.floor_minutes
    assert [m for m in burst.misses if m.startswith("idle")] == (
        [
            f"idle {burst.idle_minutes:.1f} of {burst.busy_minutes / 2:.1f} allowed (start-up "
            f"{burst.startup_minutes:.1f}; out of reach on average)"
        ]
        if burst.idle_minutes > burst.busy_minutes / 2
        else []
    )
    assert "| night | 1 (" in result.render() and "| burst | 1 (" in result.render()


def test_family_table_runs_the_warm_pool_at_another_idle_share(tmp_path: Path) -> None:
    """What `idle_share` trades (docs/scaling.md): the same trace at a share of 2 keeps more agents warm for
    its 2.7-minute jobs than at the predictive policy's 0.5, and the result file says which share ran. A
    share the configuration refuses, or a policy without a warm pool, is refused before measuring."""
    half = _run(FamilyTableResult, tmp_path, "--trace", "fanout-10", "--workers", "1")
    more = _run(FamilyTableResult, tmp_path, "--trace", "fanout-10", "--workers", "1", "--idle-share", "2")
    assert (half.idle_share, more.idle_share) == (None, 2.0)
    assert more.traces[0].idle_minutes > half.traces[0].idle_minutes
    assert more.traces[0].p50_s < half.traces[0].p50_s
    assert "adoscale-predictive at idle_share 2:" in more.render()
    refused = _command("benchmarks.family_table", "--trace", "night-2", "--idle-share", "11")
    assert refused.returncode == 2 and "--idle-share: idle_share 11: Input should be less than" in refused.stderr
    none = _command("benchmarks.family_table", "--trace", "night-2", "--policy", "adoscale", "--idle-share", "1")
    assert none.returncode == 2 and "--idle-share: adoscale has no predictive warm pool" in none.stderr


def test_family_table_runs_today_s_burst_bigger_or_smaller_than_usual(tmp_path: Path) -> None:
    """A fan-out that grew or shrank (`families.rescaled`): the measured day's burst of `fanout-1` at 1.5 and
    0.5 times the size the earlier days saw, over the same span, the earlier days unchanged; the same draw
    for the same trace and scale. The result file says which scale ran; a scale of 0 is refused."""
    trace = generate("fanout", 1)
    first, last = trace.bursts[-1]
    in_burst = sum(first <= j.queued_at_s <= last for j in trace.jobs)
    bigger, smaller = rescaled(trace, 1.5), rescaled(trace, 0.5)
    assert len(bigger.jobs) == len(trace.jobs) + round(in_burst * 0.5)
    assert all(first <= j.queued_at_s <= last for j in bigger.jobs if j not in trace.jobs)
    assert 0 < len(trace.jobs) - len(smaller.jobs) < in_burst
    assert bigger.history_s == trace.history_s and rescaled(trace, 1.5) == bigger
    assert rescaled(generate("trickle", 1), 1.5) == generate("trickle", 1)  # no burst: as it is
    run = _run(FamilyTableResult, tmp_path, "--trace", "fanout-1", "--workers", "1", "--burst-scale", "1.5")
    assert run.burst_scale == 1.5 and run.traces[0].jobs == len(bigger.jobs)
    assert "today's bursts x1.5" in run.render()
    refused = _command("benchmarks.family_table", "--trace", "fanout-1", "--burst-scale", "0")
    assert refused.returncode == 2 and "--burst-scale must be over 0" in refused.stderr


def test_family_table_refuses_a_trace_of_no_family() -> None:
    done = _command("benchmarks.family_table", "--trace", "weekly-3")
    assert done.returncode == 2 and "'weekly-3' is not FAMILY-SEED" in done.stderr


def _table(path: Path, rows: list[TraceRow]) -> str:
    table = FamilyTableResult.model_validate({"run": _run_info(), "policy": "adoscale-predictive", "traces": []})
    path.write_text(table.model_copy(update={"traces": rows}).model_dump_json())
    return str(path)


def _row(trace: str, p50_s: float, idle: float, *, applies: bool = True, mean_floor: float = 10.0) -> TraceRow:
    return TraceRow(
        trace=trace,
        family=trace.rpartition("-")[0],
        description="d",
        jobs=40,
        median_applies=applies,
        p50_s=p50_s,
        p95_s=60.0,
        idle_minutes=idle,
        busy_minutes=100.0,
        startup_minutes=mean_floor,
        floor_minutes=mean_floor * 0.7,
        mean_floor_minutes=mean_floor,
        stranded=0,
        busy_killed=0,
        leaked=0,
    )


def test_family_compare_lists_what_a_change_moved_and_counts_the_misses_a_policy_could_avoid(tmp_path: Path) -> None:
    """docs/performance.md's before/after tables: a median met, an idle goal broken, a trace out of reach on
    average (not counted as a miss either way) and one that did not move (not listed)."""
    before = [
        _row("fanout-10", 17.8, 46.0),
        _row("fanout-11", 0.0, 40.0),
        _row("burst-3", 55.0, 70.0, applies=False, mean_floor=60.0),
        _row("trickle-1", 60.0, 20.0, applies=False),
    ]
    after = [
        _row("fanout-10", 9.1, 46.1),
        _row("fanout-11", 0.0, 51.0),
        _row("burst-3", 55.0, 80.0, applies=False, mean_floor=60.0),
        _row("trickle-1", 60.5, 20.2, applies=False),
    ]
    result = _run(
        FamilyCompareResult, tmp_path, _table(tmp_path / "main.json", before), _table(tmp_path / "v.json", after)
    )
    assert [m.trace for m in result.moved] == ["fanout-10", "fanout-11", "burst-3"]
    assert [m.misses for m in result.moved] == [
        (["median 17.8 s"], []),
        ([], ["idle 51.0 of 50.0 allowed (start-up 10.0)"]),
        ([], []),  # over the goal both times, the mean start-up alone over it too
    ]
    assert result.misses == (1, 1) and result.traces == 4
    assert result.idle_minutes == pytest.approx((176.0, 197.3))
    assert result.render().endswith("4 traces: 1 -> 1 with a counted miss; idle 176.0 -> 197.3 agent-min (+12.1 %)")


def test_family_compare_refuses_runs_of_different_traces(tmp_path: Path) -> None:
    one = _table(tmp_path / "a.json", [_row("fanout-10", 17.8, 46.0)])
    other = _table(tmp_path / "b.json", [_row("fanout-11", 0.0, 40.0)])
    done = _command("benchmarks.family_compare", one, other)
    assert done.returncode == 2 and "not of the same traces: fanout-10, fanout-11 in one only" in done.stderr
    (tmp_path / "c.json").write_text("{}")
    done = _command("benchmarks.family_compare", one, str(tmp_path / "c.json"))
    assert done.returncode == 2 and "c.json: not a family_table result file" in done.stderr


def test_cold_import_times_each_module_in_fresh_interpreters(tmp_path: Path) -> None:
    result = _run(ColdImportResult, tmp_path, "--runs", "2", "--module", "adoscale.handlers.waiter")
    [waiter] = result.modules
    assert waiter.module == "adoscale.handlers.waiter" and len(waiter.runs_s) == 2
    assert all(run > 0 for run in waiter.runs_s)


def test_a_result_file_in_a_missing_folder_is_refused_before_measuring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        sim_speed_main(["--days", "1", "--out", str(tmp_path / "nowhere" / "result.json")])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"no such directory: {tmp_path / 'nowhere'}" in err and "Traceback" not in err


def test_every_result_file_says_which_benchmark_wrote_it() -> None:
    """`benchmark` is a literal per model: a file from one benchmark does not read as another's result."""
    models: list[type[BenchResult]] = [
        ColdImportResult,
        ControllerScaleResult,
        FamilyCompareResult,
        FamilyTableResult,
        LambdaPassResult,
        QueueReadResult,
        ReconcilePassResult,
        SimSpeedResult,
    ]
    names = [m.model_fields["benchmark"].default for m in models]
    assert len(set(names)) == len(models)
    assert all((ROOT / "benchmarks" / f"{name}.py").is_file() for name in names)
    cold = {"benchmark": "cold_import", "run": _run_info(), "modules": [{"module": "m", "runs_s": [0.1]}]}
    assert ColdImportResult.model_validate_json(json.dumps(cold)).render().startswith("m ")
    with pytest.raises(ValueError, match="benchmark"):
        SimSpeedResult.model_validate_json(json.dumps({**cold, "benchmark": "cold_import"}))


def _run_info() -> dict[str, object]:
    return {"command": ["python"], "measured_at": "2026-12-05T00:00:00Z", "python": "3.11", "machine": "x", "cpus": 2}
