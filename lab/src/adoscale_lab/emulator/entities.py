"""The model's records: pools, agents, job requests, projects, Environments and VM resources.

Plain mutable dataclasses, shared by the model's parts (which change them under the model's lock) and read
by the wire layer; no behaviour beyond derived properties, so every module may import them.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

Clock = Callable[[], datetime]

AGENT_VERSION = "4.255.0"
FINISHED_KEPT = 50  # finished requests a plain jobrequests GET still returns, as the service does


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Pool:
    id: int
    name: str
    pool_type: str
    scope: str
    created_on: datetime
    agents: dict[int, Agent] = field(default_factory=dict)
    unfinished: OrderedDict[int, Job] = field(default_factory=OrderedDict)
    finished: deque[Job] = field(default_factory=lambda: deque(maxlen=FINISHED_KEPT))
    finished_count: int = 0
    auto_update: bool = True  # the pool's "allow agents to update themselves" setting (PATCH autoUpdate)
    auto_provision: bool = False  # "grant access to all projects" (a queue in every project)


@dataclass(slots=True)
class Agent:
    id: int
    name: str
    pool_id: int
    system_capabilities: dict[str, str]
    user_capabilities: dict[str, str]
    enabled: bool
    online: bool
    created_on: datetime
    status_changed_on: datetime
    version: str = AGENT_VERSION
    os_description: str = "Linux 6.1.0-1017-aws #17-Ubuntu SMP x86_64"
    assigned_request: int | None = None
    last_completed_request: int | None = None
    once: bool = False  # `run.sh --once`: after its one job the agent disconnects
    public_key: dict[str, str] | None = None  # `authorization.publicKey` as registered (exponent, modulus)
    client_id: str = ""  # the OAuth client the service made for the key (answered in `authorization`)

    @property
    def capabilities(self) -> dict[str, str]:
        return {**self.system_capabilities, **self.user_capabilities}

    @property
    def idle(self) -> bool:
        return self.online and self.enabled and self.assigned_request is None


@dataclass(slots=True)
class Job:
    request_id: int
    pool_id: int
    demands: list[str]
    queue_time: datetime
    plan_id: str
    job_id: str
    definition_id: int
    build_id: int
    assign_time: datetime | None = None
    receive_time: datetime | None = None
    finish_time: datetime | None = None
    result: str | None = None
    reserved_agent: int | None = None
    locked_until: datetime | None = None
    duration_s: float | None = None  # set: the job finishes this long after it starts (see `tick`)
    project_id: str | None = None
    failure: str | None = None  # why the service failed it without running it (no agent meets its demands)


@dataclass(slots=True)
class Project:
    id: str
    name: str


@dataclass(slots=True)
class Environment:
    id: int
    name: str
    project_id: str
    pool_id: int
    created_on: datetime
    resources: dict[int, VmResource] = field(default_factory=dict)
    description: str = ""


@dataclass(slots=True)
class VmResource:
    id: int
    name: str
    environment_id: int
    agent_id: int
    tags: list[str]
    created_on: datetime


@dataclass
class Stats:
    """Requests served, by (method, route template), and faults injected; for tests and benchmarks."""

    total: int = 0
    by_route: Counter[tuple[str, str]] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)

    def reset(self) -> None:
        self.total = 0
        self.by_route.clear()
        self.faults.clear()


def matchable_capabilities(agent: Agent) -> dict[str, str]:
    """The capabilities the service matches: system and user capabilities together (a user capability wins).

    `Agent.Version` is whatever the agent reported as a system capability; an agent registered without it
    (a bare API call) fails a `Agent.Version -gtVersion` demand, as on the service.
    """
    return agent.capabilities


def agent_system_capabilities(
    name: str, *, os: str = "Linux", architecture: str = "X64", version: str = AGENT_VERSION
) -> dict[str, str]:
    """The system capabilities a real agent (`config.sh`) reports about itself.

    From azure-pipelines-agent `src/Microsoft.VisualStudio.Services.Agent/Capabilities/AgentCapabilitiesProvider.cs`:
    `Agent.Name`, `Agent.MachineName`, `Agent.OS` (`Linux`, `Darwin`, `Windows_NT`), `Agent.OSArchitecture`
    (.NET's `Architecture` name: `X64`, `Arm64`), `Agent.ComputerName`, `Agent.HomeDirectory`,
    `InteractiveSession`, `Agent.Version`; `EnvironmentCapabilitiesProvider` adds the process's environment
    variables (a few typical ones here: the real set depends on the image).
    """
    return {
        "Agent.Name": name,
        "Agent.MachineName": f"ip-10-0-1-{sum(map(ord, name)) % 250 + 2}",
        "Agent.OS": os,
        "Agent.OSArchitecture": architecture,
        "Agent.ComputerName": f"ip-10-0-1-{sum(map(ord, name)) % 250 + 2}",
        "Agent.HomeDirectory": "/azp",
        "InteractiveSession": "False",
        "Agent.Version": version,
        "HOME": "/root",
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
    }
