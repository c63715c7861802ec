"""Azure DevOps payloads as pydantic models that accept what the real service sends.

Absent keys are the norm (the service omits null and default fields), timestamps carry 0 to 7 fractional
digits, demands are plain strings, and links may point at `dev.azure.com` or `{org}.visualstudio.com`:
links are kept as opaque data and never parsed.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class AdoModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class PoolReference(AdoModel):
    id: int
    name: str = ""
    pool_type: str = "automation"
    is_hosted: bool = False
    size: int = 0


class Pool(PoolReference):
    created_on: datetime | None = None
    auto_provision: bool | None = None
    target_size: int | None = None


class AgentReference(AdoModel):
    id: int
    name: str = ""
    version: str | None = None
    enabled: bool | None = None
    status: str = "offline"
    links: dict[str, Any] | None = Field(default=None, alias="_links")


class JobState(StrEnum):
    QUEUED = "queued"
    ASSIGNED = "assigned"
    RUNNING = "running"
    FINISHED = "finished"


class JobRequest(AdoModel):
    request_id: int
    queue_time: datetime | None = None
    assign_time: datetime | None = None
    receive_time: datetime | None = None
    finish_time: datetime | None = None
    result: str | None = None
    locked_until: datetime | None = None
    plan_type: str | None = None
    plan_id: str | None = None
    job_id: str | None = None
    demands: list[str] = Field(default_factory=list)
    matched_agents: list[AgentReference] | None = None
    reserved_agent: AgentReference | None = None
    pool_id: int | None = None
    data: dict[str, str] = Field(default_factory=dict)

    @property
    def state(self) -> JobState:
        """Queued, assigned (not yet received), running, or finished; see the wire reference §3.4."""
        if self.result is not None or self.finish_time is not None:
            return JobState.FINISHED
        if self.receive_time is not None:
            return JobState.RUNNING
        if self.assign_time is not None or self.reserved_agent is not None:
            return JobState.ASSIGNED
        return JobState.QUEUED


class Agent(AgentReference):
    system_capabilities: dict[str, str] = Field(default_factory=dict)
    user_capabilities: dict[str, str] = Field(default_factory=dict)
    assigned_request: JobRequest | None = None
    last_completed_request: JobRequest | None = None
    created_on: datetime | None = None
    status_changed_on: datetime | None = None
    os_description: str | None = None
    provisioning_state: str | None = None

    @property
    def capabilities(self) -> dict[str, str]:
        """System and user capabilities together; a user capability wins over a system one."""
        return {**self.system_capabilities, **self.user_capabilities}

    @property
    def online(self) -> bool:
        return self.status.lower() == "online"

    @property
    def busy(self) -> bool:
        # ADO's status is only online/offline: busy means an assigned request is present.
        return self.assigned_request is not None


class ProjectReference(AdoModel):
    id: str
    name: str = ""


class Environment(AdoModel):
    id: int
    name: str
    description: str | None = None
    project: ProjectReference | None = None


class VmResource(AdoModel):
    id: int
    name: str
    type: str = "virtualMachine"
    tags: list[str] = Field(default_factory=list)
    agent: Agent | None = None
    created_on: datetime | None = None


class ParallelLimit(AdoModel):
    """The organization's self-hosted parallel jobs: how many may run, and which are running."""

    total: int
    used: int = 0
    running_requests: list[JobRequest] = Field(default_factory=list)
