"""The emulator's HTTP answers follow the real service's wire format (over a real socket)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from adoscale_lab.emulator import AdoModel, FaultRule, Faults
from tests.conftest import PAT

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ado"
ENVELOPE_KEYS = {"$id", "innerException", "message", "typeName", "typeKey", "errorCode", "eventId"}


def _auth() -> dict[str, str]:
    token = base64.b64encode(f":{PAT}".encode()).decode()
    return {"Authorization": f"Basic {token}", "X-TFS-FedAuthRedirect": "Suppress"}


def _get(url: str, **params: str) -> httpx.Response:
    return httpx.get(url, params=params, headers=_auth())


def _recorded(name: str) -> dict[str, object]:
    data = json.loads((FIXTURES / name).read_text())
    assert isinstance(data, dict)
    return data


def test_job_request_key_sets_match_recordings(model: AdoModel, org_url: str) -> None:
    pool = model.create_pool("linux")
    model.register_agent(pool, "placeholder", online=False)  # jobs wait for an agent, not fail
    queued = model.queue_job(pool, ["Agent.Version -gtVersion 2.182.1"])
    body = _get(f"{org_url}/_apis/distributedtask/pools/{pool}/jobrequests").json()
    assert set(body) == {"count", "value"}
    item = body["value"][0]
    recorded = _recorded("jobrequest-queued-no-demands.json")
    assert set(recorded) <= set(item)  # everything the service sends for a queued job...
    for absent in ("assignTime", "receiveTime", "finishTime", "result", "reservedAgent", "lockedUntil"):
        assert absent not in item  # ...and no null placeholders for what it omits
    model.register_agent(pool, "a1")
    running = _get(f"{org_url}/_apis/distributedtask/pools/{pool}/jobrequests").json()["value"][0]
    assert set(_recorded("jobrequest-running.json")) - {"matchedAgents"} <= set(running)
    assert "result" not in running
    model.finish_job(queued)
    finished = _get(f"{org_url}/_apis/distributedtask/pools/{pool}/jobrequests").json()["value"][0]
    assert {"result", "finishTime", "reservedAgent"} <= set(finished)
    assert finished["result"] == "succeeded"
    assert finished["queueTime"].endswith("Z")


def test_completed_request_count_zero_drops_finished(model: AdoModel, org_url: str) -> None:
    pool = model.create_pool("linux")
    model.add_finished_jobs(pool, 5)
    model.register_agent(pool, "placeholder", online=False)  # jobs wait for an agent, not fail
    model.queue_job(pool)
    url = f"{org_url}/_apis/distributedtask/pools/{pool}/jobrequests"
    assert _get(url).json()["count"] == 6
    assert _get(url, completedRequestCount="0").json()["count"] == 1


def test_top_drops_matched_agents_caps_at_200_and_pages(model: AdoModel, org_url: str) -> None:
    pool = model.create_pool("linux")
    model.register_agent(pool, "template", online=False)
    for _ in range(250):
        model.queue_job(pool)
    url = f"{org_url}/_apis/distributedtask/pools/{pool}/jobrequests"
    full = _get(url).json()
    assert full["count"] == 250 and "matchedAgents" in full["value"][0]
    top = _get(url, **{"$top": "250"})
    assert top.json()["count"] == 200
    assert all("matchedAgents" not in item for item in top.json()["value"])
    token = top.headers["x-ms-continuationtoken"]
    rest = _get(url, **{"$top": "250", "continuationToken": token})
    assert rest.json()["count"] == 50 and "x-ms-continuationtoken" not in rest.headers


def test_agents_list_honours_include_flags(model: AdoModel, org_url: str) -> None:
    pool = model.create_pool("linux")
    model.register_agent(pool, "busy", {"docker": ""})
    model.register_agent(pool, "idle", {"docker": ""})
    model.queue_job(pool)
    url = f"{org_url}/_apis/distributedtask/pools/{pool}/agents"
    plain = _get(url).json()["value"]
    assert all("systemCapabilities" not in a and "assignedRequest" not in a for a in plain)
    full = _get(url, includeCapabilities="true", includeAssignedRequest="true").json()["value"]
    by_name = {a["name"]: a for a in full}
    assert "assignedRequest" in by_name["busy"] and "assignedRequest" not in by_name["idle"]
    assert by_name["busy"]["systemCapabilities"]["docker"] == ""
    assert {a["status"] for a in full} == {"online"}
    only = _get(url, agentName="IDLE").json()
    assert only["count"] == 1


def test_patch_delete_and_busy_delete(model: AdoModel, org_url: str) -> None:
    pool = model.create_pool("linux")
    idle = model.register_agent(pool, "idle", online=False)
    busy = model.register_agent(pool, "busy")
    model.queue_job(pool)
    base = f"{org_url}/_apis/distributedtask/pools/{pool}/agents"
    patched = httpx.patch(f"{base}/{idle}", json={"id": idle, "enabled": False}, headers=_auth())
    assert patched.status_code == 200 and patched.json()["enabled"] is False and patched.json()["name"] == "idle"
    gone = httpx.delete(f"{base}/{idle}", headers=_auth())
    assert gone.status_code == 204 and gone.content == b""
    missing = httpx.delete(f"{base}/{idle}", headers=_auth())
    assert missing.status_code == 404 and set(missing.json()) == ENVELOPE_KEYS
    refused = httpx.delete(f"{base}/{busy}", headers=_auth())
    assert refused.status_code == 400 and "is running a job" in refused.json()["message"]


def test_pool_by_name_is_a_collection(model: AdoModel, org_url: str) -> None:
    model.create_pool("linux")
    found = _get(f"{org_url}/_apis/distributedtask/pools", poolName="linux").json()
    assert found["count"] == 1 and found["value"][0]["poolType"] == "automation"
    assert "targetSize" in found["value"][0] and found["value"][0]["targetSize"] is None
    none = _get(f"{org_url}/_apis/distributedtask/pools", poolName="nope")
    assert none.status_code == 200 and none.json() == {"count": 0, "value": []}
    missing = _get(f"{org_url}/_apis/distributedtask/pools/999")
    assert missing.status_code == 404
    assert missing.json()["typeKey"] == "TaskAgentPoolNotFoundException"


@pytest.mark.parametrize(("suppress", "status"), [(False, 203), (True, 401)])
def test_bad_pat_sign_in_page_or_401(model: AdoModel, org_url: str, suppress: bool, status: int) -> None:
    headers = {"Authorization": "Basic " + base64.b64encode(b":wrong").decode()}
    if suppress:
        headers["X-TFS-FedAuthRedirect"] = "Suppress"
    answer = httpx.get(f"{org_url}/_apis/distributedtask/pools", headers=headers)
    assert answer.status_code == status
    if status == 203:
        assert answer.headers["content-type"].startswith("text/html") and "Sign In" in answer.text
    else:
        assert answer.json()["typeKey"] == "UnauthorizedRequestException"
        assert "TF400813" in answer.json()["message"]


def test_preview_only_routes_reject_released_versions(model: AdoModel, org_url: str) -> None:
    pool = model.create_pool("linux")
    url = f"{org_url}/_apis/distributedtask/pools/{pool}/jobrequests"
    refused = _get(url, **{"api-version": "7.1"})
    assert refused.status_code == 400 and refused.json()["typeKey"] == "VssInvalidPreviewVersionException"
    assert _get(url, **{"api-version": "7.1-preview.1"}).status_code == 200
    assert _get(url).status_code == 200  # no api-version on GET is accepted, as KEDA relies on


def test_faults_429_and_rate_limit_headers(model: AdoModel, faults: Faults, org_url: str) -> None:
    pool = model.create_pool("linux")
    faults.rules = [FaultRule(route="agents", throttle_429=1.0, retry_after_s=2)]
    throttled = _get(f"{org_url}/_apis/distributedtask/pools/{pool}/agents")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    assert "TF400733" in throttled.json()["message"]
    faults.rules = [FaultRule(route="agents", rate_limit_delay=1.0)]
    delayed = _get(f"{org_url}/_apis/distributedtask/pools/{pool}/agents")
    assert delayed.status_code == 200
    assert delayed.headers["X-RateLimit-Remaining"] == "0" and "X-RateLimit-Delay" in delayed.headers
    faults.rules = [FaultRule(route="agents", error_5xx=1.0)]
    assert _get(f"{org_url}/_apis/distributedtask/pools/{pool}/agents").status_code == 503
    assert model.stats.faults["429"] == 1 and model.stats.faults["5xx"] == 1


def test_environments_and_vm_resources(model: AdoModel, org_url: str) -> None:
    model.create_project("proj")
    env = model.create_environment("proj", "prod-vms")
    resource, agent = model.register_vm(env, "i-0abc", ["web", "blue"])
    for area in ("pipelines", "distributedtask"):
        listed = _get(f"{org_url}/proj/_apis/{area}/environments", name="prod-vms").json()
        assert listed["count"] == 1 and listed["value"][0]["id"] == env
    vms_url = f"{org_url}/proj/_apis/pipelines/environments/{env}/providers/virtualmachines"
    vms = _get(vms_url, name="i-0abc").json()
    assert vms["value"][0]["id"] == resource and vms["value"][0]["agent"]["id"] == agent
    assert vms["value"][0]["tags"] == ["web", "blue"]
    pool = _get(f"{vms_url}/pool").json()
    assert pool["poolType"] == "deployment"
    assert httpx.delete(f"{vms_url}/{resource}", headers=_auth()).status_code == 204
    assert httpx.delete(f"{vms_url}/{resource}", headers=_auth()).status_code == 404
    added = httpx.post(
        vms_url, json={"virtualMachineResource": {"name": "i-0def", "tags": ["db"]}}, headers=_auth()
    ).json()
    assert added["name"] == "i-0def" and added["tags"] == ["db"]
