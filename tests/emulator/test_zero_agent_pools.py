"""Issue 21's acceptance for pools at zero, against `adoscale emulator` started from the CLI, over HTTP.

The service's rule (reproduced by the emulator, docs/emulator.md): a job whose demands no registered agent of
its pool meets, online or offline, fails at once ("No agent found in pool ... which satisfies the specified
demands"); one that an offline agent meets waits. adoscale keeps every pool open at zero with an offline
placeholder registration carrying the pool's and the system capabilities (docs/agent.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from adoscale.ado import AdoClient
from adoscale.ado.placeholder import AGENT_VERSION
from adoscale.cli import app
from adoscale.cli.commands import register
from adoscale.compute import EcsCompute
from adoscale.control import Reconciler
from tests.aws import config_for, ecs_world
from tests.emulator.cli import SDK_PAT, CliEmulator, start_emulator, stop_emulator

pytestmark = pytest.mark.slow

NO_AGENT = "No agent found in pool linux which satisfies the specified demands: docker"


def _admin(emulator: CliEmulator, method: str, path: str, body: object = None) -> Any:
    response = httpx.request(method, f"{emulator.url}/_emulator{path}", json=body, timeout=5)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def _agents(emulator: CliEmulator) -> list[dict[str, Any]]:
    pool = httpx.get(
        f"{emulator.org_url}/_apis/distributedtask/pools", params={"poolName": "linux"}, auth=("", SDK_PAT)
    ).json()["value"][0]
    answer = httpx.get(
        f"{emulator.org_url}/_apis/distributedtask/pools/{pool['id']}/agents",
        params={"includeCapabilities": "true"},
        auth=("", SDK_PAT),
    )
    value: list[dict[str, Any]] = answer.json()["value"]
    return value


@pytest.fixture
def emulator() -> Iterator[CliEmulator]:
    started = start_emulator("--pool", "linux", "--no-placeholder")
    yield started
    if started.process.poll() is None:
        stop_emulator(started)


@pytest.fixture
def reconcile(emulator: CliEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    register()
    monkeypatch.setenv("AZP_TOKEN", SDK_PAT)
    with ecs_world() as (_ecs, resources):
        config = config_for(
            resources, emulator.org_url, [{"name": "linux", "max_agents": 5, "capabilities": ["docker"]}]
        )
        path = tmp_path / "adoscale.json"
        path.write_text(config.model_dump_json())

        def run() -> dict[str, Any]:
            result = CliRunner().invoke(app, ["reconcile", "--config", str(path), "--json"])
            assert result.exit_code == 0, result.output
            pools: list[dict[str, Any]] = json.loads(result.stdout)["pools"]
            return pools[0]

        yield run


def test_a_pool_at_zero_fails_jobs_until_a_pass_registers_the_placeholder(
    emulator: CliEmulator, reconcile: Any
) -> None:
    failed = _admin(emulator, "POST", "/pools/linux/jobs", {"demands": ["docker"]})
    assert (failed["state"], failed["result"], failed["failure"]) == ("finished", "failed", NO_AGENT)

    first = reconcile()
    assert (first["placeholder"], first["launched"], first["errors"]) == ("create", 0, [])
    assert not [w for w in first["warnings"] if "placeholder" in w]  # the plan saw the one just registered
    [placeholder] = _agents(emulator)
    assert (placeholder["name"], placeholder["status"]) == ("adoscale-placeholder", "offline")
    capabilities = {**placeholder["systemCapabilities"], **placeholder["userCapabilities"]}
    assert capabilities["docker"] == ""
    system = {k: capabilities[k] for k in ("Agent.OS", "Agent.OSArchitecture", "Agent.Version", "Agent.Name")}
    assert system == {
        "Agent.OS": "Linux",
        "Agent.OSArchitecture": "X64",
        "Agent.Version": AGENT_VERSION,
        "Agent.Name": "adoscale-placeholder",
    }

    job = _admin(emulator, "POST", "/pools/linux/jobs", {"demands": ["docker", "Agent.OS -equals Linux"]})
    assert (job["state"], job["failure"]) == ("queued", None)
    second = reconcile()
    assert (second["placeholder"], second["queued"], second["launched"], second["unservable"]) == ("keep", 1, 1, 0)
    assert len(second["launched_tasks"]) == 1
    assert reconcile()["launched"] == 0  # the task is starting: nothing more for the same job
    assert [a["name"] for a in _agents(emulator)] == ["adoscale-placeholder"]  # never drained nor deleted


def test_a_job_no_agent_of_the_pool_can_run_is_unservable_and_logged_once(
    emulator: CliEmulator, reconcile: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # An old Windows registration, offline, keeps a Windows job waiting at the service; adoscale's agents are Linux.
    _admin(
        emulator,
        "POST",
        "/pools/linux/agents",
        {"name": "win-1", "status": "offline", "capabilities": {"Agent.OS": "Windows_NT"}},
    )
    job = _admin(emulator, "POST", "/pools/linux/jobs", {"demands": ["Agent.OS -equals Windows_NT"]})
    assert job["state"] == "queued"
    with caplog.at_level(logging.WARNING, logger="adoscale.reconcile"):
        first = reconcile()
    assert (first["unservable"], first["queued"], first["launched"]) == (1, 0, 0)
    [line] = [r.getMessage() for r in caplog.records if "can never run here" in r.getMessage()]
    assert f"job {job['requestId']}" in line and "'Agent.OS -equals Windows_NT'" in line


def test_a_long_running_controller_logs_an_unservable_job_once(
    emulator: CliEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """`serve` and a warm Lambda keep one Reconciler: the job is counted in every pass, logged in the first."""
    _admin(emulator, "POST", "/pools/linux/agents", {"name": "old", "status": "offline", "capabilities": {"gpu": ""}})
    _admin(emulator, "POST", "/pools/linux/jobs", {"demands": ["gpu"]})
    with ecs_world() as (ecs, resources), AdoClient(emulator.org_url, SDK_PAT) as ado:
        config = config_for(resources, emulator.org_url, [{"name": "linux", "capabilities": ["docker"]}])
        compute = EcsCompute(ecs, {p.name: p.ecs for p in config.pools}, organization_url=emulator.org_url)
        reconciler = Reconciler(config, ado, compute, lambda: datetime.now(UTC))
        with caplog.at_level(logging.WARNING, logger="adoscale.reconcile"):
            reports = [reconciler.run().pools[0] for _ in range(3)]
    assert [r.unservable for r in reports] == [1, 1, 1]
    assert [r.placeholder for r in reports] == ["create", "keep", "keep"]
    [line] = [r.getMessage() for r in caplog.records if "can never run here" in r.getMessage()]
    assert "'gpu'" in line
