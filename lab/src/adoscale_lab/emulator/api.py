"""The Azure DevOps REST API the emulator serves: one handler per route, over the model, in ADO's wire format.

`ado_routes` returns the route table; `EmulatorApp` builds its router from it (and the admin API's), and
does what every ADO route shares (authentication, api-version, faults, errors) before a handler runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from adoscale_lab.emulator.demands import ado_satisfies
from adoscale_lab.emulator.entities import matchable_capabilities
from adoscale_lab.emulator.errors import EmulatorError
from adoscale_lab.emulator.hooks import HookService
from adoscale_lab.emulator.locations import RESOURCE_AREAS, L, Location, all_locations, area_locations
from adoscale_lab.emulator.messages import Request, Response
from adoscale_lab.emulator.model import AdoModel
from adoscale_lab.emulator.router import Route
from adoscale_lab.emulator.wire import (
    MatchedMemo,
    agent_json,
    environment_json,
    job_json,
    pool_json,
    pool_reference_json,
    project_json,
    queue_json,
    vm_resource_json,
)

JSON = dict[str, Any]


def _flag(query: dict[str, str], name: str) -> bool:
    return query.get(name, "false").lower() == "true"


def _page(items: list[JSON], query: dict[str, str], cap: int | None = None) -> Response:
    """`{count, value}` with `$top`/`continuationToken` paging; the token is opaque (an offset here)."""
    start = int(query.get("continuationToken", "0") or 0)
    top = int(query["$top"]) if "$top" in query else None
    if cap is not None and top is not None:
        top = min(top, cap)
    headers: dict[str, str] = {}
    if top is not None and start + top < len(items):
        page = items[start : start + top]
        headers["x-ms-continuationtoken"] = str(start + top)
    else:
        page = items[start:] if top is None else items[start : start + top]
    return Response(200, {"count": len(page), "value": page}, headers)


# -- pools and agents --------------------------------------------------------------------------------

ORG = "/{org}/_apis/distributedtask"


def _pools(model: AdoModel, req: Request) -> Response:
    pools = model.pools(req.query.get("poolName"), req.query.get("poolType"))
    if "poolIds" in req.query:
        wanted = {int(x) for x in req.query["poolIds"].split(",") if x}
        pools = [p for p in pools if p.id in wanted]
    return Response(200, {"count": len(pools), "value": [pool_json(model, p) for p in pools]})


def _pool(model: AdoModel, req: Request, pool_id: str) -> Response:
    return Response(200, pool_json(model, model.pool(int(pool_id))))


def _pool_settings(model: AdoModel, pool_id: int, body: JSON) -> Response:
    with model.lock:
        pool = model.pool(pool_id)
        if isinstance(body.get("autoUpdate"), bool):
            pool.auto_update = body["autoUpdate"]
        if isinstance(body.get("autoProvision"), bool):
            pool.auto_provision = body["autoProvision"]
    return Response(200, pool_json(model, model.pool(pool_id)))


def _add_pool(model: AdoModel, req: Request) -> Response:
    body = req.body or {}
    name = str(body.get("name", "")).strip()
    if not name:
        raise EmulatorError(400, "ArgumentException", "The pool name cannot be empty.", "System.ArgumentException")
    return _pool_settings(model, model.create_pool(name, str(body.get("poolType", "automation"))), body)


def _update_pool(model: AdoModel, req: Request, pool_id: str) -> Response:
    return _pool_settings(model, int(pool_id), req.body or {})


def _queues(model: AdoModel, req: Request, project: str) -> Response:
    proj = model.project(project)
    names = req.query.get("queueNames") or req.query.get("queueName")
    pools = model.pools(pool_type="automation")
    if names:
        wanted = {n.strip().lower() for n in names.split(",") if n.strip()}
        pools = [p for p in pools if p.name.lower() in wanted]
    if req.query.get("queueIds"):
        ids = {int(x) for x in req.query["queueIds"].split(",") if x}
        pools = [p for p in pools if p.id in ids]
    value = [queue_json(proj, p) for p in pools]
    return Response(200, {"count": len(value), "value": value})


def _queue(model: AdoModel, req: Request, project: str, queue_id: str) -> Response:
    return Response(200, queue_json(model.project(project), model.pool(int(queue_id))))


def _projects(model: AdoModel, req: Request) -> Response:
    return _page([project_json(p) for p in model.projects()], req.query)


def _agent_flags(req: Request) -> dict[str, bool]:
    return {
        "capabilities": _flag(req.query, "includeCapabilities"),
        "assigned_request": _flag(req.query, "includeAssignedRequest"),
        "last_completed": _flag(req.query, "includeLastCompletedRequest"),
    }


def _agents(model: AdoModel, req: Request, pool_id: str) -> Response:
    agents = model.agents(int(pool_id))
    name = req.query.get("agentName")
    if name is not None:
        agents = [a for a in agents if a.name.lower() == name.lower()]
    if req.query.get("demands"):
        # The service takes a comma-separated list and keeps the agents that meet every demand.
        wanted = [d for d in req.query["demands"].split(",") if d.strip()]
        agents = [a for a in agents if ado_satisfies(matchable_capabilities(a), wanted)]
    flags = _agent_flags(req)
    value = [agent_json(model, a, **flags) for a in agents]
    return Response(200, {"count": len(value), "value": value})


def _agent(model: AdoModel, req: Request, pool_id: str, agent_id: str) -> Response:
    agent = model.agent(int(pool_id), int(agent_id))
    return Response(200, agent_json(model, agent, **_agent_flags(req)))


def _capabilities(body: JSON, key: str) -> dict[str, str]:
    value = body.get(key)
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _register(model: AdoModel, pool_id: int, name: str, body: JSON, *, replace: bool) -> int:
    """What the service stores of an add/replace-agent body: the capabilities, version and OS description
    the client reports (`ConfigurationManager.CreateNewAgent` sends all of them), and its public key. A new
    registration is offline until its listener connects."""
    if not name.strip():
        raise EmulatorError(400, "ArgumentException", "The agent name cannot be empty.", "System.ArgumentException")
    agent_id = model.register_agent(
        pool_id,
        name,
        online=False,
        enabled=body.get("enabled", True) is not False,
        system=_capabilities(body, "systemCapabilities"),
        user_capabilities=_capabilities(body, "userCapabilities"),
        version=str(body["version"]) if body.get("version") else None,
        os_description=str(body["osDescription"]) if body.get("osDescription") else None,
        replace=replace,
    )
    key = (body.get("authorization") or {}).get("publicKey")
    with model.lock:
        agent = model.agent(pool_id, agent_id)
        agent.public_key = {str(k): str(v) for k, v in key.items()} if isinstance(key, dict) else None
        agent.client_id = str(uuid.uuid4())
    return agent_id


def _registered(model: AdoModel, pool_id: int, agent_id: int) -> Response:
    agent = model.agent(pool_id, agent_id)
    body = agent_json(model, agent, capabilities=True)
    # The service answers the OAuth client it made for the agent's key: the agent stores clientId and
    # authorizationUrl in .credentials and signs its token requests with the private key.
    body["authorization"] = {
        "authorizationUrl": f"https://vstoken.dev.azure.com/{model.host_id}/oauth2/token",
        "clientId": agent.client_id,
        **({"publicKey": dict(agent.public_key)} if agent.public_key else {}),
    }
    return Response(200, body)


def _add_agent(model: AdoModel, req: Request, pool_id: str) -> Response:
    body = req.body or {}
    agent_id = _register(model, int(pool_id), str(body.get("name", "")), body, replace=False)
    return _registered(model, int(pool_id), agent_id)


def _replace_agent(model: AdoModel, req: Request, pool_id: str, agent_id: str) -> Response:
    body = req.body or {}
    current = model.agent(int(pool_id), int(agent_id))
    _register(model, int(pool_id), current.name, body, replace=True)
    return _registered(model, int(pool_id), int(agent_id))


def _update_agent(model: AdoModel, req: Request, pool_id: str, agent_id: str) -> Response:
    body = req.body or {}
    if "enabled" in body:
        model.set_agent_enabled(int(pool_id), int(agent_id), bool(body["enabled"]))
    if isinstance(body.get("userCapabilities"), dict):
        with model.lock:
            agent = model.agent(int(pool_id), int(agent_id))
            agent.user_capabilities = {str(k): str(v) for k, v in body["userCapabilities"].items()}
    return Response(200, agent_json(model, model.agent(int(pool_id), int(agent_id)), capabilities=True))


def _delete_agent(model: AdoModel, req: Request, pool_id: str, agent_id: str) -> Response:
    model.remove_agent(int(pool_id), int(agent_id))
    return Response(204)


def _job_requests(model: AdoModel, req: Request, pool_id: str) -> Response:
    pid = int(pool_id)
    jobs = model.unfinished_jobs(pid)
    if req.query.get("completedRequestCount") != "0":
        jobs = model.recent_finished_jobs(pid) + jobs
    # The SDKs' getAgentRequestsForAgent / ForPlan filters.
    if req.query.get("agentId"):
        agent_id = int(req.query["agentId"])
        jobs = [j for j in jobs if j.reserved_agent == agent_id]
    if req.query.get("planId"):
        plan = req.query["planId"].lower()
        jobs = [j for j in jobs if j.plan_id.lower() == plan]
    if "$top" in req.query:
        # The real service drops matchedAgents and caps the page at 200 when $top is given.
        return _page([job_json(model, j, matched=False) for j in jobs], req.query, cap=200)
    # Each pool's jobs with the same demands match the same agents: their list is built and encoded once.
    memo: MatchedMemo = {}
    value = [job_json(model, j, memo=memo) for j in jobs]
    return Response(200, {"count": len(value), "value": value})


def _resource_usage(model: AdoModel, req: Request) -> Response:
    limit = model.parallel_limit
    if limit is None:
        # Not verified how a real org answers without self-hosted limits data; a 404 keeps clients honest
        # about treating the limit as optional.
        raise EmulatorError(404, "ResourceLimitNotFoundException", "No resource limit found for tag Private.")
    running = model.running_jobs()
    body: JSON = {
        "resourceLimit": {
            "resourceLimitsData": {"FreeCount": "1", "PurchasedCount": str(max(0, limit - 1))},
            "hostId": model.host_id,
            "parallelismTag": "Private",
            "isHosted": False,
            "totalCount": limit,
            "isPremium": False,
            "failedToReachAllProviders": False,
        },
        "usedCount": len(running),
    }
    if _flag(req.query, "includeRunningRequests"):
        body["runningRequests"] = [job_json(model, j, matched=False) for j in running]
    return Response(200, body)


def _project(model: AdoModel, req: Request, project: str) -> Response:
    return Response(200, project_json(model.project(project)))


# -- environments and VM resources -----------------------------------------------------------------------


def _environments(model: AdoModel, req: Request, project: str) -> Response:
    envs = model.environments(project, req.query.get("name"))
    return _page([environment_json(model, e) for e in envs], req.query)


def _environment(model: AdoModel, req: Request, project: str, env_id: str) -> Response:
    env = model.environment(project, int(env_id))
    expand = "resourcereferences" in req.query.get("expands", "").lower()
    return Response(200, environment_json(model, env, resources=expand))


def _add_environment(model: AdoModel, req: Request, project: str) -> Response:
    body = req.body or {}
    name = str(body.get("name", "")).strip()
    if not name:
        raise EmulatorError(
            400,
            "ArgumentNullException",
            "Value cannot be null. Parameter name: name",
            "System.ArgumentNullException",
        )
    env_id = model.create_environment(project, name, description=str(body.get("description") or ""))
    return Response(200, environment_json(model, model.environment(project, env_id)))


def _update_environment(model: AdoModel, req: Request, project: str, env_id: str) -> Response:
    env = model.environment(project, int(env_id))
    body = req.body or {}
    with model.lock:
        if str(body.get("name") or "").strip():
            env.name = str(body["name"]).strip()
        if body.get("description") is not None:
            env.description = str(body["description"])
    return Response(200, environment_json(model, env))


def _delete_environment(model: AdoModel, req: Request, project: str, env_id: str) -> Response:
    model.delete_environment(project, int(env_id))
    return Response(204)


VMS = "/{org}/{project}/_apis/pipelines/environments/{env_id}/providers/virtualmachines"


def _vm_pool(model: AdoModel, req: Request, project: str, env_id: str) -> Response:
    env = model.environment(project, int(env_id))
    return Response(200, pool_reference_json(model.pool(env.pool_id)))


def _vms(model: AdoModel, req: Request, project: str, env_id: str) -> Response:
    env = model.environment(project, int(env_id))
    resources = model.vm_resources(env.id)
    if "name" in req.query:
        resources = [r for r in resources if r.name.lower() == req.query["name"].lower()]
    if "tags" in req.query:
        wanted = {t.strip().lower() for t in req.query["tags"].split(",") if t.strip()}
        resources = [r for r in resources if wanted <= {t.lower() for t in r.tags}]
    return _page([vm_resource_json(model, env, r) for r in resources], req.query)


def _add_vm(model: AdoModel, req: Request, project: str, env_id: str) -> Response:
    env = model.environment(project, int(env_id))
    spec = (req.body or {}).get("virtualMachineResource") or {}
    # A registration over REST: the agent is offline until its listener connects, as on the service.
    resource_id, _agent = model.register_vm(
        env.id, str(spec.get("name", "")), list(spec.get("tags") or []), online=False
    )
    resource = next(r for r in model.vm_resources(env.id) if r.id == resource_id)
    return Response(200, vm_resource_json(model, env, resource))


def _update_vm(model: AdoModel, req: Request, project: str, env_id: str) -> Response:
    env = model.environment(project, int(env_id))
    body = req.body or {}
    resource = next((r for r in model.vm_resources(env.id) if r.id == body.get("id")), None)
    if resource is None:
        raise EmulatorError(404, "EnvironmentResourceNotFoundException", f"Resource {body.get('id')} not found.")
    with model.lock:
        if "tags" in body:
            resource.tags = [str(t) for t in body["tags"]]
    return Response(200, vm_resource_json(model, env, resource))


def _vm(model: AdoModel, req: Request, project: str, env_id: str, resource_id: str) -> Response:
    env = model.environment(project, int(env_id))
    return Response(200, vm_resource_json(model, env, model.vm_resource(env.id, int(resource_id))))


def _update_vm_by_id(model: AdoModel, req: Request, project: str, env_id: str, resource_id: str) -> Response:
    env = model.environment(project, int(env_id))
    resource = model.vm_resource(env.id, int(resource_id))
    body = req.body or {}
    with model.lock:
        if "tags" in body:
            resource.tags = [str(t) for t in body["tags"]]
    return Response(200, vm_resource_json(model, env, resource))


def _delete_vm(model: AdoModel, req: Request, project: str, env_id: str, resource_id: str) -> Response:
    env = model.environment(project, int(env_id))
    model.delete_vm_resource(env.id, int(resource_id))
    return Response(204)


# -- service hooks ------------------------------------------------------------------------------------

HOOKS = "/{org}/_apis/hooks/subscriptions"


def _create_subscription(hooks: HookService, req: Request) -> Response:
    return Response(200, hooks.create(req.body or {}).to_json())


def _subscriptions(hooks: HookService, req: Request) -> Response:
    value = [sub.to_json() for sub in hooks.subscriptions.values()]
    return Response(200, {"count": len(value), "value": value})


def _subscription(hooks: HookService, req: Request, subscription_id: str) -> Response:
    return Response(200, hooks.get(subscription_id).to_json())


def _update_subscription(hooks: HookService, req: Request, subscription_id: str) -> Response:
    return Response(200, hooks.update(subscription_id, req.body or {}).to_json())


def _delete_subscription(hooks: HookService, req: Request, subscription_id: str) -> Response:
    hooks.delete(subscription_id)
    return Response(204)


# -- the location service -------------------------------------------------------------------------------


def _options(model: AdoModel, req: Request) -> Response:
    value = [location.to_json() for location in all_locations()]
    return Response(200, {"count": len(value), "value": value})


def _area_options(model: AdoModel, req: Request, area: str) -> Response:
    value = [location.to_json() for location in area_locations(area)]
    return Response(200, {"count": len(value), "value": value})


def _resource_areas(model: AdoModel, req: Request) -> Response:
    url = req.base_url + "/" + model.org
    value = [{"id": area_id, "name": name, "locationUrl": url + "/"} for area_id, name in RESOURCE_AREAS.items()]
    return Response(200, {"count": len(value), "value": value})


def _resource_area(model: AdoModel, req: Request, area_id: str) -> Response:
    name = RESOURCE_AREAS.get(area_id.lower())
    if name is None:
        raise EmulatorError(
            404,
            "ResourceAreaNotFoundException",
            f"Resource area {area_id} not found.",
            "Microsoft.VisualStudio.Services.Location.ResourceAreaNotFoundException",
        )
    return Response(200, {"id": area_id.lower(), "name": name, "locationUrl": f"{req.base_url}/{model.org}/"})


def _connection_data(model: AdoModel, req: Request) -> Response:
    user = {
        "id": "8c8c7d32-6b1b-47f4-b2e9-30b477b5ab3d",
        "descriptor": "emulated-user",
        "providerDisplayName": "Emulated User",
        "isActive": True,
        "properties": {"Account": {"$type": "System.String", "$value": "emulated@example.com"}},
    }
    return Response(
        200,
        {
            "authenticatedUser": user,
            "authorizedUser": user,
            "instanceId": model.host_id,
            "deploymentId": model.host_id,
            "deploymentType": "hosted",
            "locationServiceData": {
                "serviceOwner": "00025394-6065-48ca-87d9-7f5672854ef7",
                "defaultAccessMappingMoniker": "PublicAccessMapping",
                "lastChangeId": 1,
                "lastChangeId64": 1,
            },
        },
    )


# -- the route table --------------------------------------------------------------------------------------

ENVIRONMENT_AREAS = (("pipelines", L.PIPELINE_ENVIRONMENTS), ("distributedtask", L.ENVIRONMENTS))


def ado_routes(model: AdoModel, hooks: HookService) -> list[Route]:
    """Every ADO route, in matching order (the first that fits a request serves it)."""

    def on(
        method: str, template: str, location: Location, handler: Callable[..., Response], owner: object = model
    ) -> Route:
        # The handler's first argument is what it serves: the model, or the hook service for subscriptions.
        return Route(method, template, partial(handler, owner), location)

    routes = [
        on("GET", ORG + "/pools", L.POOLS, _pools),
        on("GET", ORG + "/pools/{pool_id}", L.POOLS, _pool),
        on("POST", ORG + "/pools", L.POOLS, _add_pool),
        on("PATCH", ORG + "/pools/{pool_id}", L.POOLS, _update_pool),
        on("GET", ORG + "/pools/{pool_id}/agents", L.AGENTS, _agents),
        on("GET", ORG + "/pools/{pool_id}/agents/{agent_id}", L.AGENTS, _agent),
        on("POST", ORG + "/pools/{pool_id}/agents", L.AGENTS, _add_agent),
        on("PUT", ORG + "/pools/{pool_id}/agents/{agent_id}", L.AGENTS, _replace_agent),
        on("PATCH", ORG + "/pools/{pool_id}/agents/{agent_id}", L.AGENTS, _update_agent),
        on("DELETE", ORG + "/pools/{pool_id}/agents/{agent_id}", L.AGENTS, _delete_agent),
        on("GET", ORG + "/pools/{pool_id}/jobrequests", L.JOB_REQUESTS, _job_requests),
        on("GET", ORG + "/resourceusage", L.RESOURCE_USAGE, _resource_usage),
        on("GET", "/{org}/_apis/projects", L.PROJECTS, _projects),
        on("GET", "/{org}/_apis/projects/{project}", L.PROJECTS, _project),
        on("GET", "/{org}/{project}/_apis/distributedtask/queues", L.QUEUES, _queues),
        on("GET", "/{org}/{project}/_apis/distributedtask/queues/{queue_id}", L.QUEUES, _queue),
    ]
    for area, location in ENVIRONMENT_AREAS:
        base = "/{org}/{project}/_apis/" + area + "/environments"
        routes += [
            on("GET", base, location, _environments),
            on("POST", base, location, _add_environment),
            on("GET", base + "/{env_id}", location, _environment),
            on("PATCH", base + "/{env_id}", location, _update_environment),
            on("DELETE", base + "/{env_id}", location, _delete_environment),
        ]
    routes += [
        on("GET", VMS + "/pool", L.VM_POOL, _vm_pool),
        on("GET", VMS, L.VM_RESOURCES, _vms),
        on("POST", VMS, L.VM_RESOURCES, _add_vm),
        on("PUT", VMS, L.VM_RESOURCES, _update_vm),
        on("PATCH", VMS, L.VM_RESOURCES, _update_vm),
        on("GET", VMS + "/{resource_id}", L.VM_RESOURCES, _vm),
        on("PATCH", VMS + "/{resource_id}", L.VM_RESOURCES, _update_vm_by_id),
        on("DELETE", VMS + "/{resource_id}", L.VM_RESOURCES, _delete_vm),
        on("POST", HOOKS, L.SUBSCRIPTIONS, _create_subscription, hooks),
        on("GET", HOOKS, L.SUBSCRIPTIONS, _subscriptions, hooks),
        on("GET", HOOKS + "/{subscription_id}", L.SUBSCRIPTIONS, _subscription, hooks),
        on("PUT", HOOKS + "/{subscription_id}", L.SUBSCRIPTIONS, _update_subscription, hooks),
        on("DELETE", HOOKS + "/{subscription_id}", L.SUBSCRIPTIONS, _delete_subscription, hooks),
        on("OPTIONS", "/{org}/_apis", L.RESOURCE_AREAS, _options),
        on("OPTIONS", "/{org}/_apis/{area}", L.RESOURCE_AREAS, _area_options),
        on("GET", "/{org}/_apis/resourceAreas", L.RESOURCE_AREAS, _resource_areas),
        on("GET", "/{org}/_apis/resourceAreas/{area_id}", L.RESOURCE_AREAS, _resource_area),
        on("GET", "/{org}/_apis/connectionData", L.CONNECTION_DATA, _connection_data),
    ]
    return routes
