"""Bounded passes against a hostile Azure DevOps (the emulator over HTTP on 127.0.0.1, with its faults).

A body that drips a byte every 2 s, a request that never answers and a continuation token that repeats
forever each end the pass within its deadline with an error for that pool; three pools against a hanging
ADO take about three deadlines; and `adoscale serve` exits within 5 s of SIGTERM in each of those cases.

Elapsed times are measured with `time.monotonic` and asserted as upper bounds: a test fails when a pass
is unbounded, and nothing waits for a timing to pass.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from adoscale.ado import AdoClient
from adoscale.ado.client import OPTIONAL_CALL_RETRY
from adoscale.compute.base import LaunchResult, TaskInfo
from adoscale.config import parse_config
from adoscale.control import PassLimits, Reconciler
from adoscale_lab.emulator import AdoModel, FaultRule, Faults, RunningServer
from tests.aws import create_lease_table, served_moto
from tests.conftest import PAT, REPO

LIMITS = PassLimits(deadline_s=3, lease_ttl_s=10)
MARGIN_S = 1.5  # connection set-up, the report, a loaded 2-core machine

FAULTS = {
    "drip": FaultRule(route="agents", drip_interval_s=2.0),
    "hang": FaultRule(route="jobrequests", hang=True),
    "repeat_token": FaultRule(route="agents", repeat_continuation_token=True),
}
# What each fault's pass reports.
EXPECTED_ERROR = {
    "drip": "no complete answer within",
    "hang": "no complete answer within",
    "repeat_token": "repeated continuation token",
}

ECS = {
    "cluster": "agents",
    "task_definition": "agent",
    "container_name": "agent",
    "subnets": ["subnet-1"],
    "security_groups": ["sg-1"],
}


class NoCompute:
    """ECS that the pass must never reach in these tests (every fault is in an Azure DevOps read before it)."""

    def __init__(self) -> None:
        self.calls = 0

    def launch(self, pool: str, count: int, token: str) -> LaunchResult:
        self.calls += 1
        return LaunchResult(())

    def list_tasks(self, pool: str) -> list[TaskInfo]:
        self.calls += 1
        return []

    def stop(self, pool: str, task_arn: str, reason: str) -> None:
        self.calls += 1


def _config(org_url: str, pools: list[str], **extra: Any) -> Any:
    body = {"organization_url": org_url, "pools": [{"name": name, "ecs": ECS} for name in pools], **extra}
    return parse_config(json.dumps(body))


def _seed(model: AdoModel, *pools: str) -> None:
    for name in pools:
        pool = model.create_pool(name)
        model.register_agent(pool, "adoscale-placeholder", online=False)
        model.queue_job(pool)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_hostile_answer_ends_the_pass_within_its_deadline_with_an_error_for_the_pool(
    fault: str, model: AdoModel, faults: Faults, org_url: str
) -> None:
    _seed(model, "linux")
    faults.rules = [FAULTS[fault]]
    config = _config(org_url, ["linux"])
    compute = NoCompute()
    with AdoClient(org_url, PAT) as ado:
        reconciler = Reconciler(config, ado, compute, clock=_now, limits=LIMITS)
        started = time.monotonic()
        report = reconciler.run_pool(config.pools[0])
        elapsed = time.monotonic() - started
    assert elapsed < LIMITS.deadline_s + MARGIN_S, f"{fault}: the pass took {elapsed:.1f} s"
    assert len(report.errors) == 1 and EXPECTED_ERROR[fault] in report.errors[0], report.errors
    assert report.launched == 0 and compute.calls == 0
    assert model.stats.faults[fault] >= 1  # the fault was really served
    if fault == "repeat_token":
        # Stopped at the first repeat, not after thousands of requests.
        assert model.stats.faults[fault] <= 2


def test_three_pools_against_a_hanging_ado_take_about_three_deadlines(
    model: AdoModel, faults: Faults, org_url: str
) -> None:
    pools = ["linux", "windows", "gpu"]
    _seed(model, *pools)
    faults.rules = [FaultRule(route="", hang=True)]  # every request, the parallel-job limit included
    config = _config(org_url, pools)
    with AdoClient(org_url, PAT) as ado:
        reconciler = Reconciler(config, ado, NoCompute(), clock=_now, limits=LIMITS)
        started = time.monotonic()
        report = reconciler.run()
        elapsed = time.monotonic() - started
    # The optional parallel-job limit read has its own short deadline, then each pool its pass deadline.
    bound = OPTIONAL_CALL_RETRY.deadline_s + len(pools) * LIMITS.deadline_s + MARGIN_S
    print(f"3 pools, hanging ADO: {elapsed:.1f} s (bound {bound:.1f} s)")
    assert elapsed < bound
    assert [p.pool for p in report.pools] == pools
    assert all(len(p.errors) == 1 and "no complete answer within" in p.errors[0] for p in report.pools), [
        p.errors for p in report.pools
    ]


def _now() -> datetime:
    return datetime.now(UTC)


# -- serve and SIGTERM ---------------------------------------------------------------------------------


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    """moto's server on 127.0.0.1, in this process: whatever AWS `serve` calls stays on this machine."""
    with served_moto() as endpoint:
        yield endpoint


