"""The placeholder: its capabilities, the pure decision, the key, and the adapter against the emulator over HTTP."""

from __future__ import annotations

import base64

import pytest

from adoscale.ado import AdoClient
from adoscale.ado.models import Agent, JobRequest
from adoscale.ado.placeholder import (
    AGENT_VERSION,
    PlaceholderAction,
    PlaceholderSpec,
    decide,
    ensure_placeholder,
    pool_agent_capabilities,
    public_key,
    system_capabilities,
)
from adoscale.ado.queue import SeenJobs, unservable
from adoscale_lab.emulator import AdoModel
from tests.conftest import PAT

SPEC = PlaceholderSpec.for_pool(name="ph", platform="linux/x64", capabilities={"docker": ""})


def test_system_capabilities_follow_the_platform() -> None:
    assert system_capabilities("linux/arm64", "a")["Agent.OSArchitecture"] == "Arm64"
    x64 = system_capabilities("linux/x64", "a")
    assert (x64["Agent.OS"], x64["Agent.OSArchitecture"], x64["Agent.Version"]) == ("Linux", "X64", AGENT_VERSION)
    with pytest.raises(ValueError, match="unknown platform 'windows/x64'"):
        system_capabilities("windows/x64", "a")


def test_pool_capabilities_for_matching_are_system_and_configured_without_a_name() -> None:
    caps = pool_agent_capabilities({"docker": ""}, "linux/x64")
    assert caps is not None and caps["docker"] == "" and caps["Agent.OS"] == "Linux" and "Agent.Name" not in caps
    assert pool_agent_capabilities(None, "linux/x64") is None


def _agent(**kw: object) -> Agent:
    base: dict[str, object] = {
        "id": 1,
        "name": "ph",
        "status": "offline",
        "systemCapabilities": dict(SPEC.system_capabilities),
        "userCapabilities": dict(SPEC.user_capabilities),
    }
    return Agent.model_validate({**base, **kw})


@pytest.mark.parametrize(
    ("existing", "action"),
    [
        (None, PlaceholderAction.CREATE),
        (_agent(), PlaceholderAction.KEEP),
        (_agent(userCapabilities={}), PlaceholderAction.REPLACE),  # docker added to the pool since
        (_agent(systemCapabilities={"Agent.OS": "Linux"}), PlaceholderAction.REPLACE),  # made by hand, partial
        (_agent(status="online", userCapabilities={}), PlaceholderAction.FOREIGN),  # a real agent's name
        (_agent(assignedRequest={"requestId": 5}), PlaceholderAction.FOREIGN),
    ],
)
def test_the_decision(existing: Agent | None, action: PlaceholderAction) -> None:
    assert decide(SPEC, existing) is action


def test_a_pool_without_configured_capabilities_never_has_its_placeholder_rewritten() -> None:
    unmanaged = PlaceholderSpec.for_pool(name="ph", platform="linux/x64", capabilities=None)
    assert decide(unmanaged, None) is PlaceholderAction.CREATE
    assert decide(unmanaged, _agent(systemCapabilities={"docker": ""}, userCapabilities={})) is PlaceholderAction.KEEP


def test_the_public_key_is_an_rsa_2048_key_as_the_service_takes_it() -> None:
    key = public_key()
    modulus = int.from_bytes(base64.b64decode(key["modulus"]), "big")
    assert int.from_bytes(base64.b64decode(key["exponent"]), "big") == 65537
    assert modulus.bit_length() == 2048 and modulus % 2 == 1
    assert all(modulus % p for p in (3, 5, 7, 11, 13, 65537))
    assert public_key()["modulus"] != key["modulus"]


def test_unservable_names_the_first_failing_demand_and_ignores_assigned_jobs() -> None:
    caps = pool_agent_capabilities({"docker": ""}, "linux/x64")
    jobs = [
        JobRequest(request_id=1, demands=["docker", "Agent.OS -equals Linux"]),
        JobRequest(request_id=2, demands=["docker", "Agent.OS -equals Windows_NT", "gpu"]),
        JobRequest(request_id=3, demands=["gpu"], assign_time="2026-01-01T00:00:00Z"),
        JobRequest(request_id=4, demands=["Agent.Version -gtVersion 99.0"]),
    ]
    assert [(j.request_id, d) for j, d in unservable(jobs, caps)] == [
        (2, "Agent.OS -equals Windows_NT"),
        (4, "Agent.Version -gtVersion 99.0"),
    ]
    assert unservable(jobs, None) == []


def test_seen_jobs_report_each_once_and_stay_bounded() -> None:
    seen = SeenJobs(limit=2)
    assert [seen.first_time("p", 1), seen.first_time("p", 1), seen.first_time("q", 1)] == [True, False, True]
    seen.first_time("p", 2)  # forgets ("p", 1), the oldest
    assert seen.first_time("p", 1) is True


def test_ensure_placeholder_over_http_creates_keeps_and_registers_again(model: AdoModel, org_url: str) -> None:
    pool = model.create_pool("linux")
    with AdoClient(org_url, PAT) as ado:
        assert ensure_placeholder(ado, pool, SPEC) is PlaceholderAction.CREATE
        [agent] = model.agents(pool)
        assert (agent.name, agent.online, agent.version) == ("ph", False, AGENT_VERSION)
        assert agent.user_capabilities == {"docker": ""}
        assert agent.system_capabilities["Agent.OS"] == "Linux" and agent.public_key is not None
        assert ensure_placeholder(ado, pool, SPEC) is PlaceholderAction.KEEP
        wider = PlaceholderSpec.for_pool(name="ph", platform="linux/x64", capabilities={"docker": "", "java": "17.0"})
        assert ensure_placeholder(ado, pool, wider) is PlaceholderAction.REPLACE
        [again] = model.agents(pool)
        assert again.id == agent.id and again.user_capabilities == {"docker": "", "java": "17.0"}
        assert ensure_placeholder(ado, pool, wider, ado.list_agents(pool)) is PlaceholderAction.KEEP
        waiting = model.queue_job(pool, ["java -gtVersion 11.0", "Agent.OS -equals Linux"])
        assert model.job(waiting).result is None  # the placeholder keeps it waiting
