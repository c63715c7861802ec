"""The HTTP layer: a WSGI application that serves the model with the real service's wire behaviour."""

from __future__ import annotations

import base64
import hmac
import itertools
import json
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from adoscale.emulator import wire
from adoscale.emulator.demands import ado_satisfies
from adoscale.emulator.entities import matchable_capabilities
from adoscale.emulator.errors import EmulatorError
from adoscale.emulator.hooks import HookService
from adoscale.emulator.locations import RESOURCE_AREAS, L, Location, all_locations, check_version
from adoscale.emulator.model import AdoModel

JSON = dict[str, Any]
_FRAMEWORK = "Microsoft.TeamFoundation.Framework.Server."
StartResponse = Callable[..., Any]

SIGN_IN_PAGE = (
    "<!DOCTYPE html><html><head><title>Azure DevOps Services | Sign In</title></head>"
    "<body><p>Sign in to your account to continue to Azure DevOps.</p></body></html>"
)
STATUS_TEXT = {
    200: "OK",
    201: "Created",
    203: "Non-Authoritative Information",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class FaultRule:
    """Faults for requests whose path contains `route`; each rate is a probability per request.

    `drip_interval_s`: send the answer one byte every that many seconds. `hang`: accept the request and
    never answer (until the server shuts down). `repeat_continuation_token`: every page of a list answers
    the same `x-ms-continuationtoken`. `truncated_body`: announce the whole body, send half, close.
    """

    route: str = ""
    error_5xx: float = 0.0
    throttle_429: float = 0.0
    retry_after_s: float = 1.0
    rate_limit_delay: float = 0.0
    latency_s: float = 0.0
    drip_interval_s: float = 0.0
    hang: bool = False
    repeat_continuation_token: bool = False
    truncated_body: bool = False


@dataclass
class Faults:
    """Seeded fault injection; `rules` may be replaced at run time (e.g. to make ADO recover)."""

    seed: int = 0
    rules: list[FaultRule] = field(default_factory=list)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def rule_for(self, path: str) -> FaultRule | None:
        return next((rule for rule in self.rules if rule.route in path), None)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    base_url: str = "http://127.0.0.1"
    route: str | None = None
    fault: str | None = None
    app: Any = None  # the EmulatorApp serving it, for handlers that need more than the model


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    html: str | None = None
    # How the bytes go out (fault injection): dripped, never, or cut short.
    drip_interval_s: float = 0.0
    hang: bool = False
    truncated: bool = False


class CutShortError(Exception):
    """Raised mid-answer on purpose: the server closes the connection without sending more.

    Not a ConnectionError: wsgiref treats those as the client's doing and would keep the connection open.
    """


def _error(exc: EmulatorError) -> Response:
    return Response(exc.status, wire.error_envelope(exc.type_key, exc.message, exc.type_name))


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


Handler = Callable[..., Response]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    template: str
    location: Location
    handler: Handler


_ROUTES: list[Route] = []


def route(method: str, template: str, location: Location) -> Callable[[Handler], Handler]:
    """Register a handler; `{name}` segments become keyword arguments. `location` decides the api-versions."""
    pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "/?$", re.IGNORECASE)

    def register(handler: Handler) -> Handler:
        _ROUTES.append(Route(method, pattern, template, location, handler))
        return handler

    return register


# -- pools and agents --------------------------------------------------------------------------------

ORG = "/{org}/_apis/distributedtask"


@route("GET", ORG + "/pools", L.POOLS)
def _pools(model: AdoModel, req: Request) -> Response:
    pools = model.pools(req.query.get("poolName"), req.query.get("poolType"))
    if "poolIds" in req.query:
        wanted = {int(x) for x in req.query["poolIds"].split(",") if x}
        pools = [p for p in pools if p.id in wanted]
    return Response(200, {"count": len(pools), "value": [wire.pool_json(model, p) for p in pools]})


@route("GET", ORG + "/pools/{pool_id}", L.POOLS)
def _pool(model: AdoModel, req: Request, pool_id: str) -> Response:
    return Response(200, wire.pool_json(model, model.pool(int(pool_id))))


