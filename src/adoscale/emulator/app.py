"""The HTTP layer: a WSGI application that serves the model with the real service's wire behaviour."""

from __future__ import annotations

import base64
import json
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from adoscale.emulator import wire
from adoscale.emulator.model import AdoModel, EmulatorError

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
    """Faults for requests whose path contains `route`; each rate is a probability per request."""

    route: str = ""
    error_5xx: float = 0.0
    throttle_429: float = 0.0
    retry_after_s: float = 1.0
    rate_limit_delay: float = 0.0
    latency_s: float = 0.0


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


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    html: str | None = None


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
_ROUTES: list[tuple[str, re.Pattern[str], str, bool, Handler]] = []


def route(method: str, template: str, *, preview: bool = False) -> Callable[[Handler], Handler]:
    """Register a handler; `{name}` segments become keyword arguments. `preview`: preview-only resource."""
    pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "/?$", re.IGNORECASE)

    def register(handler: Handler) -> Handler:
        _ROUTES.append((method, pattern, template, preview, handler))
        return handler

    return register


# -- pools and agents --------------------------------------------------------------------------------

ORG = "/{org}/_apis/distributedtask"


@route("GET", ORG + "/pools")
def _pools(model: AdoModel, req: Request) -> Response:
    pools = model.pools(req.query.get("poolName"), req.query.get("poolType"))
    if "poolIds" in req.query:
        wanted = {int(x) for x in req.query["poolIds"].split(",") if x}
        pools = [p for p in pools if p.id in wanted]
    return Response(200, {"count": len(pools), "value": [wire.pool_json(model, p) for p in pools]})


@route("GET", ORG + "/pools/{pool_id}")
def _pool(model: AdoModel, req: Request, pool_id: str) -> Response:
    return Response(200, wire.pool_json(model, model.pool(int(pool_id))))


def _agent_flags(req: Request) -> dict[str, bool]:
    return {
        "capabilities": _flag(req.query, "includeCapabilities"),
        "assigned_request": _flag(req.query, "includeAssignedRequest"),
        "last_completed": _flag(req.query, "includeLastCompletedRequest"),
    }


@route("GET", ORG + "/pools/{pool_id}/agents")
def _agents(model: AdoModel, req: Request, pool_id: str) -> Response:
    agents = model.agents(int(pool_id))
    name = req.query.get("agentName")
    if name is not None:
        agents = [a for a in agents if a.name.lower() == name.lower()]
    flags = _agent_flags(req)
    value = [wire.agent_json(model, a, **flags) for a in agents]
    return Response(200, {"count": len(value), "value": value})


@route("GET", ORG + "/pools/{pool_id}/agents/{agent_id}")
def _agent(model: AdoModel, req: Request, pool_id: str, agent_id: str) -> Response:
    agent = model.agent(int(pool_id), int(agent_id))
    return Response(200, wire.agent_json(model, agent, **_agent_flags(req)))


def _capabilities(body: JSON) -> dict[str, str]:
    return {str(k): str(v) for k, v in (body.get("systemCapabilities") or {}).items()}


@route("POST", ORG + "/pools/{pool_id}/agents")
def _add_agent(model: AdoModel, req: Request, pool_id: str) -> Response:
    body = req.body or {}
    agent_id = model.register_agent(
        int(pool_id), str(body.get("name", "")), _capabilities(body), online=False, enabled=True
    )
    return Response(200, wire.agent_json(model, model.agent(int(pool_id), agent_id), capabilities=True))


@route("PUT", ORG + "/pools/{pool_id}/agents/{agent_id}")
def _replace_agent(model: AdoModel, req: Request, pool_id: str, agent_id: str) -> Response:
    body = req.body or {}
    current = model.agent(int(pool_id), int(agent_id))
    model.register_agent(int(pool_id), current.name, _capabilities(body), online=False, replace=True)
    return Response(200, wire.agent_json(model, model.agent(int(pool_id), int(agent_id)), capabilities=True))


@route("PATCH", ORG + "/pools/{pool_id}/agents/{agent_id}")
def _update_agent(model: AdoModel, req: Request, pool_id: str, agent_id: str) -> Response:
    body = req.body or {}
    if "enabled" in body:
        model.set_agent_enabled(int(pool_id), int(agent_id), bool(body["enabled"]))
    return Response(200, wire.agent_json(model, model.agent(int(pool_id), int(agent_id)), capabilities=True))


@route("DELETE", ORG + "/pools/{pool_id}/agents/{agent_id}")
def _delete_agent(model: AdoModel, req: Request, pool_id: str, agent_id: str) -> Response:
    model.remove_agent(int(pool_id), int(agent_id))
    return Response(204)


@route("GET", ORG + "/pools/{pool_id}/jobrequests", preview=True)
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


@route("GET", ORG + "/resourceusage", preview=True)
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


@route("GET", "/{org}/_apis/projects/{project}")
def _project(model: AdoModel, req: Request, project: str) -> Response:
    proj = model.project(project)
    return Response(200, {"id": proj.id, "name": proj.name, "state": "wellFormed", "visibility": "private"})


# -- environments and VM resources -----------------------------------------------------------------------

for _area in ("pipelines", "distributedtask"):

    @route("GET", "/{org}/{project}/_apis/" + _area + "/environments")
    def _environments(model: AdoModel, req: Request, project: str) -> Response:
        envs = model.environments(project, req.query.get("name"))
        return _page([wire.environment_json(model, e) for e in envs], req.query)

    @route("GET", "/{org}/{project}/_apis/" + _area + "/environments/{env_id}")
    def _environment(model: AdoModel, req: Request, project: str, env_id: str) -> Response:
        return Response(200, wire.environment_json(model, model.environment(project, int(env_id))))


