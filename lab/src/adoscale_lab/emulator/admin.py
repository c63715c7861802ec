"""The admin API under `/_emulator/…`: drive the emulator from any language over HTTP.

Plain JSON in and out, no authentication (the server only listens on 127.0.0.1), errors as
`{"error": "..."}` with 400 or 404. Paths take a pool by id or by name. docs/emulator.md lists every
route with an example.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from adoscale_lab.emulator.entities import Agent, Job
from adoscale_lab.emulator.errors import EmulatorError
from adoscale_lab.emulator.faults import Faults
from adoscale_lab.emulator.hooks import HookService
from adoscale_lab.emulator.messages import LoggedRequest, Request, Response
from adoscale_lab.emulator.model import AdoModel
from adoscale_lab.emulator.router import Route
from adoscale_lab.emulator.scenario import FaultsSpec, ScenarioError, apply_faults, apply_scenario, parse_scenario
from adoscale_lab.emulator.scopes import parse_scopes

JSON = dict[str, Any]
PREFIX = "/_emulator"
# Called with the context, the JSON body ({} when none), the query and the path's parameters; answers
# JSON (200) or None (204).
AdminHandler = Callable[..., JSON | None]


@dataclass(frozen=True, slots=True)
class AdminContext:
    """What the admin API drives: the model, the faults in force, the hook service and the request log."""

    model: AdoModel
    faults: Faults
    hooks: HookService
    requests: deque[LoggedRequest]


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _answer(handler: AdminHandler, ctx: AdminContext, req: Request, **params: str) -> Response:
    """Run an admin handler; the errors it may raise become `{"error": ...}` answers, never a traceback."""
    try:
        body = handler(ctx, req.body if req.body is not None else {}, req.query, **params)
    except AdminError as exc:
        return Response(exc.status, {"error": exc.message})
    except EmulatorError as exc:
        return Response(exc.status, {"error": exc.message, "typeKey": exc.type_key})
    except ScenarioError as exc:
        return Response(400, {"error": str(exc)})
    except (KeyError, TypeError, ValueError) as exc:
        return Response(400, {"error": f"bad request: {exc}"})
    return Response(204) if body is None else Response(200, body)


def not_found(req: Request) -> Response:
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
        # The service's message when it failed the job at once (no registered agent meets its demands).
        "failure": job.failure,
    }


def _bool(body: JSON, key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise AdminError(400, f"'{key}' must be true or false")
    return value


# -- routes ----------------------------------------------------------------------------------------------


def _state(ctx: AdminContext, body: JSON, query: dict[str, str]) -> JSON:
    model = ctx.model
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


def _requests(ctx: AdminContext, body: JSON, query: dict[str, str]) -> JSON:
    since = int(query.get("since", "0"))
    value = [r.to_json() for r in list(ctx.requests) if r.seq > since]
    return {"count": len(value), "value": value}


def _clear_requests(ctx: AdminContext, body: JSON, query: dict[str, str]) -> None:
    ctx.requests.clear()


def _scenario(ctx: AdminContext, body: JSON, query: dict[str, str]) -> JSON:
    apply_scenario(parse_scenario(body, "POST /_emulator/scenario"), ctx.model, ctx.faults)
    return _state(ctx, {}, {})


def _add_pool(ctx: AdminContext, body: JSON, query: dict[str, str]) -> JSON:
    return {"id": ctx.model.create_pool(str(body["name"]), str(body.get("poolType", "automation")))}


def _add_agent(ctx: AdminContext, body: JSON, query: dict[str, str], pool: str) -> JSON:
    model = ctx.model
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


def _update_agent(ctx: AdminContext, body: JSON, query: dict[str, str], pool: str, agent: str) -> JSON:
    model = ctx.model
    pool_id = _pool_id(model, pool)
    agent_id = int(agent)
    if "status" in body:
        if body["status"] not in ("online", "offline"):
            raise AdminError(400, "'status' must be online or offline")
        model.set_agent_online(pool_id, agent_id, body["status"] == "online")
    if "enabled" in body:
        model.set_agent_enabled(pool_id, agent_id, _bool(body, "enabled", True))
    return _agent_json(model.agent(pool_id, agent_id))


def _queue(ctx: AdminContext, body: JSON, query: dict[str, str], pool: str) -> JSON:
    model = ctx.model
    duration = body.get("durationS")
    request_id = model.queue_job(
        _pool_id(model, pool),
        [str(d) for d in body.get("demands") or []],
        duration_s=None if duration is None else float(duration),
        project=body.get("project"),
    )
    return _job_json(model.job(request_id))


def _job(ctx: AdminContext, body: JSON, query: dict[str, str], request_id: str) -> JSON:
    return _job_json(ctx.model.job(int(request_id)))


def _start(ctx: AdminContext, body: JSON, query: dict[str, str], request_id: str) -> JSON:
    ctx.model.start_job(int(request_id))
    return _job_json(ctx.model.job(int(request_id)))


def _finish(ctx: AdminContext, body: JSON, query: dict[str, str], request_id: str) -> JSON:
    result = str(body.get("result", "succeeded"))
    if result not in ("succeeded", "failed", "canceled", "skipped", "abandoned", "succeededWithIssues"):
        raise AdminError(400, f"unknown result '{result}'")
    ctx.model.finish_job(int(request_id), result)
    return _job_json(ctx.model.job(int(request_id)))


def _tick(ctx: AdminContext, body: JSON, query: dict[str, str]) -> JSON:
    return {"finished": ctx.model.tick()}


def _add_project(ctx: AdminContext, body: JSON, query: dict[str, str]) -> JSON:
    name = str(body["name"])
    return {"id": ctx.model.create_project(name), "name": name}


def _add_environment(ctx: AdminContext, body: JSON, query: dict[str, str], project: str) -> JSON:
    model = ctx.model
    env_id = model.create_environment(project, str(body["name"]))
    return {"id": env_id, "poolId": model.environment(project, env_id).pool_id}


def _add_vm(ctx: AdminContext, body: JSON, query: dict[str, str], project: str, env: str) -> JSON:
    model = ctx.model
    environment = model.environment(project, int(env))
    resource_id, agent_id = model.register_vm(
        environment.id, str(body["name"]), [str(t) for t in body.get("tags") or []]
    )
    return {"resourceId": resource_id, "agentId": agent_id}


def _parallel_limit(ctx: AdminContext, body: JSON, query: dict[str, str]) -> JSON:
    total = body.get("total")
    if total is not None and (not isinstance(total, int) or total < 0):
        raise AdminError(400, "'total' must be a non-negative integer or null")
    ctx.model.set_parallel_limit(total)
    return {"total": total}


def _pat_scopes(ctx: AdminContext, body: JSON, query: dict[str, str]) -> JSON:
    try:
        scopes = parse_scopes(body.get("scopes"))
    except ValueError as exc:
        raise AdminError(400, str(exc)) from None
    ctx.model.pat_scopes = scopes
    return {"scopes": sorted(scopes) if scopes is not None else None}


def _faults(ctx: AdminContext, body: JSON, query: dict[str, str]) -> JSON:
    return {"seed": ctx.faults.seed, "rules": [vars(rule) for rule in ctx.faults.rules]}


def _set_faults(ctx: AdminContext, body: JSON, query: dict[str, str]) -> JSON:
    try:
        spec = FaultsSpec.model_validate(body)
    except ValueError as exc:
        raise AdminError(400, f"faults: {exc}") from None
    apply_faults(spec, ctx.faults)
    return _faults(ctx, {}, {})


def _deliveries(ctx: AdminContext, body: JSON, query: dict[str, str]) -> JSON:
    value = [vars(d) for d in list(ctx.hooks.deliveries)]
    return {"count": len(value), "value": value, "dropped": ctx.hooks.dropped}


def _subscriptions(ctx: AdminContext, body: JSON, query: dict[str, str]) -> JSON:
    value = ctx.hooks.states()
    return {"count": len(value), "value": value, "timeScale": ctx.hooks.time_scale}


def _hook_clock(ctx: AdminContext, body: JSON, query: dict[str, str]) -> JSON:
    scale = body.get("timeScale")
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 < scale <= 1:
        raise AdminError(400, "'timeScale' must be a number in (0, 1]: real seconds per service second")
    ctx.hooks.time_scale = float(scale)
    return {"timeScale": ctx.hooks.time_scale}


def _wait(ctx: AdminContext, body: JSON, query: dict[str, str]) -> JSON:
    timeout = min(float(body.get("timeoutS", 5.0)), 30.0)
    return {"idle": ctx.hooks.wait_idle(timeout)}


# -- the route table --------------------------------------------------------------------------------------


def admin_routes(ctx: AdminContext) -> list[Route]:
    """Every admin route, under `/_emulator`."""
    table: list[tuple[str, str, AdminHandler]] = [
        ("GET", "/state", _state),
        ("GET", "/requests", _requests),
        ("DELETE", "/requests", _clear_requests),
        ("POST", "/scenario", _scenario),
        ("POST", "/pools", _add_pool),
        ("POST", "/pools/{pool}/agents", _add_agent),
        ("PATCH", "/pools/{pool}/agents/{agent}", _update_agent),
        ("POST", "/pools/{pool}/jobs", _queue),
        ("GET", "/jobs/{request_id}", _job),
        ("POST", "/jobs/{request_id}/start", _start),
        ("POST", "/jobs/{request_id}/finish", _finish),
        ("POST", "/tick", _tick),
        ("POST", "/projects", _add_project),
        ("POST", "/projects/{project}/environments", _add_environment),
        ("POST", "/projects/{project}/environments/{env}/vms", _add_vm),
        ("PUT", "/parallel-limit", _parallel_limit),
        ("PUT", "/pat-scopes", _pat_scopes),
        ("GET", "/faults", _faults),
        ("PUT", "/faults", _set_faults),
        ("GET", "/hooks/deliveries", _deliveries),
        ("POST", "/hooks/wait", _wait),
        ("GET", "/hooks/subscriptions", _subscriptions),
        ("PUT", "/hooks/clock", _hook_clock),
    ]
    return [Route(method, PREFIX + template, partial(_answer, handler, ctx)) for method, template, handler in table]