def _agent_flags(req: Request) -> dict[str, bool]:
    return {
        "capabilities": _flag(req.query, "includeCapabilities"),
        "assigned_request": _flag(req.query, "includeAssignedRequest"),
        "last_completed": _flag(req.query, "includeLastCompletedRequest"),
    }


@route("GET", ORG + "/pools/{pool_id}/agents", L.AGENTS)
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
    value = [wire.agent_json(model, a, **flags) for a in agents]
    return Response(200, {"count": len(value), "value": value})


@route("GET", ORG + "/pools/{pool_id}/agents/{agent_id}", L.AGENTS)
def _agent(model: AdoModel, req: Request, pool_id: str, agent_id: str) -> Response:
    agent = model.agent(int(pool_id), int(agent_id))
    return Response(200, wire.agent_json(model, agent, **_agent_flags(req)))


def _capabilities(body: JSON) -> dict[str, str]:
    return {str(k): str(v) for k, v in (body.get("systemCapabilities") or {}).items()}


@route("POST", ORG + "/pools/{pool_id}/agents", L.AGENTS)
def _add_agent(model: AdoModel, req: Request, pool_id: str) -> Response:
    body = req.body or {}
    agent_id = model.register_agent(
        int(pool_id), str(body.get("name", "")), _capabilities(body), online=False, enabled=True
    )
    return Response(200, wire.agent_json(model, model.agent(int(pool_id), agent_id), capabilities=True))


@route("PUT", ORG + "/pools/{pool_id}/agents/{agent_id}", L.AGENTS)
def _replace_agent(model: AdoModel, req: Request, pool_id: str, agent_id: str) -> Response:
    body = req.body or {}
    current = model.agent(int(pool_id), int(agent_id))
    model.register_agent(int(pool_id), current.name, _capabilities(body), online=False, replace=True)
    return Response(200, wire.agent_json(model, model.agent(int(pool_id), int(agent_id)), capabilities=True))


@route("PATCH", ORG + "/pools/{pool_id}/agents/{agent_id}", L.AGENTS)
def _update_agent(model: AdoModel, req: Request, pool_id: str, agent_id: str) -> Response:
    body = req.body or {}
    if "enabled" in body:
        model.set_agent_enabled(int(pool_id), int(agent_id), bool(body["enabled"]))
    if isinstance(body.get("userCapabilities"), dict):
        with model.lock:
            agent = model.agent(int(pool_id), int(agent_id))
            agent.user_capabilities = {str(k): str(v) for k, v in body["userCapabilities"].items()}
    return Response(200, wire.agent_json(model, model.agent(int(pool_id), int(agent_id)), capabilities=True))


@route("DELETE", ORG + "/pools/{pool_id}/agents/{agent_id}", L.AGENTS)
def _delete_agent(model: AdoModel, req: Request, pool_id: str, agent_id: str) -> Response:
    model.remove_agent(int(pool_id), int(agent_id))
    return Response(204)


@route("GET", ORG + "/pools/{pool_id}/jobrequests", L.JOB_REQUESTS)
def _job_requests(model: AdoModel, req: Request, pool_id: str) -> Response:
    pid = int(pool_id)
    jobs = model.unfinished_jobs(pid)
    if req.query.get("completedRequestCount") != "0":
        jobs = model.recent_finished_jobs(pid) + jobs
    if "$top" in req.query:
        # The real service drops matchedAgents and caps the page at 200 when $top is given.
        return _page([wire.job_json(model, j, matched=False) for j in jobs], req.query, cap=200)
    value = [wire.job_json(model, j) for j in jobs]
    return Response(200, {"count": len(value), "value": value})


@route("GET", ORG + "/resourceusage", L.RESOURCE_USAGE)
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
        body["runningRequests"] = [wire.job_json(model, j, matched=False) for j in running]
    return Response(200, body)


