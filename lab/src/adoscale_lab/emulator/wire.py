"""The model's objects as the real service serialises them: camelCase, absent keys instead of nulls,
`Z` timestamps with up to 7 fractional digits (trailing zeros trimmed, as the service does)."""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from adoscale_lab.emulator.entities import Agent, Environment, Job, Pool, Project, VmResource

JSON = dict[str, Any]


class ModelView(Protocol):
    """What serialising reads of the model (`AdoModel` has it): declared here so that this module, which the
    model's event payload uses for timestamps, does not import the model back."""

    @property
    def org(self) -> str: ...

    @property
    def host_id(self) -> str: ...

    def job(self, request_id: int) -> Job: ...

    def pool(self, pool_id: int) -> Pool: ...

    def project(self, name_or_id: str) -> Project: ...

    def matched_agents(self, job: Job) -> list[Agent]: ...


@lru_cache(maxsize=8192)
def timestamp(value: datetime) -> str:
    # Cached: a job's times are written in every answer that lists it, pass after pass.
    base = value.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{value.microsecond:06d}0".rstrip("0")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


def _identity() -> JSON:
    return {
        "displayName": "Emulated User",
        "id": "8c8c7d32-6b1b-47f4-b2e9-30b477b5ab3d",
        "uniqueName": "emulated@example.com",
    }


def pool_json(model: ModelView, pool: Pool) -> JSON:
    return {
        "createdOn": timestamp(pool.created_on),
        "autoProvision": pool.auto_provision,
        "autoUpdate": pool.auto_update,
        "autoSize": True,
        "targetSize": None,
        "agentCloudId": None,
        "createdBy": _identity(),
        "owner": _identity(),
        "id": pool.id,
        "scope": pool.scope,
        "name": pool.name,
        "isHosted": False,
        "poolType": pool.pool_type,
        "size": len(pool.agents),
        "isLegacy": False,
        "options": "none",
    }


def queue_json(project: Project, pool: Pool) -> JSON:
    """A project's agent queue for a pool. Inferred: the emulator gives the queue the pool's id (real queue ids
    are a sequence of their own per organization)."""
    return {"id": pool.id, "projectId": project.id, "name": pool.name, "pool": pool_reference_json(pool)}


def project_json(project: Project) -> JSON:
    return {
        "id": project.id,
        "name": project.name,
        "state": "wellFormed",
        "visibility": "private",
        "revision": 1,
        "lastUpdateTime": "2025-06-02T08:00:00Z",
    }


def pool_reference_json(pool: Pool) -> JSON:
    return {
        "id": pool.id,
        "scope": pool.scope,
        "name": pool.name,
        "isHosted": False,
        "poolType": pool.pool_type,
        "size": len(pool.agents),
    }


def _links(model: ModelView, agent: Agent) -> JSON:
    base = f"https://dev.azure.com/{model.org}"
    return {
        "self": {"href": f"{base}/_apis/distributedtask/pools/{agent.pool_id}/agents/{agent.id}"},
        "web": {"href": f"{base}/_settings/agentpools?view=jobs&poolId={agent.pool_id}&agentId={agent.id}"},
    }


def agent_reference_json(model: ModelView, agent: Agent) -> JSON:
    return {
        "_links": _links(model, agent),
        "id": agent.id,
        "name": agent.name,
        "version": agent.version,
        "osDescription": agent.os_description,
        "enabled": agent.enabled,
        "status": "online" if agent.online else "offline",
        "provisioningState": "Provisioned",
        "accessPoint": "CodexAccessMapping",
    }


def agent_json(
    model: ModelView,
    agent: Agent,
    *,
    capabilities: bool = False,
    assigned_request: bool = False,
    last_completed: bool = False,
) -> JSON:
    body: JSON = {}
    if capabilities:
        body["systemCapabilities"] = dict(agent.system_capabilities)
        body["userCapabilities"] = dict(agent.user_capabilities)
    body["maxParallelism"] = 1
    body["createdOn"] = timestamp(agent.created_on)
    body["statusChangedOn"] = timestamp(agent.status_changed_on)
    if assigned_request and agent.assigned_request is not None:
        body["assignedRequest"] = job_json(model, model.job(agent.assigned_request), matched=False)
    if last_completed and agent.last_completed_request is not None:
        body["lastCompletedRequest"] = job_json(model, model.job(agent.last_completed_request), matched=False)
    body.update(agent_reference_json(model, agent))
    return body


class Encoded:
    """A value already encoded as compact JSON, written into an answer as is by `encode`: a value that one
    answer repeats (each unfinished job's `matchedAgents`, the same list for every job of a pool with the same
    demands) is built and encoded once instead of once a job. The bytes are those of the value itself."""

    __slots__ = ("text",)

    def __init__(self, value: Any) -> None:
        self.text = json.dumps(value, separators=(",", ":"))


# Where an `Encoded` goes, while the rest of the body is encoded: a string no real value holds (a NUL and a
# random token), replaced by the encoded text afterwards.
_MARK = f"\x00encoded-{secrets.token_hex(16)}:"
_MARKED = re.compile(re.escape(json.dumps(_MARK)[:-1]) + r'(\d+)"')


