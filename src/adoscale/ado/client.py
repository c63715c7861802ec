"""A typed, synchronous Azure DevOps REST client on httpx; small enough for a Lambda.

Authentication is a PAT as HTTP Basic with an empty user name, and every request says
`X-TFS-FedAuthRedirect: Suppress` so that a refused PAT gives 401 rather than a sign-in page (a 203 with
HTML is treated as a refusal all the same). Retries follow `RetryPolicy` inside a deadline per call.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from adoscale.ado.errors import (
    AdoAuthError,
    AdoConflictError,
    AdoError,
    AdoNotFoundError,
    AdoThrottledError,
    AdoTimeoutError,
    AdoUnavailableError,
    auth_error,
)
from adoscale.ado.matched_agents import decode_job_requests
from adoscale.ado.models import Agent, Environment, JobRequest, ParallelLimit, Pool, PoolReference, VmResource
from adoscale.ado.retry import RetryPolicy, parse_retry_after
from adoscale.secrets import redact, register_secret

log = logging.getLogger("adoscale.ado")

API = "7.1"
API_PREVIEW = "7.1-preview.1"
# An optional call must not hold up a pass: a short deadline, then carry on without it.
OPTIONAL_CALL_RETRY = RetryPolicy(deadline_s=3.0, base_s=0.2, cap_s=1.0)
PARALLEL_RETRY_AFTER_S = 900.0
# A list longer than this many pages is a service fault (or a loop), not data: no pool has that many agents.
MAX_PAGES = 200
# When X-RateLimit-Remaining falls below this share of X-RateLimit-Limit, space requests out by at least
# LOW_BUDGET_PACE_S: the service delays, then blocks (429), a client that keeps its pace.
LOW_BUDGET_SHARE = 0.1
LOW_BUDGET_PACE_S = 0.5

_agents = TypeAdapter(list[Agent])
_jobs = TypeAdapter(list[JobRequest])
_pools = TypeAdapter(list[Pool])
_environments = TypeAdapter(list[Environment])
_vms = TypeAdapter(list[VmResource])


@dataclass
class ClientStats:
    """Calls made (one per logical call, retries counted apart), for benchmarks and tests."""

    calls: int = 0
    requests: int = 0
    retries: int = 0
    by_route: Counter[str] = field(default_factory=Counter)


class AdoClient:
    """Azure DevOps REST for one organization."""

    def __init__(
        self,
        organization_url: str,
        pat: str,
        *,
        http: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        register_secret(pat)
        self.organization_url = organization_url.rstrip("/")
        self._http = http or httpx.Client(timeout=timeout)
        self._owns_http = http is None
        self._auth = httpx.BasicAuth("", pat)
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._parallel_unavailable_until: float | None = None
        self._timeout = timeout
        # The service asked us to wait (Retry-After on any answer, or a low rate-limit budget) until then.
        self._not_before = 0.0
        self._bounds = threading.local()
        self.stats = ClientStats()

    def __enter__(self) -> AdoClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    # -- transport -------------------------------------------------------------------------------

    def _url(self, path: str, project: str | None = None) -> str:
        scope = f"{self.organization_url}/{quote(project, safe='')}" if project else self.organization_url
        return f"{scope}/_apis/{path}"

    @contextmanager
    def bounded(self, seconds: float) -> Iterator[None]:
        """Every call made inside the block (retries, waits and body reads included) ends by `seconds` from now.

        A call started when the time is already up raises `AdoTimeoutError` without sending anything. Nested
        blocks keep the earlier end. The bound is per thread, so passes run in threads do not share it.
        """
        stack: list[float] = self._bounds.__dict__.setdefault("stack", [])
        end = self._clock() + max(0.0, seconds)
        if stack:
            end = min(end, stack[-1])
        stack.append(end)
        try:
            yield
        finally:
            stack.pop()

    def _bound(self) -> float | None:
        stack: list[float] = self._bounds.__dict__.get("stack", [])
        return stack[-1] if stack else None

    def _call(
        self,
        method: str,
        path: str,
        *,
        route: str,
        project: str | None = None,
        params: dict[str, str] | None = None,
        body: Any = None,
        api_version: str = API,
        retry: RetryPolicy | None = None,
    ) -> httpx.Response:
        """One logical call with retries, inside a total deadline: the policy's, cut short by `bounded`.

        Returns a 2xx response (never 203); raises AdoError otherwise, AdoTimeoutError when time ran out.
        """
        url = self._url(path, project)
        query = {**(params or {}), "api-version": api_version}
        headers = {"X-TFS-FedAuthRedirect": "Suppress", "Accept": "application/json"}
        policy = retry or self._retry
        self.stats.calls += 1
        self.stats.by_route[route] += 1
        started = self._clock()
        end = started + policy.deadline_s
        bound = self._bound()
        if bound is not None:
            end = min(end, bound)
        budget = end - started
        if budget <= 0:
            raise AdoTimeoutError(f"{method} {route}: not sent, the pass's time was already up", status=None, url=url)
        self._wait_for_service(method, route, end, budget, url)
        attempt = 0
        failure = ""
        while True:
            status: int | None
            retry_after: float | None = None
            remaining = end - self._clock()
            if remaining <= 0:
                raise AdoTimeoutError(
                    f"{method} {route}: gave up after {attempt} attempt(s) in {budget:.1f} s: {failure}",
                    url=url,
                )
            self.stats.requests += 1
            try:
                response = self._send(method, url, query, body, headers, remaining)
            except _OverdueError:
                raise AdoTimeoutError(f"{method} {route}: no complete answer within {budget:.1f} s", url=url) from None
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                if self._clock() >= end:
                    raise AdoTimeoutError(
                        f"{method} {route}: no complete answer within {budget:.1f} s ({type(exc).__name__})",
                        url=url,
                    ) from None
                status, failure = None, f"{type(exc).__name__}"
            else:
                status = response.status_code
                if status in (203, 401):
                    raise auth_error(status, url)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if 200 <= status < 300:
                    self._note_rate_limit(response, route, retry_after)
                    return response
                failure = _describe(response)
                if retry_after:
                    # Honoured on any answer: the next call waits too, even if this one gives up now.
                    self._not_before = max(self._not_before, self._clock() + retry_after)
                if not policy.should_retry(status):
                    raise _error_for(status, failure, response, url)
            now = self._clock()
            elapsed = now - started
            delay = policy.next_delay(attempt, elapsed=elapsed, rng=self._rng, status=status, retry_after=retry_after)
            if delay is not None and now + delay >= end:
                delay = None  # the pass's bound is nearer than the policy's deadline
            if delay is None:
                kind = AdoThrottledError if status == 429 else AdoUnavailableError
                raise kind(
                    f"{method} {route}: gave up after {attempt + 1} attempt(s) in {elapsed:.1f} s: {failure}",
                    status=status,
                    url=url,
                )
            self.stats.retries += 1
            log.debug("%s %s: %s; retrying in %.2f s", method, route, failure, delay)
            self._sleep(delay)
            attempt += 1

    def _wait_for_service(self, method: str, route: str, end: float, budget: float, url: str) -> None:
        """Honour an earlier Retry-After or rate-limit pacing, unless it would outlast this call."""
        wait = self._not_before - self._clock()
        if wait <= 0:
            return
        if self._clock() + wait >= end:
            raise AdoThrottledError(
                f"{method} {route}: Azure DevOps asked to wait {wait:.1f} s more, past this call's "
                f"{budget:.1f} s deadline",
                status=None,
                url=url,
            )
        log.debug("%s %s: waiting %.2f s as Azure DevOps asked", method, route, wait)
        self._sleep(wait)

    def _send(
        self, method: str, url: str, query: dict[str, str], body: Any, headers: dict[str, str], remaining: float
    ) -> httpx.Response:
        """One request whose headers and body must all arrive within `remaining` seconds.

        httpx's timeouts bound each read, not the whole answer: a body dripping a byte at a time would
        never end. So the body is streamed and the clock checked between chunks, every timeout is at most
        what remains, and a watchdog shuts the socket at the deadline so that a read blocked on a silent
        server wakes up at once.
        """
        deadline = self._clock() + remaining
        timeout = httpx.Timeout(max(0.001, min(self._timeout, remaining)))
        watchdog = _Watchdog()

        def trace(event: str, info: dict[str, Any]) -> None:
            # A new connection: watch it from the start, so that a slow connect plus a silent server
            # cannot add up past the deadline (a reused connection is watched once the answer starts).
            if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
                watchdog.arm(info.get("return_value"), deadline - self._clock())

        try:
            with self._http.stream(
                method,
                url,
                params=query,
                json=body,
                headers=headers,
                auth=self._auth,
                timeout=timeout,
                extensions={"trace": trace},
            ) as response:
                if not watchdog.armed:
                    watchdog.arm(response.extensions.get("network_stream"), deadline - self._clock())
                chunks: list[bytes] = []
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    if self._clock() > deadline:
                        raise _OverdueError
        except httpx.TransportError:
            if self._clock() >= deadline:
                raise _OverdueError from None
            raise
        finally:
            watchdog.cancel()
        # A decoded copy: the content is already inflated, so the encoding headers no longer apply.
        kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _ENCODING_HEADERS]
        return httpx.Response(response.status_code, headers=kept, content=b"".join(chunks), request=response.request)

    def _note_rate_limit(self, response: httpx.Response, route: str, retry_after: float | None) -> None:
        """Slow down when the service says so on a successful answer.

        Throttling starts as 200s carrying `Retry-After` and `X-RateLimit-*` before it becomes 429
        (Microsoft's rate-limit guidance): the next call waits out `Retry-After`, and a budget near zero
        spaces calls out by `X-RateLimit-Delay` (at least LOW_BUDGET_PACE_S).
        """
        delay = response.headers.get("X-RateLimit-Delay")
        remaining = response.headers.get("X-RateLimit-Remaining")
        limit = response.headers.get("X-RateLimit-Limit")
        low = False
        if remaining is not None and limit is not None:
            try:
                low = float(remaining) <= LOW_BUDGET_SHARE * float(limit)
            except ValueError:
                low = False
        pause = retry_after or 0.0
        if low:
            pause = max(pause, LOW_BUDGET_PACE_S, parse_retry_after(delay) or 0.0)
        if pause > 0:
            self._not_before = max(self._not_before, self._clock() + pause)
        if delay is not None or low or retry_after is not None:
            log.warning(
                "Azure DevOps is rate-limiting adoscale (%s): retry-after=%s delay=%s remaining=%s limit=%s "
                "resource=%s; next call in %.2f s",
                route,
                response.headers.get("Retry-After"),
                delay,
                remaining,
                limit,
                response.headers.get("X-RateLimit-Resource"),
                pause,
            )

    def _list(
        self,
        path: str,
        *,
        route: str,
        project: str | None = None,
        params: dict[str, str] | None = None,
        api_version: str = API,
    ) -> Iterator[Any]:
        """Items of a `{count, value}` list, following `x-ms-continuationtoken` to the last page."""
        query = dict(params or {})
        seen: set[str] = set()
        for _page in range(MAX_PAGES):
            response = self._call("GET", path, route=route, project=project, params=query, api_version=api_version)
            yield from _json(response).get("value", [])
            token = response.headers.get("x-ms-continuationtoken")
            if not token:
                return
            if token in seen:
                raise AdoError(f"GET {route}: Azure DevOps repeated continuation token {token[:40]!r}; stopped paging")
            seen.add(token)
            query["continuationToken"] = token
        raise AdoError(f"GET {route}: more than {MAX_PAGES} pages; stopped paging")

    # -- pools and agents ------------------------------------------------------------------------

    def get_pool(self, name: str) -> Pool:
        """The agent pool called `name`: exactly one, or an error that says what was found."""
        pools = _pools.validate_python(
            list(self._list("distributedtask/pools", route="pools", params={"poolName": name}))
        )
        if len(pools) == 1:
            return pools[0]
        if not pools:
            raise AdoNotFoundError(f"no agent pool named {name!r} in {self.organization_url}")
        found = ", ".join(f"{p.name} (id {p.id}, {p.pool_type})" for p in pools)
        raise AdoError(f"{len(pools)} agent pools match {name!r}: {found}")

    def list_agents(
        self,
        pool_id: int,
        *,
        capabilities: bool = True,
        assigned_request: bool = True,
        last_completed: bool = False,
        name: str | None = None,
    ) -> list[Agent]:
        params = {
            "includeCapabilities": _bool(capabilities),
            "includeAssignedRequest": _bool(assigned_request),
            "includeLastCompletedRequest": _bool(last_completed),
        }
        if name is not None:
            params["agentName"] = name
        items = self._list(f"distributedtask/pools/{pool_id}/agents", route="agents", params=params)
        return _agents.validate_python(list(items))

    def get_agent(self, pool_id: int, agent_id: int) -> Agent | None:
        """One agent with its assigned request, or None when it is gone."""
        try:
            response = self._call(
                "GET",
                f"distributedtask/pools/{pool_id}/agents/{agent_id}",
                route="agent",
                params={"includeAssignedRequest": "true", "includeCapabilities": "true"},
            )
        except AdoNotFoundError:
            return None
        return Agent.model_validate(_json(response))

    def add_agent(self, pool_id: int, body: Mapping[str, Any]) -> Agent:
        """Register an agent (`config.sh`'s call; the placeholder's). 409 when the name is taken."""
        response = self._call("POST", f"distributedtask/pools/{pool_id}/agents", route="agent.add", body=dict(body))
        return Agent.model_validate(_json(response))

    def replace_agent(self, pool_id: int, agent_id: int, body: Mapping[str, Any]) -> Agent:
        """Register an existing agent again (`config.sh --replace`): same id, new capabilities and key."""
        response = self._call(
            "PUT", f"distributedtask/pools/{pool_id}/agents/{agent_id}", route="agent.replace", body=dict(body)
        )
        return Agent.model_validate(_json(response))

    def set_agent_enabled(self, pool_id: int, agent_id: int, enabled: bool) -> Agent:
        response = self._call(
            "PATCH",
            f"distributedtask/pools/{pool_id}/agents/{agent_id}",
            route="agent.patch",
            body={"id": agent_id, "enabled": enabled},
        )
        return Agent.model_validate(_json(response))

    def delete_agent(self, pool_id: int, agent_id: int) -> bool:
        """Delete a registration. False when it was already gone (which is success)."""
        try:
            self._call("DELETE", f"distributedtask/pools/{pool_id}/agents/{agent_id}", route="agent.delete")
        except AdoNotFoundError:
            return False
        return True

    def list_job_requests(self, pool_id: int) -> list[JobRequest]:
        """Unfinished requests (queued, assigned, running), without their `matchedAgents`.

        `completedRequestCount=0` drops the finished ones; `$top` is never sent, because the service then
        caps the answer at 200 (and changes what it counts). The service still sends `matchedAgents` on every
        queued request, which makes the body grow as queued jobs x registered agents (36 MB for 300 x 300):
        adoscale matches demands itself, so the lists are cut from the bytes before decoding and any left
        are dropped as each request is decoded (`adoscale.ado.matched_agents`); memory holds the body and the
        requests only (docs/performance.md, "The queue read").
        """
        response = self._call(
            "GET",
            f"distributedtask/pools/{pool_id}/jobrequests",
            route="jobrequests",
            params={"completedRequestCount": "0"},
            api_version=API_PREVIEW,
        )
        body = _json(response, decode=decode_job_requests)
        return _jobs.validate_python(body.get("value", []) if isinstance(body, dict) else [])

    def parallel_job_limit(self) -> ParallelLimit | None:
        """The organization's self-hosted parallel-job limit, or None when it cannot be read.

        Optional by design: the endpoint is undocumented for this use, so a failure is reported once and
        the call is not tried again for `PARALLEL_RETRY_AFTER_S`; adoscale carries on without a cap.
        """
        if self._parallel_unavailable_until is not None and self._clock() < self._parallel_unavailable_until:
            return None
        try:
            response = self._call(
                "GET",
                "distributedtask/resourceusage",
                route="resourceusage",
                params={"parallelismTag": "Private", "poolIsHosted": "false", "includeRunningRequests": "true"},
                api_version="7.1-preview.2",
                retry=OPTIONAL_CALL_RETRY,
            )
            body = _json(response)
            total = body["resourceLimit"]["totalCount"]
            return ParallelLimit(
                total=int(total),
                used=int(body.get("usedCount", 0)),
                running_requests=_jobs.validate_python(body.get("runningRequests", [])),
            )
        except AdoAuthError:
            raise
        except (AdoError, KeyError, TypeError, ValueError) as exc:
            if self._parallel_unavailable_until is None:
                log.warning("parallel-job limit unavailable, carrying on without it: %s", redact(str(exc)))
            self._parallel_unavailable_until = self._clock() + PARALLEL_RETRY_AFTER_S
            return None

    # -- environments ------------------------------------------------------------------------------

    def get_environment(self, project: str, name: str) -> Environment:
        items = list(
            self._list(
                "pipelines/environments",
                route="environments",
                project=project,
                params={"name": name},
                api_version=API_PREVIEW,
            )
        )
        envs = [e for e in _environments.validate_python(items) if e.name.lower() == name.lower()]
        if not envs:
            raise AdoNotFoundError(f"no Environment named {name!r} in project {project!r}")
        return envs[0]

    def list_vm_resources(self, project: str, environment_id: int, *, name: str | None = None) -> list[VmResource]:
        params = {"name": name} if name is not None else None
        items = self._list(
            f"pipelines/environments/{environment_id}/providers/virtualmachines",
            route="virtualmachines",
            project=project,
            params=params,
            api_version=API_PREVIEW,
        )
        return _vms.validate_python(list(items))

    def find_vm_resource(self, project: str, environment_id: int, name: str) -> VmResource | None:
        matches = [
            r for r in self.list_vm_resources(project, environment_id, name=name) if r.name.lower() == name.lower()
        ]
        return matches[0] if matches else None

    def delete_vm_resource(self, project: str, environment_id: int, resource_id: int) -> bool:
        """Remove a VM resource. False when it was already gone (which is success)."""
        try:
            self._call(
                "DELETE",
                f"pipelines/environments/{environment_id}/providers/virtualmachines/{resource_id}",
                route="virtualmachines.delete",
                project=project,
                api_version=API_PREVIEW,
            )
        except AdoNotFoundError:
            return False
        return True

    def get_environment_pool(self, project: str, environment_id: int) -> PoolReference:
        """The hidden deployment pool that holds the Environment's VM agents."""
        response = self._call(
            "GET",
            f"pipelines/environments/{environment_id}/providers/virtualmachines/pool",
            route="virtualmachines.pool",
            project=project,
            api_version=API_PREVIEW,
        )
        return PoolReference.model_validate(_json(response))

    # -- service hooks (event-driven scale-out, docs/hooks.md) ---------------------------------------

    def create_subscription(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a service-hook subscription; the service's answer (the secret it masks)."""
        response = self._call("POST", "hooks/subscriptions", route="hooks.subscriptions.create", body=body)
        return dict(_json(response))

    def list_subscriptions(self) -> list[dict[str, Any]]:
        """Every service-hook subscription in the organization (adoscale's and anyone else's)."""
        return [dict(item) for item in self._list("hooks/subscriptions", route="hooks.subscriptions")]

    def delete_subscription(self, subscription_id: str) -> bool:
        """Delete a subscription. False when it was already gone (which is success)."""
        try:
            self._call(
                "DELETE",
                f"hooks/subscriptions/{quote(subscription_id, safe='')}",
                route="hooks.subscriptions.delete",
            )
        except AdoNotFoundError:
            return False
        return True


_ENCODING_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})