@route("GET", "/{org}/_apis/projects/{project}", L.PROJECTS)
def _project(model: AdoModel, req: Request, project: str) -> Response:
    proj = model.project(project)
    return Response(200, {"id": proj.id, "name": proj.name, "state": "wellFormed", "visibility": "private"})


# -- environments and VM resources -----------------------------------------------------------------------


def _environments(model: AdoModel, req: Request, project: str) -> Response:
    envs = model.environments(project, req.query.get("name"))
    return _page([wire.environment_json(model, e) for e in envs], req.query)


def _environment(model: AdoModel, req: Request, project: str, env_id: str) -> Response:
    env = model.environment(project, int(env_id))
    expand = "resourcereferences" in req.query.get("expands", "").lower()
    return Response(200, wire.environment_json(model, env, resources=expand))


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
    return Response(200, wire.environment_json(model, model.environment(project, env_id)))


def _delete_environment(model: AdoModel, req: Request, project: str, env_id: str) -> Response:
    model.delete_environment(project, int(env_id))
    return Response(204)


for _area, _location in (("pipelines", L.PIPELINE_ENVIRONMENTS), ("distributedtask", L.ENVIRONMENTS)):
    _base = "/{org}/{project}/_apis/" + _area + "/environments"
    route("GET", _base, _location)(_environments)
    route("POST", _base, _location)(_add_environment)
    route("GET", _base + "/{env_id}", _location)(_environment)
    route("DELETE", _base + "/{env_id}", _location)(_delete_environment)


VMS = "/{org}/{project}/_apis/pipelines/environments/{env_id}/providers/virtualmachines"


@route("GET", VMS + "/pool", L.VM_POOL)
def _vm_pool(model: AdoModel, req: Request, project: str, env_id: str) -> Response:
    env = model.environment(project, int(env_id))
    return Response(200, wire.pool_reference_json(model.pool(env.pool_id)))


@route("GET", VMS, L.VM_RESOURCES)
def _vms(model: AdoModel, req: Request, project: str, env_id: str) -> Response:
    env = model.environment(project, int(env_id))
    resources = model.vm_resources(env.id)
    if "name" in req.query:
        resources = [r for r in resources if r.name.lower() == req.query["name"].lower()]
    if "tags" in req.query:
        wanted = {t.strip().lower() for t in req.query["tags"].split(",") if t.strip()}
        resources = [r for r in resources if wanted <= {t.lower() for t in r.tags}]
    return _page([wire.vm_resource_json(model, env, r) for r in resources], req.query)


@route("POST", VMS, L.VM_RESOURCES)
def _add_vm(model: AdoModel, req: Request, project: str, env_id: str) -> Response:
    env = model.environment(project, int(env_id))
    spec = (req.body or {}).get("virtualMachineResource") or {}
    resource_id, _agent = model.register_vm(env.id, str(spec.get("name", "")), list(spec.get("tags") or []))
    resource = next(r for r in model.vm_resources(env.id) if r.id == resource_id)
    return Response(200, wire.vm_resource_json(model, env, resource))


@route("PATCH", VMS, L.VM_RESOURCES)
@route("PUT", VMS, L.VM_RESOURCES)
def _update_vm(model: AdoModel, req: Request, project: str, env_id: str) -> Response:
    env = model.environment(project, int(env_id))
    body = req.body or {}
    resource = next((r for r in model.vm_resources(env.id) if r.id == body.get("id")), None)
    if resource is None:
        raise EmulatorError(404, "EnvironmentResourceNotFoundException", f"Resource {body.get('id')} not found.")
    with model.lock:
        if "tags" in body:
            resource.tags = [str(t) for t in body["tags"]]
    return Response(200, wire.vm_resource_json(model, env, resource))


@route("GET", VMS + "/{resource_id}", L.VM_RESOURCES)
def _vm(model: AdoModel, req: Request, project: str, env_id: str, resource_id: str) -> Response:
    env = model.environment(project, int(env_id))
    return Response(200, wire.vm_resource_json(model, env, model.vm_resource(env.id, int(resource_id))))


