"""Scenarios without Python: a YAML file and the admin API drive the CLI-started emulator over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from adoscale.ado import AdoClient, JobState
from adoscale_lab.emulator import AdoModel, Faults, make_app
from tests.emulator.cli import SDK_PAT, CliEmulator, start_emulator, stop_emulator

SCENARIO = """
parallel_limit: 3
projects:
  - name: web
    environments:
      - name: prod
        vms: [{name: vm-1, tags: [blue]}]
pools:
  - name: linux
    agents:
      - {name: agent-1, capabilities: {docker: "", java: "17.0"}, status: offline}
    jobs:
      - {demands: [docker, "java -gtVersion 11.0"]}
"""


def _admin(emulator: CliEmulator, method: str, path: str, body: object = None) -> Any:
    response = httpx.request(method, f"{emulator.url}/_emulator{path}", json=body, timeout=5)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


@pytest.fixture
def scenario_emulator(tmp_path: Path) -> Any:
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO)
    emulator = start_emulator("--scenario", str(path))
    yield emulator
    if emulator.process.poll() is None:
        stop_emulator(emulator)


def test_scenario_job_from_queued_to_finished_over_the_admin_api(scenario_emulator: CliEmulator) -> None:
    emulator = scenario_emulator
    state = _admin(emulator, "GET", "/state")
    assert state["parallelLimit"] == 3
    pool = next(p for p in state["pools"] if p["name"] == "linux")
    [job] = pool["jobs"]
    [agent] = pool["agents"]
    assert (job["state"], agent["status"]) == ("queued", "offline")

    with AdoClient(emulator.org_url, SDK_PAT) as ado:
        pool_id = ado.get_pool("linux").id
        [queued] = ado.list_job_requests(pool_id)
        assert queued.state is JobState.QUEUED
        assert ado.parallel_job_limit() is not None

        _admin(emulator, "PATCH", f"/pools/linux/agents/{agent['id']}", {"status": "online"})
        assert _admin(emulator, "GET", f"/jobs/{job['requestId']}")["state"] == "running"
        [running] = ado.list_job_requests(pool_id)
        assert running.state is JobState.RUNNING and running.reserved_agent is not None

        finished = _admin(emulator, "POST", f"/jobs/{job['requestId']}/finish", {"result": "failed"})
        assert (finished["state"], finished["result"]) == ("finished", "failed")
        assert ado.list_job_requests(pool_id) == []
        assert ado.get_environment("web", "prod").name == "prod"

    log = _admin(emulator, "GET", "/requests")["value"]
    seen = [(r["method"], r["path"].split("/_apis/", 1)[1], r["status"]) for r in log]
    assert seen == [
        ("GET", "distributedtask/pools", 200),
        ("GET", f"distributedtask/pools/{pool_id}/jobrequests", 200),
        ("GET", "distributedtask/resourceusage", 200),
        ("GET", f"distributedtask/pools/{pool_id}/jobrequests", 200),
        ("GET", f"distributedtask/pools/{pool_id}/jobrequests", 200),
        ("GET", "pipelines/environments", 200),
    ]
    assert all("authorization" not in str(r).lower() for r in log)  # the log never holds credentials
    assert stop_emulator(emulator) < 5


def test_admin_api_queues_jobs_with_durations_and_injects_faults(model: AdoModel) -> None:
    app = make_app(model, Faults())
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://emulator") as http:
        pool = http.post("/_emulator/pools", json={"name": "linux"}).json()["id"]
        http.post(f"/_emulator/pools/{pool}/agents", json={"name": "a1", "capabilities": {"docker": ""}})
        job = http.post("/_emulator/pools/linux/jobs", json={"demands": ["docker"], "durationS": 0}).json()
        assert job["state"] == "running"
        assert http.post("/_emulator/tick").json() == {"finished": [job["requestId"]]}
        faults = http.put("/_emulator/faults", json={"seed": 3, "rules": [{"route": "/agents", "error_5xx": 1}]})
        assert faults.json()["rules"][0]["error_5xx"] == 1
        answer = http.get(f"/acme/_apis/distributedtask/pools/{pool}/agents", auth=("", model.pat))
        assert answer.status_code == 503
        assert http.get("/_emulator/requests").json()["value"][-1]["fault"] == "5xx"
        bad = http.put("/_emulator/faults", json={"rules": [{"route": "x", "error_5xx": 7}]})
        assert bad.status_code == 400 and "error_5xx" in bad.json()["error"]
        assert http.post("/_emulator/pools/nope/jobs", json={}).status_code == 404
        windows = {"name": "windows", "agents": [{"name": "placeholder", "status": "offline"}], "jobs": [{"count": 2}]}
        state = http.post("/_emulator/scenario", json={"pools": [windows]}).json()
        assert [len(p["jobs"]) for p in state["pools"] if p["name"] == "windows"] == [2]
        duplicate = http.post("/_emulator/scenario", json={"pools": [{"name": "windows"}]})
        assert duplicate.status_code == 400 and "already exists" in duplicate.json()["error"]
        assert http.get("/_emulator/unknown").status_code == 404


def test_bad_scenario_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("pools:\n  - name: linux\n    agents: [{name: a1, status: sleeping}]\n")
    with pytest.raises(AssertionError, match="emulator did not start") as caught:
        start_emulator("--scenario", str(path))
    message = str(caught.value)
    assert "pools.0.agents.0.status" in message
    assert "Traceback" not in message


def test_sigterm_stops_the_cli_emulator_while_an_answer_hangs(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "hang.yaml"
    path.write_text("pools: [{name: linux}]\nfaults: {rules: [{route: /pools, hang: true}]}\n")
    emulator = start_emulator("--scenario", str(path))
    outcome: list[str] = []

    def call() -> None:
        try:
            httpx.get(f"{emulator.org_url}/_apis/distributedtask/pools", auth=("", SDK_PAT), timeout=30)
            outcome.append("answered")
        except httpx.HTTPError as exc:
            outcome.append(type(exc).__name__)

    thread = threading.Thread(target=call)
    thread.start()
    deadline = 50
    while not _admin(emulator, "GET", "/requests")["count"] and deadline:
        deadline -= 1
        threading.Event().wait(0.1)  # polling the log for the request to arrive, not timing the test
    assert stop_emulator(emulator) < 5
    thread.join(timeout=5)
    assert outcome and outcome[0] != "answered"