def encode(body: Any) -> bytes:
    """`body` as compact JSON, the same bytes as `json.dumps(body, separators=(",", ":"))` with every
    `Encoded` in it replaced by the value it was made from."""
    texts: list[str] = []

    def mark(value: object) -> str:
        if not isinstance(value, Encoded):
            raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
        texts.append(value.text)
        return f"{_MARK}{len(texts) - 1}"

    text = json.dumps(body, separators=(",", ":"), default=mark)
    if texts:
        text = _MARKED.sub(lambda found: texts[int(found[1])], text)
    return text.encode()


# The matched agents of one answer's jobs, by pool and demands (what matching depends on): None when none match.
MatchedMemo = dict[tuple[int, tuple[str, ...]], Encoded | None]


def _matched_agents(model: ModelView, job: Job, memo: MatchedMemo | None) -> Any:
    if memo is None:
        agents = model.matched_agents(job)
        return [agent_reference_json(model, a) for a in agents] if agents else None
    key = (job.pool_id, tuple(job.demands))
    if key not in memo:
        agents = model.matched_agents(job)
        memo[key] = Encoded([agent_reference_json(model, a) for a in agents]) if agents else None
    return memo[key]


def job_json(model: ModelView, job: Job, *, matched: bool = True, memo: MatchedMemo | None = None) -> JSON:
    """A job request as the service writes it. `memo`: the answer's matched agents so far (one per answer, as
    `Encoded` values: the body must then be written with `encode`)."""
    base = f"https://dev.azure.com/{model.org}"
    body: JSON = {"requestId": job.request_id, "queueTime": timestamp(job.queue_time)}
    if job.assign_time is not None:
        body["assignTime"] = timestamp(job.assign_time)
    if job.receive_time is not None:
        body["receiveTime"] = timestamp(job.receive_time)
    if job.finish_time is not None:
        body["finishTime"] = timestamp(job.finish_time)
    if job.result is not None:
        body["result"] = job.result
    if job.locked_until is not None:
        body["lockedUntil"] = timestamp(job.locked_until)
    body.update(
        {
            "serviceOwner": "00025394-6065-48ca-87d9-7f5672854ef7",
            "hostId": model.host_id,
            "scopeId": "02696e26-a35b-424c-86b8-1f54e1b0b4b7",
            "planType": "Build",
            "planId": job.plan_id,
            "jobId": job.job_id,
            "demands": list(job.demands),
        }
    )
    if job.reserved_agent is not None:
        pool = model.pool(job.pool_id)
        agent = pool.agents.get(job.reserved_agent)
        if agent is not None:
            body["reservedAgent"] = agent_reference_json(model, agent)
    if matched and job.result is None:
        agents = _matched_agents(model, job, memo)
        if agents is not None:  # omitted when empty, like the service's private field
            body["matchedAgents"] = agents
    project = body["scopeId"]
    body["definition"] = {
        "_links": {
            "web": {"href": f"{base}/{project}/_build/definition?definitionId={job.definition_id}"},
            "self": {"href": f"{base}/{project}/_apis/build/Definitions/{job.definition_id}"},
        },
        "id": job.definition_id,
        "name": f"pipeline-{job.definition_id}",
    }
    body["owner"] = {
        "_links": {
            "web": {"href": f"{base}/{project}/_build/results?buildId={job.build_id}"},
            "self": {"href": f"{base}/{project}/_apis/build/Builds/{job.build_id}"},
        },
        "id": job.build_id,
        "name": f"20250602.{job.build_id % 100}",
    }
    body["data"] = {"ParallelismTag": "Private", "IsScheduledKey": "False"}
    body["poolId"] = job.pool_id
    body["orchestrationId"] = f"{job.plan_id}.build.__default"
    body["priority"] = 0
    return body


def environment_json(model: ModelView, env: Environment, *, resources: bool = False) -> JSON:
    """`resources`: `expands=resourceReferences`, which fills `resources` with references."""
    project = model.project(env.project_id)
    body: JSON = {
        "id": env.id,
        "name": env.name,
        "description": env.description,
        "createdBy": _identity(),
        "createdOn": timestamp(env.created_on),
        "lastModifiedBy": _identity(),
        "lastModifiedOn": timestamp(env.created_on),
        "project": {"id": project.id, "name": project.name},
    }
    if resources:
        body["resources"] = [
            {"id": r.id, "name": r.name, "type": "virtualMachine", "tags": list(r.tags)} for r in env.resources.values()
        ]
    return body


def vm_resource_json(model: ModelView, env: Environment, resource: VmResource) -> JSON:
    body: JSON = {}
    agent = model.pool(env.pool_id).agents.get(resource.agent_id)
    if agent is not None:
        body["agent"] = agent_json(model, agent)
    body.update(
        {
            "id": resource.id,
            "name": resource.name,
            "type": "virtualMachine",
            "tags": list(resource.tags),
            "createdBy": _identity(),
            "createdOn": timestamp(resource.created_on),
            "lastModifiedBy": _identity(),
            "lastModifiedOn": timestamp(resource.created_on),
            "environmentReference": {"id": env.id, "name": env.name},
        }
    )
    return body


def error_envelope(type_key: str, message: str, type_name: str) -> JSON:
    return {
        "$id": "1",
        "innerException": None,
        "message": message,
        "typeName": f"{type_name}, {type_name.rsplit('.', 1)[0]}",
        "typeKey": type_key,
        "errorCode": 0,
        "eventId": 3000,
    }
