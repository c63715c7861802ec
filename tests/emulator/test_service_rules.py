"""The service's rules the emulator follows (issue 21): jobs at zero, system capabilities, what REST keeps."""

from __future__ import annotations

from typing import Any

import httpx

from adoscale_lab.emulator import AdoModel
from adoscale_lab.emulator.events import JobEvent
from tests.conftest import PAT


def test_a_job_no_registered_agent_meets_fails_at_once_with_the_services_message(model: AdoModel) -> None:
    events: list[JobEvent] = []
    model.events.subscribe(events.append)
    pool = model.create_pool("linux")
    model.register_agent(pool, "win", {"Agent.OS": "Windows_NT"}, online=True)  # meets nothing asked below
    request = model.queue_job(pool, ["docker", "Agent.OS -equals Linux"])
    job = model.job(request)
    assert (job.result, job.finish_time, job.reserved_agent) == ("failed", job.queue_time, None)
    assert job.failure == (
        "No agent found in pool linux which satisfies the specified demands: docker, Agent.OS -equals Linux"
    )
    assert [e.transition for e in events] == ["completed"] and model.unfinished_jobs(pool) == []
    assert model.agent(pool, 1).assigned_request is None


def test_an_offline_or_disabled_agent_that_meets_the_demands_keeps_the_job_waiting(model: AdoModel) -> None:
    pool = model.create_pool("linux")
    model.register_agent(pool, "off", {"docker": ""}, online=False)
    waiting = model.queue_job(pool, ["docker"])
    other = model.create_pool("other")
    disabled = model.register_agent(other, "dis", {"docker": ""}, enabled=False)
    held = model.queue_job(other, ["docker"])
    assert model.job(waiting).result is None and model.job(held).result is None
    assert model.job(held).reserved_agent is None
    model.set_agent_enabled(other, disabled, True)
    assert model.job(held).reserved_agent == disabled


def test_agents_report_a_real_agents_system_capabilities(model: AdoModel) -> None:
    pool = model.create_pool("linux")
    agent = model.agent(pool, model.register_agent(pool, "a1", {"docker": ""}))
    system = agent.system_capabilities
    assert {k: system[k] for k in ("Agent.Name", "Agent.OS", "Agent.OSArchitecture", "Agent.Version")} == {
        "Agent.Name": "a1",
        "Agent.OS": "Linux",
        "Agent.OSArchitecture": "X64",
        "Agent.Version": agent.version,
    }
    assert {"Agent.ComputerName", "Agent.HomeDirectory", "InteractiveSession", "docker"} <= set(system)
    # A pipeline's Agent.OS demand is met like any other.
    assert model.job(model.queue_job(pool, ["Agent.OS -equals linux"])).reserved_agent == agent.id


def _get(url: str, **params: str) -> Any:
    answer = httpx.get(url, params=params, auth=("", PAT))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_job_requests_filter_by_agent_and_plan(model: AdoModel, org_url: str) -> None:
    pool = model.create_pool("linux")
    agent = model.register_agent(pool, "a1")
    running = model.queue_job(pool)
    queued = model.queue_job(pool)
    url = f"{org_url}/_apis/distributedtask/pools/{pool}/jobrequests"
    assert [j["requestId"] for j in _get(url, agentId=str(agent))["value"]] == [running]
    plan = model.job(queued).plan_id
    assert [j["requestId"] for j in _get(url, planId=plan.upper())["value"]] == [queued]


def test_a_vm_registered_over_rest_is_offline_until_its_listener_connects(model: AdoModel, org_url: str) -> None:
    model.create_project("web")
    env = model.create_environment("web", "prod")
    url = f"{org_url}/web/_apis/pipelines/environments/{env}/providers/virtualmachines"
    answer = httpx.post(url, json={"virtualMachineResource": {"name": "vm-1"}}, auth=("", PAT))
    assert answer.status_code == 200, answer.text
    assert answer.json()["agent"]["status"] == "offline"
