"""Hook deliveries for tests: the documented job-state-changed sample (ado-api/README.md §7.1), with the
state and dates a test needs."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

SECRET = "hook-secret-0123456789abcdef"


def job_event(
    state: str = "waiting", created: datetime | None = None, event_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    when = (created or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    return {
        "subscriptionId": "00000000-0000-0000-0000-000000000000",
        "notificationId": 3,
        "id": event_id or str(uuid.uuid4()),
        "eventType": "ms.vss-pipelines.job-state-changed-event",
        "publisherId": "pipelines",
        "message": {"text": f"Run 20221121.5 stage Build job Compile {state}."},
        "resource": {
            "job": {
                "_links": {"web": {"href": "https://dev.azure.com/fabrikamfiber/x/_build/results?buildId=2"}},
                "id": "2f8b2f0e-0000-4000-8000-000000000001",
                "name": "__default",
                "state": state,
                "startTime": None,
                "finishTime": None,
            },
            "run": {"id": 2, "name": "2", "state": "inProgress", "createdDate": when},
            "projectId": "be9b3917-87e6-42a4-a549-2bc06a7a878f",
        },
        "resourceVersion": "5.1-preview.1",
        "createdDate": when,
        **extra,
    }


def basic(password: str, user: str = "adoscale-hooks") -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def body(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def http_event(
    payload: bytes, headers: dict[str, str], pool: str = "linux", *, encode: bool = False, method: str = "POST"
) -> dict[str, Any]:
    """What API Gateway passes for `POST /hooks` on the `$default` stage (HTTP API payload format 2.0): header
    names lower-cased, no pathParameters on a route without variables, the stage not in rawPath. The fields are
    those of AWS's documented example ("Create AWS Lambda proxy integrations for HTTP APIs", payload 2.0)."""
    return {
        "version": "2.0",
        "routeKey": f"{method} /hooks",
        "rawPath": "/hooks",
        "rawQueryString": f"pool={pool}",
        "headers": {
            "content-type": "application/json",
            "host": "abc123.execute-api.us-east-1.amazonaws.com",
            "x-forwarded-for": "20.37.158.1",
            **headers,
        },
        "queryStringParameters": {"pool": pool},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": "/hooks",
                "protocol": "HTTP/1.1",
                "sourceIp": "20.37.158.1",
                "userAgent": "VSServices/19.261.0",
            },
            "requestId": "Jt0kxiI2IAMEbVA=",
            "routeKey": f"{method} /hooks",
            "stage": "$default",
            "time": "04/Dec/2026:23:30:00 +0000",
            "timeEpoch": 1764880000000,
        },
        "body": base64.b64encode(payload).decode() if encode else payload.decode("utf-8", "replace"),
        "isBase64Encoded": encode,
    }