@route("PATCH", VMS + "/{resource_id}", L.VM_RESOURCES)
def _update_vm_by_id(model: AdoModel, req: Request, project: str, env_id: str, resource_id: str) -> Response:
    env = model.environment(project, int(env_id))
    resource = model.vm_resource(env.id, int(resource_id))
    body = req.body or {}
    with model.lock:
        if "tags" in body:
            resource.tags = [str(t) for t in body["tags"]]
    return Response(200, wire.vm_resource_json(model, env, resource))


@route("DELETE", VMS + "/{resource_id}", L.VM_RESOURCES)
def _delete_vm(model: AdoModel, req: Request, project: str, env_id: str, resource_id: str) -> Response:
    env = model.environment(project, int(env_id))
    model.delete_vm_resource(env.id, int(resource_id))
    return Response(204)


# -- service hooks ------------------------------------------------------------------------------------

HOOKS = "/{org}/_apis/hooks/subscriptions"


@route("POST", HOOKS, L.SUBSCRIPTIONS)
def _create_subscription(model: AdoModel, req: Request) -> Response:
    return Response(200, req.app.hooks.create(req.body or {}).to_json())


@route("GET", HOOKS, L.SUBSCRIPTIONS)
def _subscriptions(model: AdoModel, req: Request) -> Response:
    value = [sub.to_json() for sub in req.app.hooks.subscriptions.values()]
    return Response(200, {"count": len(value), "value": value})


@route("GET", HOOKS + "/{subscription_id}", L.SUBSCRIPTIONS)
def _subscription(model: AdoModel, req: Request, subscription_id: str) -> Response:
    return Response(200, req.app.hooks.get(subscription_id).to_json())


@route("DELETE", HOOKS + "/{subscription_id}", L.SUBSCRIPTIONS)
def _delete_subscription(model: AdoModel, req: Request, subscription_id: str) -> Response:
    req.app.hooks.delete(subscription_id)
    return Response(204)


# -- the location service -------------------------------------------------------------------------------


@route("OPTIONS", "/{org}/_apis", L.RESOURCE_AREAS)
def _options(model: AdoModel, req: Request) -> Response:
    value = [location.to_json() for location in all_locations()]
    return Response(200, {"count": len(value), "value": value})


@route("GET", "/{org}/_apis/resourceAreas", L.RESOURCE_AREAS)
def _resource_areas(model: AdoModel, req: Request) -> Response:
    url = req.base_url + "/" + model.org
    value = [{"id": area_id, "name": name, "locationUrl": url + "/"} for area_id, name in RESOURCE_AREAS.items()]
    return Response(200, {"count": len(value), "value": value})


@route("GET", "/{org}/_apis/resourceAreas/{area_id}", L.RESOURCE_AREAS)
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


@route("GET", "/{org}/_apis/connectionData", L.CONNECTION_DATA)
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


# -- the WSGI application ------------------------------------------------------------------------------

