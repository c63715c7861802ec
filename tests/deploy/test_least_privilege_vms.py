"""Least privilege for the Environment-VM functions: the calls the lifecycle and sweeper handlers make
(recorded against moto) must equal the grants in modules/vm-environment/functions.json."""

from __future__ import annotations

import json
import uuid
from functools import partial
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adoscale.ado import AdoClient, RetryPolicy
from adoscale.handlers import lifecycle, sweeper
from adoscale_lab.emulator import AdoModel, FaultRule, Faults
from adoscale_lab.packaging import deployed_functions
from tests.aws import create_state_table
from tests.conftest import PAT
from tests.deploy.recording import Recorder
from tests.environments.events import sns_event

GRANTS = {name: spec["actions"] for name, spec in deployed_functions()["vm-environment"].items()}


def sns(message: dict[str, Any]) -> dict[str, Any]:
    return sns_event(message)  # a real-shaped SNS delivery: the handler refuses a partial envelope


def hook(transition: str, instance: str) -> dict[str, Any]:
    return {
        "LifecycleHookName": "hook", "AutoScalingGroupName": "vms", "EC2InstanceId": instance,
        "LifecycleActionToken": str(uuid.uuid4()), "LifecycleTransition": f"autoscaling:EC2_INSTANCE_{transition}",
    }  # fmt: skip


def test_vm_functions_call_exactly_what_their_roles_grant(
    recorder: Recorder,
    lifecycle_calls: list[Any],
    model: AdoModel,
    faults: Faults,
    org_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model.create_project("Fabrikam")
    env_id = model.create_environment("Fabrikam", "prod-vms")
    # A short retry deadline keeps the ADO-down path quick (2 s: the happy path's calls must fit it on a
    # loaded machine, since each request's timeout is what remains of it); the handler is otherwise as deployed.
    monkeypatch.setattr(lifecycle, "AdoClient", partial(AdoClient, retry=RetryPolicy(deadline_s=2.0, base_s=0.01)))
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        create_state_table(db, "state")
        secret = boto3.client("secretsmanager", region_name="us-east-1").create_secret(Name="pat", SecretString=PAT)
        topic = boto3.client("sns", region_name="us-east-1").create_topic(Name="alerts")["TopicArn"]
        ec2 = boto3.client("ec2", region_name="us-east-1")
        tags = [{"Key": "adoscale:project", "Value": "Fabrikam"}, {"Key": "adoscale:environment", "Value": "prod-vms"}]
        instances = [
            ec2.run_instances(
                ImageId="ami-12345678", MinCount=1, MaxCount=1,
                TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
            )["Instances"][0]["InstanceId"]
            for _ in range(2)
        ]  # fmt: skip
        for name, value in {
            "AZP_URL": org_url, "AZP_TOKEN_SECRET_ARN": secret["ARN"], "ADOSCALE_STATE_TABLE": "state",
            "ADOSCALE_ALERT_TOPIC_ARN": topic, "ADOSCALE_HOOK_HEARTBEAT_SECONDS": "30",
            "ADOSCALE_ENVIRONMENTS": json.dumps([{"project": "Fabrikam", "name": "prod-vms", "grace_seconds": 0}]),
        }.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AZP_TOKEN", raising=False)
        first, second = instances
        model.register_vm(env_id, first)
        model.register_vm(env_id, second)
        # Launch and terminate (the happy path), then a terminate while ADO is down, first retried and then,
        # with the hook about to expire, completed loudly.
        recorder.run("lifecycle", lifecycle.handler, sns(hook("LAUNCHING", first)))
        recorder.run("lifecycle", lifecycle.handler, sns(hook("TERMINATING", first)))
        recorder.run("lifecycle", lifecycle.handler, sns(hook("LAUNCHING", second)))
        faults.rules = [FaultRule(route="virtualmachines", error_5xx=1.0)]
        with pytest.raises(Exception, match="deregistration failed"):
            recorder.run("lifecycle", lifecycle.handler, sns(hook("TERMINATING", second)))
        db.update_item(
            TableName="state", Key={"instance_id": {"S": second}}, UpdateExpression="SET terminating_since = :t",
            ExpressionAttributeValues={":t": {"S": "2026-01-01T00:00:00+00:00"}},
        )  # fmt: skip
        gave_up = recorder.run("lifecycle", lifecycle.handler, sns(hook("TERMINATING", second)))
        assert gave_up["outcomes"][0]["action"] == "gave-up"
        faults.rules = []
        ec2.terminate_instances(InstanceIds=[second])
        # An instance EC2 does not know here: the sweeper asks the state table whether it was ours.
        model.register_vm(env_id, "i-0123456789abcdef0")
        swept = recorder.run("sweeper", sweeper.handler, {})
        assert [r["name"] for r in swept["removed"]] == [second]

    for function, granted in GRANTS.items():
        made = recorder.calls.get(function, set())
        assert made == set(granted), f"{function}: calls {sorted(made)} vs grants {sorted(granted)}"
