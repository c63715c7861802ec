"""The webHooks subscriptions adoscale installs: one per pool, "Run job state changed" filtered to
`Waiting`, posting to the endpoint with `?pool=NAME` and the shared secret as the Basic-auth password.

A subscription is recognised as adoscale's by its Basic-auth user name (`HOOK_USER`) and event type, so
`hooks list` and `hooks remove` never touch anyone else's.

Its `status` is the service's `SubscriptionStatus` as the REST API spells it (`enabled`, `onProbation`,
`disabledByUser`, `disabledBySystem`, `disabledByInactiveIdentity`: Microsoft's azure-devops-extension-api
reference). Only `enabled` delivers every event: on probation "any new events are lost" (the service-hooks
troubleshooting doc) and a disabled one delivers nothing, so `hooks install` replaces any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from adoscale.hooks.validate import JOB_STATE_CHANGED, POOL_PARAMETER

HOOK_USER = "adoscale-hooks"
PUBLISHER = "pipelines"
RESOURCE_VERSION = "5.1-preview.1"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})


class EndpointError(ValueError):
    """The endpoint URL cannot carry a hook (not HTTPS, or already has a query)."""


def delivery_url(endpoint: str, pool: str) -> str:
    """`endpoint` with `?pool=NAME`. HTTPS only (ADO sends Basic auth only over HTTPS), except loopback
    HTTP for the emulator."""
    parts = urlsplit(endpoint.strip())
    loopback = parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS
    if parts.scheme != "https" and not loopback:
        raise EndpointError(f"{endpoint!r}: the endpoint must be https:// (http only for 127.0.0.1/localhost)")
    if parts.query or parts.fragment:
        raise EndpointError(f"{endpoint!r}: give the endpoint without a query or fragment")
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode({POOL_PARAMETER: pool}), ""))


def subscription_body(endpoint: str, pool: str, secret: str, project_id: str | None) -> dict[str, Any]:
    publisher_inputs = {"jobStateId": "Waiting"}
    if project_id:
        publisher_inputs["projectId"] = project_id
    return {
        "publisherId": PUBLISHER,
        "eventType": JOB_STATE_CHANGED,
        "resourceVersion": RESOURCE_VERSION,
        "consumerId": "webHooks",
        "consumerActionId": "httpRequest",
        "publisherInputs": publisher_inputs,
        "consumerInputs": {
            "url": delivery_url(endpoint, pool),
            "basicAuthUsername": HOOK_USER,
            "basicAuthPassword": secret,
            "resourceDetailsToSend": "all",
            "messagesToSend": "none",
            "detailedMessagesToSend": "none",
        },
    }


HEALTHY = "enabled"


@dataclass(frozen=True, slots=True)
class Installed:
    id: str
    pool: str
    url: str
    status: str

    @property
    def healthy(self) -> bool:
        """Whether the service delivers every event to it (the status is compared without regard to case:
        the REST API's JSON says `enabled`, its .NET and TypeScript enums `Enabled`)."""
        return self.status.lower() == HEALTHY.lower()


def adoscale_subscriptions(items: list[dict[str, Any]]) -> list[Installed]:
    """The subscriptions among `items` that adoscale installed, with the pool each one serves."""
    found: list[Installed] = []
    for item in items:
        inputs = item.get("consumerInputs") or {}
        if item.get("eventType") != JOB_STATE_CHANGED or inputs.get("basicAuthUsername") != HOOK_USER:
            continue
        url = str(inputs.get("url", ""))
        pools = parse_qs(urlsplit(url).query).get(POOL_PARAMETER) or [""]
        found.append(Installed(str(item.get("id", "")), pools[0], url, str(item.get("status", ""))))
    return found
