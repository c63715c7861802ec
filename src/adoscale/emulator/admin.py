"""The admin API under `/_emulator/…`: drive the emulator from any language over HTTP.

Plain JSON in and out, no authentication (the server only listens on 127.0.0.1), errors as
`{"error": "..."}` with 400 or 404. Paths take a pool by id or by name. docs/emulator.md lists every
route with an example.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from adoscale.emulator.entities import Agent, Job
from adoscale.emulator.errors import EmulatorError
from adoscale.emulator.model import AdoModel
from adoscale.emulator.scenario import FaultsSpec, ScenarioError, apply_faults, apply_scenario, parse_scenario

if TYPE_CHECKING:
    from adoscale.emulator.app import EmulatorApp, Request, Response

JSON = dict[str, Any]
AdminHandler = Callable[..., Any]
_ADMIN: list[tuple[str, re.Pattern[str], AdminHandler]] = []
F = TypeVar("F", bound=AdminHandler)


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def admin(method: str, template: str) -> Callable[[F], F]:
    pattern = re.compile("^/_emulator" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "/?$")

    def register(handler: F) -> F:
        _ADMIN.append((method, pattern, handler))
        return handler

    return register


def handle_admin(app: EmulatorApp, req: Request) -> Response:
    from adoscale.emulator.app import Response

    for method, pattern, handler in _ADMIN:
        match = pattern.match(req.path)
        if match is None or method != req.method:
            continue
        try:
            body = handler(app, req.body if req.body is not None else {}, req.query, **match.groupdict())
        except AdminError as exc:
            return Response(exc.status, {"error": exc.message})
        except EmulatorError as exc:
            return Response(exc.status, {"error": exc.message, "typeKey": exc.type_key})
        except ScenarioError as exc:
            return Response(400, {"error": str(exc)})
        except (KeyError, TypeError, ValueError) as exc:
            return Response(400, {"error": f"bad request: {exc}"})
        return Response(204) if body is None else Response(200, body)
    return Response(404, {"error": f"no admin route {req.method} {req.path}"})


# -- helpers -------------------------------------------------------------------------------------------


def _pool_id(model: AdoModel, ref: str) -> int:
    return model.pool(int(ref)).id if ref.isdigit() else model.pool_by_name(ref).id


def _agent_json(agent: Agent) -> JSON:
    return {
        "id": agent.id,
        "name": agent.name,
        "poolId": agent.pool_id,
        "status": "online" if agent.online else "offline",
        "enabled": agent.enabled,
        "assignedRequest": agent.assigned_request,
        "capabilities": agent.capabilities,
    }


def job_state(job: Job) -> str:
    if job.result is not None:
        return "finished"
    if job.reserved_agent is None:
        return "queued"
    return "running" if job.receive_time is not None else "assigned"


def _job_json(job: Job) -> JSON:
    return {
        "requestId": job.request_id,
        "poolId": job.pool_id,
        "state": job_state(job),
        "demands": list(job.demands),
        "agentId": job.reserved_agent,
        "result": job.result,
        "durationS": job.duration_s,
    }


def _bool(body: JSON, key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise AdminError(400, f"'{key}' must be true or false")
    return value


# -- routes ----------------------------------------------------------------------------------------------


@admin("GET", "/state")
def _state(app: EmulatorApp, body: JSON, query: dict[str, str]) -> JSON:
    model = app.model
    with model.lock:
        return {
            "org": model.org,
            "parallelLimit": model.parallel_limit,
            "pools": [
                {
                    "id": pool.id,
                    "name": pool.name,
                    "poolType": pool.pool_type,
                    "agents": [_agent_json(a) for a in pool.agents.values()],
                    "jobs": [_job_json(j) for j in pool.unfinished.values()],
                    "finishedCount": pool.finished_count,
                }
                for pool in model.pools()
            ],
        }


@admin("GET", "/requests")
def _requests(app: EmulatorApp, body: JSON, query: dict[str, str]) -> JSON:
    since = int(query.get("since", "0"))
    value = [r.to_json() for r in list(app.requests) if r.seq > since]
    return {"count": len(value), "value": value}


@admin("DELETE", "/requests")
def _clear_requests(app: EmulatorApp, body: JSON, query: dict[str, str]) -> None:
    app.requests.clear()


@admin("POST", "/scenario")
def _scenario(app: EmulatorApp, body: JSON, query: dict[str, str]) -> JSON:
    apply_scenario(parse_scenario(body, "POST /_emulator/scenario"), app.model, app.faults)
    return _state(app, {}, {})


@admin("POST", "/pools")
def _add_pool(app: EmulatorApp, body: JSON, query: dict[str, str]) -> JSON:
    return {"id": app.model.create_pool(str(body["name"]), str(body.get("poolType", "automation")))}


@admin("POST", "/pools/{pool}/agents")
def _add_agent(app: EmulatorApp, body: JSON, query: dict[str, str], pool: str) -> JSON:
    model = app.model
    pool_id = _pool_id(model, pool)
    agent_id = model.register_agent(
        pool_id,
        str(body["name"]),
        {str(k): str(v) for k, v in (body.get("capabilities") or {}).items()},
        online=body.get("status", "online") == "online",
        enabled=_bool(body, "enabled", True),
        user_capabilities={str(k): str(v) for k, v in (body.get("userCapabilities") or {}).items()},
        once=_bool(body, "once", False),
    )
    return _agent_json(model.agent(pool_id, agent_id))


@admin("PATCH", "/pools/{pool}/agents/{agent}")
def _update_agent(app: EmulatorApp, body: JSON, query: dict[str, str], pool: str, agent: str) -> JSON:
    model = app.model
    pool_id = _pool_id(model, pool)
    agent_id = int(agent)
    if "status" in body:
        if body["status"] not in ("online", "offline"):
            raise AdminError(400, "'status' must be online or offline")
        model.set_agent_online(pool_id, agent_id, body["status"] == "online")
    if "enabled" in body:
        model.set_agent_enabled(pool_id, agent_id, _bool(body, "enabled", True))
    return _agent_json(model.agent(pool_id, agent_id))


@admin("POST", "/pools/{pool}/jobs")
def _queue(app: EmulatorApp, body: JSON, query: dict[str, str], pool: str) -> JSON:
    model = app.model
    duration = body.get("durationS")
    request_id = model.queue_job(
        _pool_id(model, pool),
        [str(d) for d in body.get("demands") or []],
        duration_s=None if duration is None else float(duration),
        project=body.get("project"),
    )
    return _job_json(model.job(request_id))


@admin("GET", "/jobs/{request_id}")
def _job(app: EmulatorApp, body: JSON, query: dict[str, str], request_id: str) -> JSON:
    return _job_json(app.model.job(int(request_id)))


@admin("POST", "/jobs/{request_id}/start")
def _start(app: EmulatorApp, body: JSON, query: dict[str, str], request_id: str) -> JSON:
    app.model.start_job(int(request_id))
    return _job_json(app.model.job(int(request_id)))


@admin("POST", "/jobs/{request_id}/finish")
def _finish(app: EmulatorApp, body: JSON, query: dict[str, str], request_id: str) -> JSON:
    result = str(body.get("result", "succeeded"))
    if result not in ("succeeded", "failed", "canceled", "skipped", "abandoned", "succeededWithIssues"):
        raise AdminError(400, f"unknown result '{result}'")
    app.model.finish_job(int(request_id), result)
    return _job_json(app.model.job(int(request_id)))


@admin("POST", "/tick")
def _tick(app: EmulatorApp, body: JSON, query: dict[str, str]) -> JSON:
    return {"finished": app.model.tick()}


@admin("POST", "/projects")
def _add_project(app: EmulatorApp, body: JSON, query: dict[str, str]) -> JSON:
    name = str(body["name"])
    return {"id": app.model.create_project(name), "name": name}


@admin("POST", "/projects/{project}/environments")
def _add_environment(app: EmulatorApp, body: JSON, query: dict[str, str], project: str) -> JSON:
    model = app.model
    env_id = model.create_environment(project, str(body["name"]))
    return {"id": env_id, "poolId": model.environment(project, env_id).pool_id}


@admin("POST", "/projects/{project}/environments/{env}/vms")
def _add_vm(app: EmulatorApp, body: JSON, query: dict[str, str], project: str, env: str) -> JSON:
    model = app.model
    environment = model.environment(project, int(env))
    resource_id, agent_id = model.register_vm(
        environment.id, str(body["name"]), [str(t) for t in body.get("tags") or []]
    )
    return {"resourceId": resource_id, "agentId": agent_id}


@admin("PUT", "/parallel-limit")
def _parallel_limit(app: EmulatorApp, body: JSON, query: dict[str, str]) -> JSON:
    total = body.get("total")
    if total is not None and (not isinstance(total, int) or total < 0):
        raise AdminError(400, "'total' must be a non-negative integer or null")
    app.model.set_parallel_limit(total)
    return {"total": total}


@admin("GET", "/faults")
def _faults(app: EmulatorApp, body: JSON, query: dict[str, str]) -> JSON:
    return {"seed": app.faults.seed, "rules": [vars(rule) for rule in app.faults.rules]}


@admin("PUT", "/faults")
def _set_faults(app: EmulatorApp, body: JSON, query: dict[str, str]) -> JSON:
    try:
        spec = FaultsSpec.model_validate(body)
    except ValueError as exc:
        raise AdminError(400, f"faults: {exc}") from None
    apply_faults(spec, app.faults)
    return _faults(app, {}, {})


@admin("GET", "/hooks/deliveries")
def _deliveries(app: EmulatorApp, body: JSON, query: dict[str, str]) -> JSON:
    value = [vars(d) for d in list(app.hooks.deliveries)]
    return {"count": len(value), "value": value, "dropped": app.hooks.dropped}


@admin("POST", "/hooks/wait")
def _wait(app: EmulatorApp, body: JSON, query: dict[str, str]) -> JSON:
    timeout = min(float(body.get("timeoutS", 5.0)), 30.0)
    return {"idle": app.hooks.wait_idle(timeout)}