class _OverdueError(Exception):
    """The deadline passed while an answer was still arriving."""


class _Watchdog:
    """Shuts a connection's socket at the deadline, so that a read blocked on a silent server returns.

    In-process transports have no socket; for them the clock checks between chunks suffice.
    """

    def __init__(self) -> None:
        self._timer: threading.Timer | None = None

    @property
    def armed(self) -> bool:
        return self._timer is not None

    def arm(self, stream: Any, seconds: float) -> None:
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(sock, socket.socket):
            return
        self.cancel()

        def _shut() -> None:
            # Already closed means nothing is left to wake.
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

        self._timer = threading.Timer(max(0.0, seconds), _shut)
        self._timer.daemon = True
        self._timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _json(response: httpx.Response, *, decode: Callable[[bytes], Any] = json.loads) -> Any:
    try:
        return decode(response.content)
    except ValueError as exc:
        raise AdoError(
            f"Azure DevOps answered {response.status_code} with a body that is not JSON "
            f"({response.headers.get('content-type', 'no content type')})",
            status=response.status_code,
        ) from exc


def _describe(response: httpx.Response) -> str:
    """ADO's own message and typeKey, or the status line; never the whole body."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict) and "message" in body:
        message = redact(str(body.get("message", "")))[:500]
        return f"HTTP {response.status_code} {body.get('typeKey', '')}: {message}".replace("  ", " ")
    return f"HTTP {response.status_code}"


def _error_for(status: int, failure: str, response: httpx.Response, url: str) -> AdoError:
    try:
        type_key = response.json().get("typeKey")
    except (ValueError, AttributeError):
        type_key = None
    kind: type[AdoError] = AdoError
    if status == 404:
        kind = AdoNotFoundError
    elif status in (400, 409) and type_key and ("Busy" in type_key or "Conflict" in type_key or "Exists" in type_key):
        kind = AdoConflictError
    return kind(failure, status=status, type_key=type_key, url=url)