VMS = "/{org}/{project}/_apis/pipelines/environments/{env_id}/providers/virtualmachines"


@route("GET", VMS + "/pool", preview=True)
def _vm_pool(model: AdoModel, req: Request, project: str, env_id: str) -> Response:
    env = model.environment(project, int(env_id))
    return Response(200, wire.pool_reference_json(model.pool(env.pool_id)))


@route("GET", VMS, preview=True)
def _vms(model: AdoModel, req: Request, project: str, env_id: str) -> Response:
    env = model.environment(project, int(env_id))
    resources = model.vm_resources(env.id)
    if "name" in req.query:
        resources = [r for r in resources if r.name.lower() == req.query["name"].lower()]
    if "tags" in req.query:
        wanted = {t.strip().lower() for t in req.query["tags"].split(",") if t.strip()}
        resources = [r for r in resources if wanted <= {t.lower() for t in r.tags}]
    return _page([wire.vm_resource_json(model, env, r) for r in resources], req.query)


@route("POST", VMS, preview=True)
def _add_vm(model: AdoModel, req: Request, project: str, env_id: str) -> Response:
    env = model.environment(project, int(env_id))
    spec = (req.body or {}).get("virtualMachineResource") or {}
    resource_id, _agent = model.register_vm(env.id, str(spec.get("name", "")), list(spec.get("tags") or []))
    resource = next(r for r in model.vm_resources(env.id) if r.id == resource_id)
    return Response(200, wire.vm_resource_json(model, env, resource))


@route("PATCH", VMS, preview=True)
@route("PUT", VMS, preview=True)
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


@route("DELETE", VMS + "/{resource_id}", preview=True)
def _delete_vm(model: AdoModel, req: Request, project: str, env_id: str, resource_id: str) -> Response:
    env = model.environment(project, int(env_id))
    model.delete_vm_resource(env.id, int(resource_id))
    return Response(204)


# -- the WSGI application ------------------------------------------------------------------------------


class EmulatorApp:
    """WSGI callable: authentication, faults, routing, then the handler."""

    def __init__(self, model: AdoModel, faults: Faults | None = None) -> None:
        self.model = model
        self.faults = faults or Faults()

    def _authenticated(self, headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(auth[6:].strip()).decode()
            except ValueError:
                return False
            return decoded.partition(":")[2] == self.model.pat
        return False

    def handle(self, req: Request) -> Response:
        if not self._authenticated(req.headers):
            if req.headers.get("x-tfs-fedauthredirect", "").lower() == "suppress":
                return Response(
                    401,
                    wire.error_envelope(
                        "UnauthorizedRequestException",
                        "TF400813: The user '' is not authorized to access this resource.",
                        "Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException",
                    ),
                )
            return Response(203, html=SIGN_IN_PAGE)
        for method, pattern, template, preview, handler in _ROUTES:
            match = pattern.match(req.path)
            if not match or method != req.method:
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
            self.model.stats.total += 1
            self.model.stats.by_route[(method, template)] += 1
            version = req.query.get("api-version") or _accept_version(req.headers)
            if preview and version and "preview" not in version.lower():
                return Response(
                    400,
                    wire.error_envelope(
                        "VssInvalidPreviewVersionException",
                        f'The requested version "{version}" of the resource is under preview. The -preview flag '
                        f'must be supplied in the api-version for such requests. For example: "{version}-preview"',
                        "Microsoft.VisualStudio.Services.WebApi.VssInvalidPreviewVersionException",
                    ),
                )
            fault = self._fault(req.path)
            if fault is not None:
                return fault
            try:
                response = handler(self.model, req, **params)
            except EmulatorError as exc:
                return _error(exc)
            self._rate_limit_headers(req.path, response)
            return response
        return Response(
            404,
            wire.error_envelope(
                "RouteNotFoundException",
                f"No route for {req.method} {req.path}.",
                _FRAMEWORK + "RouteNotFoundException",
            ),
        )

    def _fault(self, path: str) -> Response | None:
        rule = self.faults.rule_for(path)
        if rule is None:
            return None
        rng = self.faults.rng
        if rule.latency_s > 0:
            time.sleep(rule.latency_s)
        roll = rng.random()
        if roll < rule.error_5xx:
            self.model.stats.faults["5xx"] += 1
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

    def _rate_limit_headers(self, path: str, response: Response) -> None:
        rule = self.faults.rule_for(path)
        if rule is None or rule.rate_limit_delay <= 0 or self.faults.rng.random() >= rule.rate_limit_delay:
            return
        self.model.stats.faults["delay"] += 1
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

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            response = Response(
                400,
                wire.error_envelope(
                    "InvalidJsonException", "The request body is not JSON.", _FRAMEWORK + "InvalidJsonException"
                ),
            )
        else:
            path = environ.get("PATH_INFO", "/")
            response = self.handle(Request(environ["REQUEST_METHOD"], path, query, headers, body))
        return self._send(response, start_response)

    @staticmethod
    def _send(response: Response, start_response: StartResponse) -> list[bytes]:
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
        start_response(status, headers)
        return [payload]


def _accept_version(headers: dict[str, str]) -> str | None:
    match = re.search(r"api-version=([\w.\-]+)", headers.get("accept", ""))
    return match.group(1) if match else None


def make_app(model: AdoModel, faults: Faults | None = None) -> EmulatorApp:
    """The WSGI application for `model`; serve it with `serve`, or in-process with `httpx.WSGITransport`."""
    return EmulatorApp(model, faults)
