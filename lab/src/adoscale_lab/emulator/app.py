"""The HTTP layer: a WSGI application that serves the model with the real service's wire behaviour.

`EmulatorApp` is where the emulator is wired: it builds the hook service on the model's events and one
router from the ADO API's and the admin API's route tables, then does what every ADO request shares
(authentication, api-version, faults, errors, the request log) around the handler the router picks.
"""

from __future__ import annotations

import base64
import hmac
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

from adoscale_lab.emulator.admin import PREFIX as ADMIN_PREFIX
from adoscale_lab.emulator.admin import AdminContext, admin_routes, not_found
from adoscale_lab.emulator.api import ado_routes
from adoscale_lab.emulator.errors import EmulatorError
from adoscale_lab.emulator.faults import Faults
from adoscale_lab.emulator.hooks import HookService
from adoscale_lab.emulator.locations import check_version
from adoscale_lab.emulator.messages import LoggedRequest, Request, Response
from adoscale_lab.emulator.model import AdoModel
from adoscale_lab.emulator.router import Router
from adoscale_lab.emulator.scopes import granted, required_scope
from adoscale_lab.emulator.wire import encode, error_envelope

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


class CutShortError(Exception):
    """Raised mid-answer on purpose: the server closes the connection without sending more.

    Not a ConnectionError: wsgiref treats those as the client's doing and would keep the connection open.
    """


def _error(exc: EmulatorError) -> Response:
    return Response(exc.status, error_envelope(exc.type_key, exc.message, exc.type_name))


def _lacks_scope() -> Response:
    """A PAT the service knows, without the scope the call needs: 401 TF400813 as JSON (`emulator.scopes`; not
    the sign-in page, which answers a PAT it does not know). As the service's, the answer does not name the
    scope."""
    return Response(
        401,
        error_envelope(
            "UnauthorizedRequestException",
            "TF400813: The user 'emulated-user' is not authorized to access this resource.",
            _FRAMEWORK + "UnauthorizedRequestException",
        ),
    )


# -- the WSGI application ------------------------------------------------------------------------------

REQUEST_LOG_KEPT = 10_000


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
        # The one route table: admin routes first, so that a path under the admin prefix never reaches an
        # ADO route whose `{org}` happens to match `_emulator`.
        admin = AdminContext(model, self.faults, self.hooks, self.requests)
        self.router = Router([*admin_routes(admin), *ado_routes(model, self.hooks)])

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
        found = self.router.match(req.method, req.path)
        if req.path == ADMIN_PREFIX or req.path.startswith(ADMIN_PREFIX + "/"):
            # The admin API has no authentication, api-version or faults: it drives the emulator.
            if found is None or found[0].location is not None:
                return not_found(req)
            return found[0].endpoint(req, **found[1])
        if not self._authenticated(req.headers):
            return self._refuse(req)
        self.model.tick()
        route, params = found if found is not None else (None, {})
        location = route.location if route is not None else None
        if route is None or location is None:
            return Response(
                404,
                error_envelope(
                    "RouteNotFoundException",
                    f"No route for {req.method} {req.path}.",
                    _FRAMEWORK + "RouteNotFoundException",
                ),
            )
        if params.pop("org", self.model.org).lower() != self.model.org.lower():
            return Response(
                404,
                error_envelope(
                    "OrganizationNotFoundException",
                    "Organization not found.",
                    _FRAMEWORK + "OrganizationNotFoundException",
                ),
            )
        req.route = route.template
        if not granted(self.model.pat_scopes, required_scope(req.method, location)):
            return _lacks_scope()
        self.model.stats.total += 1
        self.model.stats.by_route[(route.method, route.template)] += 1
        try:
            check_version(location, req.query.get("api-version") or _accept_version(req.headers))
        except EmulatorError as exc:
            return _error(exc)
        fault = self._fault(req)
        if fault is not None:
            return fault
        try:
            response = route.endpoint(req, **params)
        except EmulatorError as exc:
            return _error(exc)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # A malformed id, query value or body: the service answers 400, never a stack trace.
            return Response(
                400,
                error_envelope(
                    "ArgumentException", f"Invalid argument: {type(exc).__name__}.", "System.ArgumentException"
                ),
            )
        self._shape(req, response)
        return response

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
            error_envelope(
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
                error_envelope(
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
                error_envelope(
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
                error_envelope(
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
            payload = encode(response.body)
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
