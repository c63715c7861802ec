"""The hook function of the built Lambda zip, invoked through moto's Lambda API as API Gateway invokes it: it answers
the delivery, queues the pool's pass as an asynchronous invocation of itself (moto's Invoke, which
`tests.lambda_runtime` runs from the zip in another execution environment), and that pass launches the task. Replayed,
late and unconfigured-pool deliveries get 2xx and a wrong secret 401 (issue 21 item 3), from the code that ships.

moto's stand-in runs an `Event` invocation before its Invoke call returns (Lambda queues it and answers 202 at once):
the order of what happens is the same, the endpoint's latency here is not the deployed one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from adoscale.hooks.requests import PREFIX
from adoscale_lab.emulator import AdoModel
from tests.aws import create_lease_table
from tests.hooks.payloads import SECRET, basic, body, http_event, job_event
from tests.workflow.test_workflow import CONFIG_PARAMETER, HANDLER_OF, _world


def _hook_function() -> Any:
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="hook", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    pat = boto3.client("secretsmanager", region_name="us-east-1").create_secret(Name="adoscale/pat", SecretString="x")
    create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), "adoscale-leases")
    lam = boto3.client("lambda", region_name="us-east-1")
    environment = {
        "AZP_TOKEN_SECRET_ARN": pat["ARN"],
        "ADOSCALE_CONFIG_PARAMETER": CONFIG_PARAMETER,
        "ADOSCALE_LEASE_TABLE": "adoscale-leases",
        "ADOSCALE_HOOK_SECRET": SECRET,
    }
    lam.create_function(
        FunctionName="adoscale-hook", Runtime="python3.12", Role=role, Handler=HANDLER_OF["adoscale-hook"],
        Timeout=30, Code={"ZipFile": b"built by adoscale package; run by tests.lambda_runtime"},
        Environment={"Variables": environment},
    )  # fmt: skip
    return lam


def _deliver(lam: Any, event: dict[str, Any], headers: dict[str, str], pool: str = "linux") -> tuple[int, Any]:
    answer = lam.invoke(FunctionName="adoscale-hook", Payload=json.dumps(http_event(body(event), headers, pool)))
    assert "FunctionError" not in answer, answer
    response = json.loads(answer["Payload"].read())
    return response["statusCode"], json.loads(response["body"])


def test_the_zips_hook_function_queues_one_pass_that_launches_and_answers_what_keeps_the_subscription_healthy(
    aws: str, routed_lambdas: list[str], model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ecs, world = _world(model, org_url, monkeypatch, [{"name": "linux", "max_agents": 5}])
    pat_value = boto3.client("secretsmanager", region_name="us-east-1")
    lam = _hook_function()
    pat_value.put_secret_value(SecretId="adoscale/pat", SecretString=model.pat)
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    model.queue_job(pool)
    event = job_event()

    status, answer = _deliver(lam, event, basic(SECRET))
    assert (status, answer["status"], answer["queued"]) == (202, "accepted", True), answer
    assert routed_lambdas == ["adoscale-hook", "adoscale-hook"]  # the delivery, then the pass it queued
    assert len(ecs.list_tasks(cluster=world.cluster)["taskArns"]) == 1

    replayed = _deliver(lam, event, basic(SECRET))
    late = _deliver(lam, job_event(created=datetime.now(UTC) - timedelta(minutes=20)), basic(SECRET))
    unknown = _deliver(lam, job_event(), basic(SECRET), pool="windows")
    forged = _deliver(lam, job_event(), basic("forged-secret-0123456789"))
    assert [(s, a["status"]) for s, a in (replayed, late, unknown)] == [(202, "ignored")] * 3
    assert forged[0] == 401
    assert routed_lambdas.count("adoscale-hook") == 6  # nothing more was queued
    assert len(ecs.list_tasks(cluster=world.cluster)["taskArns"]) == 1


def test_the_zips_hook_pass_reads_a_rotated_pat_again_when_its_cached_one_is_refused(
    aws: str, routed_lambdas: list[str], model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 22 item 4 (rotation) for the hook function: its queued pass runs in a warm execution environment
    whose PAT is cached (300 s); after a rotation (new value stored, old one revoked) the refused PAT is read
    again from its secret once and the pass goes on, as the pass function's does (`_control.with_rotation`).
    Before: the queued pass failed with the revoked PAT (logged, nothing launched) until the cache expired."""
    ecs, world = _world(model, org_url, monkeypatch, [{"name": "linux", "max_agents": 5}])
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    lam = _hook_function()
    secrets.put_secret_value(SecretId="adoscale/pat", SecretString=model.pat)
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    model.queue_job(pool)
    assert _deliver(lam, job_event(), basic(SECRET))[1]["queued"] is True
    assert len(ecs.list_tasks(cluster=world.cluster)["taskArns"]) == 1  # the queued pass ran, its PAT now cached

    model.pat = "rotated-pat-0123456789abcdef"  # the old value is revoked ...
    secrets.put_secret_value(SecretId="adoscale/pat", SecretString=model.pat)  # ... and the new one stored
    model.queue_job(pool)
    # The 3 s coalescing window of the first hook ends (its marker in the lease table expires).
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.delete_item(TableName="adoscale-leases", Key={"pool": {"S": PREFIX + "linux"}})
    status, answer = _deliver(lam, job_event(), basic(SECRET))
    assert (status, answer["queued"]) == (202, True), answer
    # The queued pass ran in the warm environment that cached the revoked PAT, and still launched for the job.
    assert routed_lambdas == ["adoscale-hook"] * 4
    assert len(ecs.list_tasks(cluster=world.cluster)["taskArns"]) == 2