def _requests_with_fault(server: RunningServer, fault: str) -> int:
    log = httpx.get(f"{server.url}/_emulator/requests", timeout=5).json()["value"]
    return sum(1 for r in log if r["fault"] == fault)


@dataclass(frozen=True)
class Stopped:
    returncode: int
    output: str
    elapsed_s: float  # from SIGTERM to exit
    lease_left: bool  # the pool's lease item still in the table after serve exited


def serve_until_sigterm(
    fault: str, faults: Faults, ado_server: RunningServer, org_url: str, moto_endpoint: str, workdir: Path, table: str
) -> Stopped:
    """`adoscale serve` as a user runs it (the console script, in its own process), against ADO serving
    `fault`, with the lease in `table` (moto); SIGTERM as soon as its pass has met the fault. The emulator's
    model must hold the pool `linux` with a queued job."""
    faults.rules = [FAULTS[fault]]
    dynamodb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_endpoint)
    create_lease_table(dynamodb, table)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "adoscale.json"
    path.write_text(_config(org_url, ["linux"], lease_table=table).model_dump_json())
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "AZP_TOKEN": PAT,
        "AWS_ENDPOINT_URL": moto_endpoint,  # never the internet
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    cli = Path(sys.executable).with_name("adoscale")  # the installed console script, as a user runs it
    command = [str(cli), "serve", "--config", str(path), "--interval", "60"]
    seen_before = _requests_with_fault(ado_server, fault)
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # Until the first pass has met the fault (a bound on a wait for the process to start, not a sleep).
        give_up = time.monotonic() + 30
        while _requests_with_fault(ado_server, fault) == seen_before:
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < give_up, "serve never reached the fault"
            time.sleep(0.05)
        if fault != "repeat_token":
            # The pass is inside the dripping or hanging request: its lease is held.
            assert "Item" in dynamodb.get_item(TableName=table, Key={"pool": {"S": "linux"}})
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        try:
            output, _ = process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{fault}: serve still running 5 s after SIGTERM")
        elapsed = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    left = "Item" in dynamodb.get_item(TableName=table, Key={"pool": {"S": "linux"}})
    return Stopped(process.returncode, output, elapsed, left)


def assert_stopped_cleanly(fault: str, stopped: Stopped) -> None:
    assert stopped.returncode == 0, stopped.output
    assert "Traceback" not in stopped.output, stopped.output
    assert PAT not in stopped.output
    # Stopped mid-pass or between passes, the lease was given back on the way out.
    assert not stopped.lease_left, f"{fault}: the lease is still held after serve exited\n{stopped.output}"


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_serve_exits_within_5_s_of_sigterm_whatever_ado_is_doing(
    fault: str,
    model: AdoModel,
    faults: Faults,
    ado_server: RunningServer,
    org_url: str,
    moto_endpoint: str,
    tmp_path: Path,
) -> None:
    _seed(model, "linux")
    stopped = serve_until_sigterm(fault, faults, ado_server, org_url, moto_endpoint, tmp_path, f"leases-{fault}")
    print(f"serve, {fault}: exited {stopped.elapsed_s:.2f} s after SIGTERM")
    assert_stopped_cleanly(fault, stopped)
