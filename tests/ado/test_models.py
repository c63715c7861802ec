"""The models accept what the real service sends: the recorded fixtures and the reference samples."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adoscale.ado.models import Agent, JobRequest, JobState
from adoscale.ado.queue import count_queued_for, count_running

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ado"


def _fixture(name: str) -> object:
    path = FIXTURES / name
    if not path.exists():
        pytest.fail(f"shared fixture missing: {path}")
    return json.loads(path.read_text())


def test_states_of_recorded_requests() -> None:
    assert JobRequest.model_validate(_fixture("jobrequest-finished.json")).state is JobState.FINISHED
    assert JobRequest.model_validate(_fixture("jobrequest-running.json")).state is JobState.RUNNING
    queued = JobRequest.model_validate(_fixture("jobrequest-queued-no-demands.json"))
    assert queued.state is JobState.QUEUED
    assert queued.demands == ["Agent.Version -gtVersion 2.182.1"]
    assert queued.assign_time is None and queued.reserved_agent is None


def test_assigned_but_not_received_is_assigned() -> None:
    raw = dict(_fixture("jobrequest-running.json"))  # type: ignore[arg-type]
    del raw["receiveTime"]
    assert JobRequest.model_validate(raw).state is JobState.ASSIGNED


def test_lists_with_both_link_hosts_and_matched_agents() -> None:
    body = _fixture("jobrequests-one-running-one-queued.json")
    jobs = [JobRequest.model_validate(item) for item in body["value"]]  # type: ignore[index]
    assert [j.state for j in jobs] == [JobState.RUNNING, JobState.QUEUED]
    assert jobs[1].matched_agents is not None and len(jobs[1].matched_agents) == 4
    assert jobs[1].matched_agents[0].status == "offline"
    # Queue counts over the recorded pair: one running, one queued that needs dotnet60/java/cmake.
    assert count_running(jobs) == 1
    assert count_queued_for(jobs, None) == 1
    assert count_queued_for(jobs, {"dotnet60": "", "java": "", "cmake": ""}) == 1
    assert count_queued_for(jobs, {"kubectl": ""}) == 0


def test_two_queued_with_demands() -> None:
    body = _fixture("jobrequests-two-queued-with-demands.json")
    jobs = [JobRequest.model_validate(item) for item in body["value"]]  # type: ignore[index]
    assert count_queued_for(jobs, {"kubectl": ""}) == 1
    assert count_queued_for(jobs, None) == 2
    assert count_running(jobs) == 0


@pytest.mark.parametrize(
    ("text", "micro"),
    [
        ("2022-09-28T11:19:49Z", 0),
        ("2022-09-28T11:19:49.8Z", 800000),
        ("2022-09-28T11:19:49.89Z", 890000),
        ("2022-09-28T11:19:49.123456Z", 123456),
        ("2022-09-28T11:20:29.5033333Z", 503333),
    ],
)
def test_timestamps_with_0_to_7_fraction_digits(text: str, micro: int) -> None:
    job = JobRequest.model_validate({"requestId": 1, "queueTime": text})
    assert job.queue_time == datetime(2022, 9, 28, 11, job.queue_time.minute, job.queue_time.second, micro, UTC)  # type: ignore[union-attr]


def test_agent_busy_is_derived_from_assigned_request() -> None:
    idle = Agent.model_validate({"id": 102, "name": "ecs-91bc", "status": "offline", "enabled": True})
    assert not idle.busy and not idle.online
    busy = Agent.model_validate(
        {
            "id": 101,
            "name": "ecs-7f3a",
            "status": "online",
            "systemCapabilities": {"Agent.OS": "Linux", "docker": ""},
            "userCapabilities": {"docker": "24"},
            "assignedRequest": {"requestId": 890659, "queueTime": "2025-06-02T08:05:49.89Z"},
        }
    )
    assert busy.busy and busy.online
    assert busy.capabilities["docker"] == "24"  # a user capability wins over a system one
