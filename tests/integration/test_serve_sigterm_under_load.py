"""`adoscale serve` stopped by SIGTERM 20 times in a row on a loaded machine (issue 19): two CPU-bound loops
run beside it, so the signal lands at moments an idle machine rarely shows (in the lease's own calls, in the
error handling after a fault, between passes). Every run must stop within 5 s, exit 0, log no traceback and
leave no lease behind.

The real `serve` command runs in this process's main thread (where Python runs signal handlers), so each run
costs one pass rather than an interpreter start-up; `test_bounded_passes` covers the console script in its own
process. ADO is the emulator over HTTP, the lease table is in moto's server, both on 127.0.0.1. The faults
cycle through that module's three hostile answers; `repeat_token` ends its pass at once, so there the signal
races the pass's error handling and the lease's release. Nothing sleeps to make timing pass: a driver thread
waits (bounded) until serve's pass has met its fault, then signals at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import boto3
import pytest
from typer.testing import CliRunner

from adoscale.cli import app
from adoscale.cli.commands import register
from adoscale_lab.emulator import AdoModel, Faults
from tests.aws import create_lease_table
from tests.conftest import PAT
from tests.integration.test_bounded_passes import (
    FAULTS,
    _config,
    _seed,
    moto_endpoint,  # noqa: F401 (a fixture)
)

RUNS = 20
STOP_BOUND_S = 5.0
# The load: each loop spins until the test kills it (and stops by itself after 5 minutes if it cannot be).
CPU_LOOP = "import time\nend = time.monotonic() + 300\nwhile time.monotonic() < end:\n    pass\n"


@pytest.fixture
def cpu_load() -> Iterator[list[subprocess.Popen[bytes]]]:
    loops = [subprocess.Popen([sys.executable, "-c", CPU_LOOP]) for _ in range(2)]
    try:
        yield loops
    finally:
        for loop in loops:
            loop.kill()
            loop.wait(timeout=10)


# serial: the bound is specified with two CPU-bound loops beside it on this 2-core machine; beside another
# test worker as well (four busy processes), one stop in 20 took 10 s in the hang case (see the note).
@pytest.mark.slow
@pytest.mark.serial
def test_serve_stops_cleanly_on_sigterm_20_times_in_a_row_beside_two_cpu_bound_loops(
    cpu_load: list[subprocess.Popen[bytes]],
    model: AdoModel,
    faults: Faults,
    org_url: str,
    moto_endpoint: str,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    register()
    _seed(model, "linux")
    monkeypatch.setenv("AZP_TOKEN", PAT)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)  # never the internet
    dynamodb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_endpoint)
    # A SIGTERM that reached this process when serve's handler was not installed would be a test bug: it
    # is recorded here instead of ending pytest.
    stray: list[int] = []

    def _stray(signum: int, _frame: FrameType | None) -> None:
        stray.append(signum)

    previous = signal.signal(signal.SIGTERM, _stray)
    order = sorted(FAULTS)
    started = time.monotonic()
    slowest = 0.0
    try:
        for run in range(RUNS):
            assert all(loop.poll() is None for loop in cpu_load), "the CPU load ended early"
            fault = order[run % len(order)]
            faults.rules = [FAULTS[fault]]
            table = f"leases-{run}"
            create_lease_table(dynamodb, table)
            path = tmp_path / f"adoscale-{run}.json"
            path.write_text(_config(org_url, ["linux"], lease_table=table).model_dump_json())
            seen_before = model.stats.faults[fault]
            signalled: list[float] = []

            def drive(fault: str = fault, seen_before: int = seen_before, signalled: list[float] = signalled) -> None:
                give_up = time.monotonic() + 30  # a bound on the wait for serve's pass, not a sleep
                while model.stats.faults[fault] == seen_before and time.monotonic() < give_up:
                    time.sleep(0.005)
                signalled.append(time.monotonic())
                os.kill(os.getpid(), signal.SIGTERM)

            driver = threading.Thread(target=drive, daemon=True)
            driver.start()
            caplog.clear()
            result = CliRunner().invoke(app, ["serve", "--config", str(path), "--interval", "60"])
            stopped = time.monotonic()
            driver.join(timeout=35)
            label = f"run {run + 1} ({fault})"
            assert model.stats.faults[fault] > seen_before, f"{label}: serve never met the fault"
            assert signalled and not stray, f"{label}: the signal did not reach serve"
            assert result.exit_code == 0, f"{label}: {result.output}"
            elapsed = stopped - signalled[0]
            assert elapsed < STOP_BOUND_S, f"{label}: stopped {elapsed:.2f} s after SIGTERM"
            assert "Traceback" not in result.output, result.output
            assert not [r for r in caplog.records if r.exc_info], f"{label}: a traceback was logged"
            assert PAT not in result.output + caplog.text
            assert "Item" not in dynamodb.get_item(TableName=table, Key={"pool": {"S": "linux"}}), (
                f"{label}: the lease is still held after serve stopped"
            )
            slowest = max(slowest, elapsed)
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(f"\n{RUNS} runs in {time.monotonic() - started:.1f} s; slowest stop {slowest:.2f} s after SIGTERM")
