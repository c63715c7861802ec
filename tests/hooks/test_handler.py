"""The Lambda behind the HTTP API (payload format 2.0, route POST /hooks): a valid hook is answered at once and queues
the pool's pass as an asynchronous invocation of the function (real boto3 Lambda `Invoke` against moto, whose backend
records the event instead of starting Docker); the queued pass then runs through the lease. A pass already running, or
one queued moments ago, makes a hook queue nothing; every rejection is logged and launches nothing."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest

from adoscale.handlers import hook
from adoscale.lease import DynamoLease
from adoscale_lab.emulator import AdoModel
from adoscale_lab.emulator.server import RunningServer
from tests.aws import config_for, create_lease_table, ecs_world
from tests.conftest import PAT
from tests.hooks.payloads import SECRET, basic, body, http_event, job_event
from tests.workflow.test_workflow import Context


@dataclass
class Lambda:
    model: AdoModel
    pool_id: int
    run_tasks: list[int]
    queued: list[tuple[str, dict[str, Any]]]
    server_url: str

    def ado_calls(self) -> int:
        """Azure DevOps API calls the emulator has answered so far (its admin API's request log)."""
        log = httpx.get(f"{self.server_url}/_emulator/requests", timeout=5).json()["value"]
        return sum(1 for r in log if not r["path"].startswith("/_emulator"))

    def drain(self) -> list[dict[str, Any]]:
        """Run every pass queued so far, as Lambda would run the asynchronous invocations, in order."""
        answers = []
        while self.queued:
            name, event = self.queued.pop(0)
            assert name == "arn:aws:lambda:us-east-1:123456789012:function:adoscale-hook"
            answers.append(hook.handler(event, Context("adoscale-hook")))
        return answers

    def invoke(
        self,
        payload: bytes,
        headers: dict[str, str] | None = None,
        pool: str = "linux",
        encode: bool = False,
        method: str = "POST",
    ) -> tuple[int, dict[str, Any]]:
        event = http_event(payload, basic(SECRET) if headers is None else headers, pool, encode=encode, method=method)
        answer = hook.handler(event, Context("adoscale-hook"))
        return answer["statusCode"], json.loads(answer["body"])


@pytest.fixture
def function(
    model: AdoModel, org_url: str, ado_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Lambda]:
    from moto.awslambda.models import LambdaBackend

    from adoscale.handlers import _runtime

    queued: list[tuple[str, dict[str, Any]]] = []

    def invoke(self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any) -> bytes:
        assert headers.get("X-Amz-Invocation-Type") == "Event"  # asynchronous: the endpoint does not wait
        queued.append((function_name, json.loads(body)))
        return b""

    monkeypatch.setattr(LambdaBackend, "invoke", invoke)
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
        yield Lambda(model, pool_id, run_tasks, queued, ado_server.url)
        _runtime.client.cache_clear()


def rejections(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    """(status, reason) of each rejection logged (powertools passes its `extra` fields as attributes)."""
    return [(r.status, r.reason) for r in caplog.records if r.getMessage() == "hook rejected"]  # type: ignore[attr-defined]


def test_a_waiting_job_is_answered_before_its_pass_which_launches_once_and_its_replay_is_2xx(
    function: Lambda, caplog: pytest.LogCaptureFixture
) -> None:
    function.model.queue_job(function.pool_id)
    event = job_event()
    status, answer = function.invoke(body(event))
    assert (status, answer["status"], answer["queued"]) == (202, "accepted", True)
    assert function.run_tasks == []  # answered before any pass ran
    assert [a["launched"] for a in function.drain()] == [1]
    status, answer = function.invoke(body(event), encode=True)  # the service re-sends the same delivery
    assert (status, answer["status"]) == (202, "ignored") and "replayed" in answer["reason"]
    assert function.queued == [] and function.run_tasks == [1]
    assert rejections(caplog) == []


def test_a_delivery_twenty_minutes_old_is_2xx_and_runs_nothing(function: Lambda) -> None:
    function.model.queue_job(function.pool_id)
    status, answer = function.invoke(body(job_event(created=datetime.now(UTC) - timedelta(minutes=20))))
    assert (status, answer["status"]) == (202, "ignored") and "stale" in answer["reason"]
    assert function.queued == [] and function.run_tasks == []


def test_a_pool_no_longer_configured_is_2xx_and_runs_nothing(function: Lambda) -> None:
    status, answer = function.invoke(body(job_event()), pool="windows")
    assert (status, answer["status"]) == (202, "ignored") and "not configured" in answer["reason"]
    assert function.queued == []


def test_a_held_lease_queues_nothing_and_costs_no_azure_devops_call(function: Lambda) -> None:
    """Issue 22: 300 hooks cost 300 `resourceusage` calls while another pass held the lease."""
    function.model.queue_job(function.pool_id)
    lease = DynamoLease(boto3.client("dynamodb", region_name="us-east-1"), "adoscale-leases")
    assert lease.acquire("linux", "scheduled-pass", 60) is None
    before = function.ado_calls()
    for _ in range(20):
        status, answer = function.invoke(body(job_event()))
        assert status == 202 and answer["queued"] is False and "lease held" in answer["reason"]
    assert function.queued == [] and function.run_tasks == []
    assert function.ado_calls() == before


def test_the_queued_pass_finds_the_lease_held_and_makes_no_azure_devops_call(function: Lambda) -> None:
    function.model.queue_job(function.pool_id)
    assert function.invoke(body(job_event()))[0] == 202
    lease = DynamoLease(boto3.client("dynamodb", region_name="us-east-1"), "adoscale-leases")
    assert lease.acquire("linux", "scheduled-pass", 60) is None  # a scheduled pass started meanwhile
    before = function.ado_calls()
    assert [a["status"] for a in function.drain()] == ["skipped"]
    assert function.ado_calls() == before and function.run_tasks == []


def test_a_burst_of_hooks_queues_one_pass(function: Lambda) -> None:
    for _ in range(3):
        function.model.queue_job(function.pool_id)
    answers = [function.invoke(body(job_event()))[1] for _ in range(50)]
    assert [a["queued"] for a in answers].count(True) == 1
    assert len(function.queued) == 1
    assert [a["launched"] for a in function.drain()] == [3]


def test_ignored_states_are_202_and_do_nothing(function: Lambda) -> None:
    function.model.queue_job(function.pool_id)
    status, answer = function.invoke(body(job_event("inProgress")))
    assert (status, answer["status"]) == (202, "ignored") and function.queued == []


@pytest.mark.parametrize(
    ("payload", "headers", "status", "reason"),
    [
        (body(job_event()), basic("forged-secret-0123456789"), 401, "wrong hook secret"),
        (body(job_event()), {}, 401, "no credentials"),
        (b"x" * (10 * 1024 * 1024), None, 413, "over the"),
        (b'{"id": 1}', None, 400, "not a job-state-changed payload"),
    ],
)
def test_rejections_are_logged_and_launch_nothing(
    function: Lambda,
    caplog: pytest.LogCaptureFixture,
    payload: bytes,
    headers: dict[str, str] | None,
    status: int,
    reason: str,
) -> None:
    function.model.queue_job(function.pool_id)
    got, answer = function.invoke(payload, headers)
    assert got == status and reason in answer["reason"]
    assert [(got, reason in why) for got, why in rejections(caplog)] == [(status, True)]
    assert not any(SECRET in str(vars(r)) for r in caplog.records)
    assert function.queued == [] and function.run_tasks == []


def test_an_internal_failure_is_2xx_and_logged(
    function: Lambda, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hook secret unreadable (a deployment fault): never a 5xx, which would put the subscription on probation."""
    monkeypatch.setenv(
        "ADOSCALE_CONFIG", json.dumps({**json.loads(os.environ["ADOSCALE_CONFIG"]), "hooks": {"secret_name": "gone"}})
    )
    status, answer = function.invoke(body(job_event()))
    assert (status, answer["status"]) == (202, "accepted") and function.queued == []
    assert [r.levelname for r in caplog.records if r.getMessage() == "hook not processed"] == ["ERROR"]


def test_a_non_http_event_is_400(function: Lambda) -> None:
    answer = hook.handler(["not", "a", "request"], Context("adoscale-hook"))  # type: ignore[arg-type]
    assert answer["statusCode"] == 400


def test_a_method_other_than_post_is_refused_and_launches_nothing(function: Lambda) -> None:
    """Only if the API were wired with another route: a GET with a valid secret and body queues no pass."""
    function.model.queue_job(function.pool_id)
    status, answer = function.invoke(body(job_event()), method="GET")
    assert status == 404 and function.queued == []
    status, answer = function.invoke(body(job_event()))  # the same delivery, posted: accepted
    assert status == 202 and answer["queued"] is True


def test_the_parallel_job_cap_applies_to_a_hook_pass(function: Lambda) -> None:
    function.model.set_parallel_limit(1)
    for _ in range(3):
        function.model.queue_job(function.pool_id)
    assert function.invoke(body(job_event()))[0] == 202
    assert [a["launched"] for a in function.drain()] == [1]
    assert function.run_tasks == [1]
