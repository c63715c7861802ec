"""`benchmarks.sim_fingerprint` (the check that a speed-up of the simulator changes no result) runs as documented,
and its digest tells results apart: the same with and without the event-driven shortcuts, different for
another trace or policy. Its timings are printed, never asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks.sim_fingerprint import SimFingerprintResult, digest

from adoscale_lab.sim import POLICIES
from adoscale_lab.sim.families import generate, run

ROOT = Path(__file__).resolve().parents[2]


def _fingerprint(tmp_path: Path, *args: str) -> SimFingerprintResult:
    out = tmp_path / "fingerprint.json"
    command = [sys.executable, "-m", "benchmarks.sim_fingerprint", *args, "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = SimFingerprintResult.model_validate_json(out.read_text())
    assert done.stdout == result.render() + "\n"
    return result


def test_the_fingerprint_is_the_same_with_every_pass_run_through_http(tmp_path: Path) -> None:
    args = ("--family", "night", "--seeds", "2-3")
    event = _fingerprint(tmp_path, *args)
    every = _fingerprint(tmp_path, *args, "--every-pass")
    assert [t.trace for t in event.traces] == ["night-2", "night-3"]
    assert event.event_driven and not every.event_driven
    assert [t.digest for t in event.traces] == [t.digest for t in every.traces]
    assert event.digest == every.digest
    # The shortcuts did work (they are what the digest leaves out), and the jobs were there to measure.
    assert sum(t.quiet_passes_skipped for t in event.traces) > 0 and all(t.jobs for t in event.traces)
    assert sum(t.quiet_passes_skipped + t.reads_reused for t in every.traces) == 0


def test_the_digest_changes_with_the_trace_and_the_policy() -> None:
    trace = generate("night", 2)
    predictive = run(trace, POLICIES["adoscale-predictive"])
    assert digest(predictive) == digest(run(trace, POLICIES["adoscale-predictive"]))
    assert digest(predictive) != digest(run(generate("night", 3), POLICIES["adoscale-predictive"]))
    assert digest(predictive) != digest(run(trace, POLICIES["seed"]))
