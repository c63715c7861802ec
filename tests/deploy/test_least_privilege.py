"""IAM least privilege, checked: the AWS calls each handler makes (recorded in these tests, against moto)
must equal the actions its Terraform role grants (`functions.json`): a call not granted, or a grant
never used, fails."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adoscale.handlers import _runtime, hook, pass_, waiter
from adoscale_lab.emulator import AdoModel
from adoscale_lab.packaging import deployed_functions
from tests.aws import config_for, create_lease_table
from tests.conftest import PAT
from tests.deploy.recording import Recorder

HOOK_SECRET = "hook-secret-0123456789abcdef"
GRANTS = {name: spec["actions"] for name, spec in deployed_functions()["control-plane"].items()}


def test_each_handler_calls_exactly_what_its_role_grants(
    recorder: Recorder, model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.awslambda.models import LambdaBackend

    from adoscale_lab.demo.aws import create_ecs_world
    from adoscale_lab.moto_rules.ecs import hold_tasks_running

    queued: list[dict[str, Any]] = []
    monkeypatch.setattr(
        LambdaBackend, "invoke", lambda self, name, qualifier, body, *_: queued.append(json.loads(body)) or b""
    )

    with mock_aws():
        hold_tasks_running()
        ecs = boto3.client("ecs", region_name="us-east-1")
        world = create_ecs_world(boto3.client("ec2", region_name="us-east-1"), ecs)
        # The warm pool on (a schedule that is never open) so that its history is read and written too.
        warm = {"mode": "schedule", "max_agents": 1}
        config = config_for(
            world, org_url, [{"name": "linux", "max_agents": 3, "idle_timeout_seconds": 1, "warm_pool": warm}]
        )
        ssm = boto3.client("ssm", region_name="us-east-1")
        document = {**json.loads(config.model_dump_json()), "hooks": {"secret_name": "adoscale/hook-secret"}}
        ssm.put_parameter(Name="/adoscale/config", Value=json.dumps(document), Type="SecureString")
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="adoscale/hook-secret", SecretString=HOOK_SECRET
        )
        secret = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="adoscale/ado-pat", SecretString=PAT
        )["ARN"]
        monkeypatch.delenv("AZP_TOKEN", raising=False)
        monkeypatch.delenv("ADOSCALE_CONFIG", raising=False)
        monkeypatch.setenv("ADOSCALE_CONFIG_PARAMETER", "/adoscale/config")
        monkeypatch.setenv("AZP_TOKEN_SECRET_ARN", secret)
        _runtime.clear_cache()
        pool = model.create_pool("linux")
        model.register_agent(pool, "adoscale-placeholder", online=False)
        model.queue_job(pool)
        model.queue_job(pool)

        create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), "adoscale-leases")
        monkeypatch.setenv("ADOSCALE_LEASE_TABLE", "adoscale-leases")

        recorder.run("pass", pass_.handler, {"action": "round"})
        acted = recorder.run("pass", pass_.handler, {"action": "pass", "pool": "linux"})
        assert acted["report"]["launched"] == 2
        recorder.run("waiter", waiter.handler, acted)
        # An agent that came online and found no job is drained (StopTask), and a dead registration is
        # deleted: the same pass does both.
        task_id = acted["launched"][0].rsplit("/", 1)[-1]
        model.finish_job(model.unfinished_jobs(pool)[0].request_id, result="canceled")
        model.finish_job(model.unfinished_jobs(pool)[0].request_id, result="canceled")
        idle = model.register_agent(pool, task_id, {}, online=True)
        model.agent(pool, idle).status_changed_on -= timedelta(minutes=5)  # idle past the 1 s timeout
        model.register_agent(pool, "0" * 32, {}, online=False)  # its task is long gone
        result = recorder.run("pass", pass_.handler, {"action": "pass", "pool": "linux"})
        assert result["report"]["drained"] == 1 and result["report"]["deleted"] == 1, result["report"]

        # The hook function queues the same pass (an asynchronous invocation of itself, recorded by moto's
        # backend) and runs it when invoked with it: a launch for a waiting job, then a drain.
        hook._validators.clear()
        model.queue_job(pool)
        model.queue_job(pool)  # one more than the task still starting from the passes above
        answer = json.loads(recorder.run("hook", hook.handler, _hook_event())["body"])
        assert answer["queued"] is True, answer
        assert recorder.run("hook", hook.handler, queued.pop())["launched"] == 1
        for job in model.unfinished_jobs(pool):
            model.finish_job(job.request_id, result="canceled")
        task_id = boto3.client("ecs", region_name="us-east-1").list_tasks(cluster=world.cluster)["taskArns"]
        # A hook pass runs only for a pool with a job queued (`Reconciler.hook_wanted`): one that the idle
        # agents cannot run (an offline agent meets its demand, so the service keeps it queued), and two
        # agents idle past their timeout (every live task's), one more than the queue needs: drained.
        registered = {agent.name for agent in model.agents(pool)}
        for live in [arn.rsplit("/", 1)[-1] for arn in task_id]:
            if live not in registered:
                idle = model.register_agent(pool, live, {}, online=True)
                model.agent(pool, idle).status_changed_on -= timedelta(minutes=5)
        model.register_agent(pool, "offline-special", {"special": "1"}, online=False)
        model.queue_job(pool, ["special"])
        boto3.client("dynamodb", region_name="us-east-1").delete_item(
            TableName="adoscale-leases", Key={"pool": {"S": "hook#linux"}}
        )  # the coalescing window of the first hook, over
        answer = json.loads(recorder.run("hook", hook.handler, _hook_event())["body"])
        assert answer["queued"] is True, answer
        assert recorder.run("hook", hook.handler, queued.pop())["status"] == "ran"
        assert "ecs:StopTask" in recorder.calls["hook"]  # the idle agent's task was drained

    for function, granted in GRANTS.items():
        made = recorder.calls.get(function, set())
        # RunTask with tags is authorised as ecs:TagResource too (no separate API call is made).
        if "ecs:RunTask" in made:
            made = made | {"ecs:TagResource"}
        # Passing the task's roles is authorised at RunTask, again without a call of its own.
        if "ecs:RunTask" in made:
            made = made | {"iam:PassRole"}
        # The Lambda API's `Invoke` is authorised as the IAM action `lambda:InvokeFunction` (the service
        # authorization reference for AWS Lambda names no `lambda:Invoke` action).
        if "lambda:Invoke" in made:
            made = (made - {"lambda:Invoke"}) | {"lambda:InvokeFunction"}
        assert made == set(granted), f"{function}: calls {sorted(made)} vs grants {sorted(granted)}"


def acted_ids(acted: dict[str, Any]) -> set[str]:
    return {arn.rsplit("/", 1)[-1] for arn in acted["launched"]}


def _hook_event() -> dict[str, Any]:
    from tests.hooks.payloads import basic, http_event, job_event

    return http_event(json.dumps(job_event()).encode(), basic(HOOK_SECRET))
