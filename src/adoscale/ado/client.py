"""A typed, synchronous Azure DevOps REST client on httpx; small enough for a Lambda.

Authentication is a PAT as HTTP Basic with an empty user name, and every request says
`X-TFS-FedAuthRedirect: Suppress` so that a refused PAT gives 401 rather than a sign-in page (a 203 with
HTML is treated as a refusal all the same). Retries follow `RetryPolicy` inside a deadline per call.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
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
    AdoUnavailableError,
    auth_error,
)
from adoscale.ado.models import Agent, Environment, JobRequest, ParallelLimit, Pool, PoolReference, VmResource
from adoscale.ado.retry import RetryPolicy, parse_retry_after
from adoscale.secrets import redact, register_secret

log = logging.getLogger("adoscale.ado")

API = "7.1"
API_PREVIEW = "7.1-preview.1"
# An optional call must not hold up a pass: a short deadline, then carry on without it.
OPTIONAL_CALL_RETRY = RetryPolicy(deadline_s=3.0, base_s=0.2, cap_s=1.0)
PARALLEL_RETRY_AFTER_S = 900.0

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
        """One logical call with retries. Returns a 2xx response (never 203); raises AdoError otherwise."""
        url = self._url(path, project)
        query = {**(params or {}), "api-version": api_version}
        headers = {"X-TFS-FedAuthRedirect": "Suppress", "Accept": "application/json"}
        self.stats.calls += 1
        self.stats.by_route[route] += 1
        started = self._clock()
        attempt = 0
        while True:
            status: int | None
            retry_after: float | None = None
            self.stats.requests += 1
            try:
                response = self._http.request(method, url, params=query, json=body, headers=headers, auth=self._auth)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                status, failure = None, f"{type(exc).__name__}"
            else:
                status = response.status_code
                if status in (203, 401):
                    raise auth_error(status, url)
                if 200 <= status < 300:
                    self._note_rate_limit(response, route)
                    return response
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                failure = _describe(response)
                if not (retry or self._retry).should_retry(status):
                    raise _error_for(status, failure, response, url)
            elapsed = self._clock() - started
            delay = (retry or self._retry).next_delay(
                attempt, elapsed=elapsed, rng=self._rng, status=status, retry_after=retry_after
            )
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

    def _note_rate_limit(self, response: httpx.Response, route: str) -> None:
        delay = response.headers.get("X-RateLimit-Delay")
        remaining = response.headers.get("X-RateLimit-Remaining")
        limit = response.headers.get("X-RateLimit-Limit")
        low = False
        if remaining is not None and limit is not None:
            try:
                low = float(remaining) < 0.1 * float(limit)
            except ValueError:
                low = False
        if delay is not None or low:
            log.warning(
                "Azure DevOps is rate-limiting adoscale (%s): delay=%s remaining=%s limit=%s resource=%s",
                route,
                delay,
                remaining,
                limit,
                response.headers.get("X-RateLimit-Resource"),
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
        while True:
            response = self._call("GET", path, route=route, project=project, params=query, api_version=api_version)
            yield from _json(response).get("value", [])
            token = response.headers.get("x-ms-continuationtoken")
            if not token:
                return
            query["continuationToken"] = token

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
        """Unfinished requests (queued, assigned, running) with `matchedAgents`.

        `completedRequestCount=0` drops the finished ones; `$top` is never sent, because the service then
        omits `matchedAgents` and caps the answer at 200.
        """
        response = self._call(
            "GET",
            f"distributedtask/pools/{pool_id}/jobrequests",
            route="jobrequests",
            params={"completedRequestCount": "0"},
            api_version=API_PREVIEW,
        )
        return _jobs.validate_python(_json(response).get("value", []))

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
        items = list(self._list("pipelines/environments", route="environments", project=project, params={"name": name}))
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


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
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
