"""The Lambda behind the HTTP API (payload format 2.0, route POST /hooks): a valid hook runs the pool's pass through the
lease; a pass already running makes it a no-op; every rejection is logged and launches nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from adoscale.handlers import hook
from adoscale.lease import DynamoLease
from adoscale_lab.emulator import AdoModel
from tests.aws import config_for, create_lease_table, ecs_world
from tests.conftest import PAT
from tests.hooks.payloads import SECRET, basic, body, job_event
from tests.workflow.test_workflow import Context


@dataclass
class Lambda:
    model: AdoModel
    pool_id: int
    run_tasks: list[int]

    def invoke(
        self,
        payload: bytes,
        headers: dict[str, str] | None = None,
        pool: str = "linux",
        encode: bool = False,
        method: str = "POST",
    ) -> tuple[int, dict[str, Any]]:
        # What API Gateway passes for `POST /hooks` on the `$default` stage (HTTP API payload format 2.0):
        # header names lower-cased, no pathParameters on a route without variables, the stage not in rawPath.
        event = {
            "version": "2.0",
            "routeKey": f"{method} /hooks",
            "rawPath": "/hooks",
            "rawQueryString": f"pool={pool}",
            "headers": {
                "content-type": "application/json",
                "host": "abc123.execute-api.us-east-1.amazonaws.com",
                "x-forwarded-for": "20.37.158.1",
                **(basic(SECRET) if headers is None else headers),
            },
            "queryStringParameters": {"pool": pool},
            "requestContext": {
                "apiId": "abc123",
                "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
                "http": {"method": method, "path": "/hooks", "protocol": "HTTP/1.1", "sourceIp": "20.37.158.1"},
                "routeKey": f"{method} /hooks",
                "stage": "$default",
                "timeEpoch": 1764880000000,
            },
            "body": base64.b64encode(payload).decode() if encode else payload.decode("utf-8", "replace"),
            "isBase64Encoded": encode,
        }
        answer = hook.handler(event, Context("adoscale-hook"))
        return answer["statusCode"], json.loads(answer["body"])


@pytest.fixture
def function(model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lambda]:

    from adoscale.handlers import _runtime

    with ecs_world() as (_ecs, resources):
        run_tasks: list[int] = []
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="adoscale/hook-secret", SecretString=json.dumps({"secret": SECRET})
        )
        create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), "adoscale-leases")
        config = config_for(resources, org_url, [{"name": "linux", "max_agents": 5}])
        document = {**json.loads(config.model_dump_json()), "hooks": {"secret_name": "adoscale/hook-secret"}}
        monkeypatch.setenv("ADOSCALE_CONFIG", json.dumps(document))
        monkeypatch.setenv("AZP_TOKEN", PAT)
        monkeypatch.setenv("ADOSCALE_LEASE_TABLE", "adoscale-leases")
        monkeypatch.delenv("ADOSCALE_HOOK_SECRET", raising=False)
        _runtime.clear_cache()
        _runtime.client.cache_clear()
        hook._validators.clear()
        _runtime.client("ecs").meta.events.register(
            "provide-client-params.ecs.RunTask", lambda params, **_: run_tasks.append(params["count"])
        )
        pool_id = model.create_pool("linux")
        model.register_agent(pool_id, "adoscale-placeholder", online=False)
        yield Lambda(model, pool_id, run_tasks)
        _runtime.client.cache_clear()


def rejections(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    """(status, reason) of each rejection logged (powertools passes its `extra` fields as attributes)."""
    return [(r.status, r.reason) for r in caplog.records if r.getMessage() == "hook rejected"]  # type: ignore[attr-defined]


def test_a_waiting_job_launches_once_and_its_replay_launches_nothing(
    function: Lambda, caplog: pytest.LogCaptureFixture
) -> None:
    function.model.queue_job(function.pool_id)
    event = job_event()
    status, answer = function.invoke(body(event))
    assert (status, answer["status"], answer["launched"], answer["skipped"]) == (202, "accepted", 1, None)
    status, answer = function.invoke(body(event), encode=True)
    assert status == 400 and "replayed" in answer["reason"]
    assert function.run_tasks == [1]
    assert [(status, "replayed" in reason) for status, reason in rejections(caplog)] == [(400, True)]


def test_a_pass_already_running_makes_the_hook_a_no_op(function: Lambda) -> None:
    function.model.queue_job(function.pool_id)
    lease = DynamoLease(boto3.client("dynamodb", region_name="us-east-1"), "adoscale-leases")
    assert lease.acquire("linux", "scheduled-pass", 60) is None
    status, answer = function.invoke(body(job_event()))
    assert status == 202 and "another pass holds the lease" in answer["skipped"] and answer["launched"] == 0
    assert function.run_tasks == []


def test_ignored_states_are_202_and_do_nothing(function: Lambda) -> None:
    function.model.queue_job(function.pool_id)
    status, answer = function.invoke(body(job_event("inProgress")))
    assert (status, answer["status"]) == (202, "ignored") and function.run_tasks == []


@pytest.mark.parametrize(
    ("payload", "headers", "pool", "status", "reason"),
    [
        (body(job_event()), basic("forged-secret-0123456789"), "linux", 401, "wrong hook secret"),
        (body(job_event()), {}, "linux", 401, "no credentials"),
        (body(job_event()), None, "windows", 400, "unknown pool"),
        (b"x" * (10 * 1024 * 1024), None, "linux", 413, "over the"),
        (b'{"id": 1}', None, "linux", 400, "not a job-state-changed payload"),
    ],
)
def test_rejections_are_logged_and_launch_nothing(
    function: Lambda,
    caplog: pytest.LogCaptureFixture,
    payload: bytes,
    headers: dict[str, str] | None,
    pool: str,
    status: int,
    reason: str,
) -> None:
    function.model.queue_job(function.pool_id)
    got, answer = function.invoke(payload, headers, pool)
    assert got == status and reason in answer["reason"]
    assert [(got, reason in why) for got, why in rejections(caplog)] == [(status, True)]
    assert not any(SECRET in str(vars(r)) for r in caplog.records)
    assert function.run_tasks == []


def test_a_non_http_event_is_400(function: Lambda) -> None:
    answer = hook.handler(["not", "a", "request"], Context("adoscale-hook"))
    assert answer["statusCode"] == 400


def test_a_method_other_than_post_is_refused_and_launches_nothing(
    function: Lambda, caplog: pytest.LogCaptureFixture
) -> None:
    """Only if the API were wired with another route: a GET with a valid secret and body runs no pass."""
    function.model.queue_job(function.pool_id)
    status, answer = function.invoke(body(job_event()), method="GET")
    assert status == 400 and "not POST" in answer["reason"] and function.run_tasks == []
    status, answer = function.invoke(body(job_event()))  # the same delivery, posted: accepted
    assert status == 202 and answer["launched"] == 1


def test_the_parallel_job_cap_applies_to_a_hook_pass(function: Lambda) -> None:
    function.model.set_parallel_limit(1)
    for _ in range(3):
        function.model.queue_job(function.pool_id)
    status, answer = function.invoke(body(job_event()))
    assert (status, answer["launched"]) == (202, 1)
    assert function.run_tasks == [1]