REQUEST_LOG_KEPT = 10_000
ADMIN_PREFIX = "/_emulator"


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request as the admin API shows it: never the headers, so never a credential."""

    seq: int
    at: float
    method: str
    path: str
    query: dict[str, str]
    status: int
    route: str | None
    fault: str | None

    def to_json(self) -> JSON:
        return {
            "seq": self.seq,
            "at": self.at,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "route": self.route,
            "fault": self.fault,
        }


class EmulatorApp:
    """WSGI callable: the admin API, authentication, api-version, faults, routing, then the handler."""

    def __init__(self, model: AdoModel, faults: Faults | None = None) -> None:
        self.model = model
        self.faults = faults or Faults()
        self.hooks = HookService(model.events, model.now)
        # Set when the server shuts down: a hanging or dripping answer stops at once.
        self.stopping = threading.Event()
        self.requests: deque[LoggedRequest] = deque(maxlen=REQUEST_LOG_KEPT)
        self._seq = itertools.count(1)
        self._log_lock = threading.Lock()

    def close(self) -> None:
        self.stopping.set()
        self.hooks.close()

    def _authenticated(self, headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(auth[6:].strip()).decode()
            except ValueError:
                return False
            return hmac.compare_digest(decoded.partition(":")[2], self.model.pat)
        return False

    def handle(self, req: Request) -> Response:
        req.app = self
        if req.path == ADMIN_PREFIX or req.path.startswith(ADMIN_PREFIX + "/"):
            from adoscale.emulator.admin import handle_admin

            return handle_admin(self, req)
        if not self._authenticated(req.headers):
            return self._refuse(req)
        self.model.tick()
        for entry in _ROUTES:
            match = entry.pattern.match(req.path)
            if not match or entry.method != req.method:
                continue
            params = match.groupdict()
            if params.pop("org", self.model.org).lower() != self.model.org.lower():
                return Response(
                    404,
                    wire.error_envelope(
                        "OrganizationNotFoundException",
                        "Organization not found.",
                        _FRAMEWORK + "OrganizationNotFoundException",
                    ),
                )
            req.route = entry.template
            self.model.stats.total += 1
            self.model.stats.by_route[(entry.method, entry.template)] += 1
            try:
                check_version(entry.location, req.query.get("api-version") or _accept_version(req.headers))
            except EmulatorError as exc:
                return _error(exc)
            fault = self._fault(req)
            if fault is not None:
                return fault
            try:
                response = entry.handler(self.model, req, **params)
            except EmulatorError as exc:
                return _error(exc)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                # A malformed id, query value or body: the service answers 400, never a stack trace.
                return Response(
                    400,
                    wire.error_envelope(
                        "ArgumentException", f"Invalid argument: {type(exc).__name__}.", "System.ArgumentException"
                    ),
                )
            self._shape(req, response)
            return response
        return Response(
            404,
            wire.error_envelope(
                "RouteNotFoundException",
                f"No route for {req.method} {req.path}.",
                _FRAMEWORK + "RouteNotFoundException",
            ),
        )

    @staticmethod
    def _refuse(req: Request) -> Response:
        if req.headers.get("x-tfs-fedauthredirect", "").lower() != "suppress":
            return Response(203, html=SIGN_IN_PAGE)
        if req.method == "OPTIONS":
            # The location service answers a refused credential with a bare 401 (no error envelope): the
            # SDK then raises its authentication error, as users of the real service report.
            return Response(401, headers={"WWW-Authenticate": 'Basic realm="https://dev.azure.com/"'})
        return Response(
            401,
            wire.error_envelope(
                "UnauthorizedRequestException",
                "TF400813: The user '' is not authorized to access this resource.",
                "Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException",
            ),
        )

    def _fault(self, req: Request) -> Response | None:
        rule = self.faults.rule_for(req.path)
        if rule is None:
            return None
        rng = self.faults.rng
        if rule.latency_s > 0:
            self.stopping.wait(rule.latency_s)
        roll = rng.random()
        if roll < rule.error_5xx:
            self.model.stats.faults["5xx"] += 1
            req.fault = "5xx"
            return Response(
                503,
                wire.error_envelope(
                    "ServiceUnavailableException",
                    "The service is temporarily unavailable.",
                    _FRAMEWORK + "ServiceUnavailableException",
                ),
            )
        if roll < rule.error_5xx + rule.throttle_429:
            self.model.stats.faults["429"] += 1
            req.fault = "429"
            return Response(
                429,
                wire.error_envelope(
                    "RequestBlockedException",
                    "TF400733: The request has been canceled: Request was blocked due to exceeding usage of "
                    "resource 'ATCPU' in namespace 'User'.",
                    "Microsoft.TeamFoundation.Framework.Server.RequestBlockedException",
                ),
                {"Retry-After": f"{rule.retry_after_s:g}"},
            )
        return None

    def _shape(self, req: Request, response: Response) -> None:
        """Faults applied to an answer the handler produced: rate-limit headers and how the bytes go out."""
        rule = self.faults.rule_for(req.path)
        if rule is None:
            return
        if rule.rate_limit_delay > 0 and self.faults.rng.random() < rule.rate_limit_delay:
            self.model.stats.faults["delay"] += 1
            req.fault = "delay"
            response.headers.update(
                {
                    "Retry-After": "1",
                    "X-RateLimit-Resource": "ATCPU",
                    "X-RateLimit-Delay": "0.500",
                    "X-RateLimit-Limit": "200",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(int(time.time()) + 300),
                }
            )
        listing = req.method == "GET" and isinstance(response.body, dict) and "value" in response.body
        if rule.repeat_continuation_token and listing:
            self.model.stats.faults["repeat_token"] += 1
            req.fault = "repeat_token"
            response.headers["x-ms-continuationtoken"] = "emulator-repeats-this-token"
        if rule.hang:
            self.model.stats.faults["hang"] += 1
            req.fault, response.hang = "hang", True
        elif rule.drip_interval_s > 0:
            self.model.stats.faults["drip"] += 1
            req.fault, response.drip_interval_s = "drip", rule.drip_interval_s
        elif rule.truncated_body:
            self.model.stats.faults["truncated"] += 1
            req.fault, response.truncated = "truncated", True

    def _log(self, req: Request, status: int) -> None:
        if req.path.startswith(ADMIN_PREFIX):
            return  # the log shows the traffic under test, not the test's own bookkeeping
        with self._log_lock:
            self.requests.append(
                LoggedRequest(
                    next(self._seq), time.time(), req.method, req.path, req.query, status, req.route, req.fault
                )
            )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        path = environ.get("PATH_INFO", "/")
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT')}"
        req = Request(environ["REQUEST_METHOD"], path, query, headers, None)
        req.base_url = f"{environ.get('wsgi.url_scheme', 'http')}://{host}"
        try:
            req.body = json.loads(raw) if raw else None
        except ValueError:
            response = Response(
                400,
                wire.error_envelope(
                    "InvalidJsonException", "The request body is not JSON.", _FRAMEWORK + "InvalidJsonException"
                ),
            )
        else:
            response = self.handle(req)
        self._log(req, response.status)
        return self._send(response, start_response)

    def _send(self, response: Response, start_response: StartResponse) -> Iterable[bytes]:
        status = f"{response.status} {STATUS_TEXT.get(response.status, 'Status')}"
        if response.html is not None:
            payload = response.html.encode()
            content_type = "text/html; charset=utf-8"
        elif response.status == 204 or response.body is None:
            payload = b""
            content_type = "application/json; charset=utf-8"
        else:
            payload = json.dumps(response.body, separators=(",", ":")).encode()
            content_type = "application/json; charset=utf-8; api-version=7.1"
        headers = [("Content-Type", content_type), ("Content-Length", str(len(payload)))]
        headers += list(response.headers.items())
        if response.hang:
            self.stopping.wait()  # never answers; the server's shutdown releases it
            raise CutShortError("emulator shutting down")  # closes the connection, sends nothing
        start_response(status, headers)
        if response.drip_interval_s > 0:
            return self._drip(payload, response.drip_interval_s)
        if response.truncated:
            return self._truncate(payload)
        return [payload]

    def _drip(self, payload: bytes, interval: float) -> Iterator[bytes]:
        for index in range(len(payload)):
            if self.stopping.wait(interval):
                raise CutShortError("emulator shutting down")  # ends the connection, not the server
            yield payload[index : index + 1]

    @staticmethod
    def _truncate(payload: bytes) -> Iterator[bytes]:
        yield payload[: len(payload) // 2]
        # Announced the whole length, sent half: abort so that the server closes the connection.
        raise CutShortError("truncated body (fault injection)")


def _accept_version(headers: dict[str, str]) -> str | None:
    match = re.search(r"api-version=([\w.\-]+)", headers.get("accept", ""))
    return match.group(1) if match else None


def make_app(model: AdoModel, faults: Faults | None = None) -> EmulatorApp:
    """The WSGI application for `model`; serve it with `serve`, or in-process with `httpx.WSGITransport`."""
    return EmulatorApp(model, faults)
