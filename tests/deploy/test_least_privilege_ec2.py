"""IAM least privilege for EC2 pools, checked: the EC2 calls each handler makes for an EC2 pool (recorded,
against moto) must equal the `ec2_actions` its Terraform role is granted when the control plane has EC2
pools (`functions.json`, `ec2_launch_template_arns`), and its other calls must be among its `actions`.
The ECS side is tests/deploy/test_least_privilege.py's."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adoscale.handlers import _runtime, hook, pass_, waiter
from adoscale_lab.emulator import AdoModel
from adoscale_lab.moto_rules.ec2 import Ec2Fleets, create_ec2_world
from adoscale_lab.packaging import deployed_functions
from tests.aws import create_lease_table
from tests.conftest import PAT
from tests.deploy.recording import Recorder

HOOK_SECRET = "hook-secret-0123456789abcdef"
SPECS: dict[str, Any] = deployed_functions()["control-plane"]
# What CreateFleet is also authorised as, without a call of its own (EC2 User Guide, "EC2 Fleet
# prerequisites": the fleet launches with ec2:RunInstances and tags with ec2:CreateTags on the caller's
# behalf; the instance profile's role is passed with iam:PassRole).
FLEET_IMPLIES = {"ec2:RunInstances", "ec2:CreateTags", "iam:PassRole"}


def test_each_handler_calls_exactly_its_ec2_grants_for_an_ec2_pool(
    recorder: Recorder, model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.awslambda.models import LambdaBackend

    Ec2Fleets.install(monkeypatch)
    # The hook function queues its pass as an asynchronous invocation of itself: recorded here, then run.
    queued: list[dict[str, Any]] = []
    monkeypatch.setattr(
        LambdaBackend, "invoke", lambda self, name, qualifier, body, *_: queued.append(json.loads(body)) or b""
    )
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        world = create_ec2_world(ec2)
        config = {
            "organization_url": org_url,
            "pools": [
                {
                    "name": "docker",
                    "max_agents": 3,
                    "idle_timeout_seconds": 1,
                    "ec2": {"launch_template": world.launch_template, "instance_types": ["m7i.large"],
                            "subnets": list(world.subnets), "spot": True},
                }
            ],
            "hooks": {"secret_name": "adoscale/hook-secret"},
        }  # fmt: skip
        ssm = boto3.client("ssm", region_name="us-east-1")
        ssm.put_parameter(Name="/adoscale/config", Value=json.dumps(config), Type="SecureString")
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        secrets.create_secret(Name="adoscale/hook-secret", SecretString=HOOK_SECRET)
        secret = secrets.create_secret(Name="adoscale/ado-pat", SecretString=PAT)["ARN"]
        monkeypatch.delenv("ADOSCALE_CONFIG", raising=False)
        monkeypatch.setenv("ADOSCALE_CONFIG_PARAMETER", "/adoscale/config")
        monkeypatch.setenv("AZP_TOKEN_SECRET_ARN", secret)
        create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), "adoscale-leases")
        monkeypatch.setenv("ADOSCALE_LEASE_TABLE", "adoscale-leases")
        _runtime.clear_cache()
        pool = model.create_pool("docker")
        model.register_agent(pool, "adoscale-placeholder", online=False)
        model.queue_job(pool)
        model.queue_job(pool)

        acted = recorder.run("pass", pass_.handler, {"action": "pass", "pool": "docker"})
        assert acted["report"]["launched"] == 2, acted["report"]
        recorder.run("waiter", waiter.handler, acted)
        # One instance's agent came online and found no job: drained (TerminateInstances, CreateTags).
        for job in model.unfinished_jobs(pool):
            model.finish_job(job.request_id, result="canceled")
        idle = model.register_agent(pool, acted["launched"][0], {}, online=True)
        model.agent(pool, idle).status_changed_on -= timedelta(minutes=5)
        drained = recorder.run("pass", pass_.handler, {"action": "pass", "pool": "docker"})
        assert drained["report"]["drained"] == 1, drained["report"]

        # The hook function runs the same pass for the EC2 pool: a launch, then a drain.
        hook._validators.clear()
        model.queue_job(pool)
        model.queue_job(pool)  # one more than the instance still starting
        answer = json.loads(recorder.run("hook", hook.handler, _hook_event())["body"])
        assert answer["queued"] is True, answer
        assert recorder.run("hook", hook.handler, queued.pop())["launched"] == 1
        for job in model.unfinished_jobs(pool):
            model.finish_job(job.request_id, result="canceled")
        live = [
            i["InstanceId"]
            for r in ec2.describe_instances()["Reservations"]
            for i in r["Instances"]
            if i["State"]["Name"] == "running"
        ]
        # A hook pass runs only for a pool with a job queued (`Reconciler.hook_wanted`): one that the idle
        # agents cannot run (an offline agent meets its demand, so the service keeps it queued), and two
        # agents idle past their timeout (every live instance's), one more than the queue needs: drained.
        registered = {agent.name for agent in model.agents(pool)}
        for instance in live:
            if instance not in registered:
                idle = model.register_agent(pool, instance, {}, online=True)
                model.agent(pool, idle).status_changed_on -= timedelta(minutes=5)
        model.register_agent(pool, "offline-special", {"special": "1"}, online=False)
        model.queue_job(pool, ["special"])
        boto3.client("dynamodb", region_name="us-east-1").delete_item(
            TableName="adoscale-leases", Key={"pool": {"S": "hook#docker"}}
        )  # the coalescing window of the first hook, over
        answer = json.loads(recorder.run("hook", hook.handler, _hook_event())["body"])
        assert answer["queued"] is True, answer
        assert recorder.run("hook", hook.handler, queued.pop())["status"] == "ran"
        assert "ec2:TerminateInstances" in recorder.calls["hook"]  # the idle agent's instance was drained

    for function, spec in SPECS.items():
        made = recorder.calls.get(function, set())
        if "ec2:CreateFleet" in made:
            made = made | FLEET_IMPLIES
        if "lambda:Invoke" in made:  # the Lambda API's Invoke is the IAM action lambda:InvokeFunction
            made = (made - {"lambda:Invoke"}) | {"lambda:InvokeFunction"}
        ec2_made = {call for call in made if call.startswith("ec2:")}
        assert ec2_made == set(spec.get("ec2_actions", [])), f"{function}: {sorted(ec2_made)}"
        others = made - ec2_made
        assert others <= set(spec["actions"]), f"{function}: not granted {sorted(others - set(spec['actions']))}"


def _hook_event() -> dict[str, Any]:
    from tests.hooks.payloads import basic, http_event, job_event

    return http_event(json.dumps(job_event()).encode(), basic(HOOK_SECRET), pool="docker")
