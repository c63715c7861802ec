"""Environment VMs against moto (EC2, Auto Scaling, DynamoDB, SNS) and the ADO emulator over HTTP."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from adoscale.ado import AdoClient, RetryPolicy
from adoscale.config import EnvironmentConfig
from adoscale.environments import (
    AutoScalingActions,
    Ec2Instances,
    HookTiming,
    LifecycleService,
    MalformedEventError,
    RetryLaterError,
    SnsAlerts,
    StateTable,
    Status,
    parse,
    sweep,
)
from adoscale.environments.state import DONE_TTL, InstanceRecord
from adoscale.handlers._runtime import SettingsError
from adoscale.transient import _AWS_TRANSIENT_CODES as TRANSIENT_AWS_CODES
from adoscale.transient import TRANSIENT_ERRORS, AwsUnavailableError
from adoscale_lab.emulator import AdoModel, FaultRule, Faults
from tests.aws import create_state_table
from tests.conftest import PAT
from tests.environments.events import eventbridge_event, fixture, sns_event

TABLE = "adoscale-state"
HOOK = "adoscale-terminate"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    model: AdoModel
    faults: Faults
    env_id: int
    ec2: Any
    service: LifecycleService
    state: StateTable
    clock: Clock
    calls: list[tuple[str, dict[str, Any]]]
    sns: Any
    queue_url: str
    sqs: Any

    def instance(self, tags: dict[str, str] | None = None) -> str:
        tag_list = [{"Key": k, "Value": v} for k, v in (tags if tags is not None else DEFAULT_TAGS).items()]
        spec = [{"ResourceType": "instance", "Tags": tag_list}] if tag_list else []
        reservation = self.ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, TagSpecifications=spec)
        return str(reservation["Instances"][0]["InstanceId"])

    def register(self, instance_id: str) -> tuple[int, int]:
        """What the user-data script does once the instance boots."""
        return self.model.register_vm(self.env_id, instance_id, ["web"])

    def alerts(self) -> list[str]:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"])["Message"] for m in messages]


DEFAULT_TAGS = {"adoscale:project": "Fabrikam", "adoscale:environment": "prod-vms", "adoscale:vm-tags": "web"}


@pytest.fixture
def world(
    model: AdoModel, faults: Faults, org_url: str, lifecycle_calls: list[tuple[str, dict[str, Any]]]
) -> Iterator[World]:
    model.create_project("Fabrikam")
    env_id = model.create_environment("Fabrikam", "prod-vms")
    clock = Clock()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_state_table(dynamodb, TABLE)
        sns = boto3.client("sns", region_name="us-east-1")
        topic = sns.create_topic(Name="adoscale-alerts")["TopicArn"]
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        ec2 = boto3.client("ec2", region_name="us-east-1")
        state = StateTable(dynamodb, TABLE)
        with AdoClient(org_url, PAT, retry=RetryPolicy(deadline_s=2.0, base_s=0.01, cap_s=0.05)) as ado:
            service = LifecycleService(
                ado,
                state,
                Ec2Instances(ec2),
                AutoScalingActions(boto3.client("autoscaling", region_name="us-east-1")),
                clock,
                alerts=SnsAlerts(sns, topic),
                timing=HookTiming(heartbeat_s=300, margin_s=600),
            )
            yield World(model, faults, env_id, ec2, service, state, clock, lifecycle_calls, sns, queue_url, sqs)


def tok(name: str) -> str:
    """Lifecycle action tokens are UUIDs (botocore checks the length)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def hook_message(transition: str, instance_id: str, token: str = "tok-1") -> dict[str, Any]:
    token = tok(token)
    return {
        "Origin": "AutoScalingGroup",
        "LifecycleHookName": HOOK,
        "AutoScalingGroupName": "vms",
        "LifecycleActionToken": token,
        "EC2InstanceId": instance_id,
        "LifecycleTransition": f"autoscaling:EC2_INSTANCE_{transition}",
    }


def handle(world: World, event: dict[str, Any]) -> list[Any]:
    return [world.service.handle(e) for e in parse(event)]


def test_launch_then_terminate_removes_the_vm_and_its_agent_and_completes_both_actions(world: World) -> None:
    instance = world.instance()
    world.register(instance)
    [launched] = handle(world, sns_event(hook_message("LAUNCHING", instance, "launch-token")))
    assert launched.action == "recorded"
    item = world.state.get(instance)
    assert item is not None and item.project == "Fabrikam" and item.environment_id == world.env_id
    assert item.status is Status.REGISTERED and item.expires_at is None
    assert item.vm_resource_id is not None and item.agent_id is not None
    [terminated] = handle(world, sns_event(hook_message("TERMINATING", instance, "terminate-token")))
    assert terminated.action == "deregistered"
    assert "VM resource" in terminated.detail and "agent" in terminated.detail
    assert world.model.vm_resources(world.env_id) == []
    env = world.model.environments("Fabrikam", "prod-vms")[0]
    assert world.model.agents(env.pool_id) == []
    completes = [params for kind, params in world.calls if kind == "complete"]
    assert [c["LifecycleActionToken"] for c in completes] == [tok("launch-token"), tok("terminate-token")]
    assert all(c["LifecycleActionResult"] == "CONTINUE" and c["LifecycleHookName"] == HOOK for c in completes)
    record = world.state.get(instance)
    assert record is not None and record.status is Status.DONE
    assert record.expires_at == int((world.clock.now + DONE_TTL).timestamp())


def test_tags_gone_before_the_terminate_notice_still_deregisters(world: World) -> None:
    instance = world.instance()
    handle(world, sns_event(hook_message("LAUNCHING", instance)))
    world.register(instance)  # registered after launch: the id is found by name at termination
    world.ec2.delete_tags(Resources=[instance], Tags=[{"Key": k} for k in DEFAULT_TAGS])
    [terminated] = handle(world, sns_event(hook_message("TERMINATING", instance, "t2")))
    assert terminated.action == "deregistered"
    assert world.model.vm_resources(world.env_id) == []


def test_duplicates_and_out_of_order_deliveries(world: World) -> None:
    instance = world.instance()
    world.register(instance)
    launch = sns_event(hook_message("LAUNCHING", instance))
    terminate = sns_event(hook_message("TERMINATING", instance, "t"))
    handle(world, launch)
    handle(world, launch)  # duplicate launch
    outcomes = handle(world, terminate) + handle(world, terminate)  # duplicate terminate
    assert [o.action for o in outcomes] == ["deregistered", "already-done"]
    late = handle(world, launch)  # a launch delivered after its terminate
    assert late[0].action == "already-done"
    assert world.state.get(instance).status is Status.DONE  # type: ignore[union-attr]
    # Terminate before launch: nothing to deregister, no error, and the late launch changes nothing.
    other = world.instance()
    early = handle(world, sns_event(hook_message("TERMINATING", other, "x")))
    assert early[0].action == "already-done"
    assert handle(world, sns_event(hook_message("LAUNCHING", other, "y")))[0].action == "already-done"
    assert world.state.get(other).status is Status.DONE  # type: ignore[union-attr]


def test_ado_failing_during_terminate_is_retried_then_deregistered(world: World) -> None:
    instance = world.instance()
    world.register(instance)
    handle(world, sns_event(hook_message("LAUNCHING", instance)))
    world.faults.rules = [FaultRule(route="virtualmachines", error_5xx=1.0)]
    terminate = sns_event(hook_message("TERMINATING", instance, "t"))
    for attempt in range(2):  # the first attempt and Lambda's first retry; the third is the last
        with pytest.raises(RetryLaterError):
            handle(world, terminate)
        world.clock.now += timedelta(minutes=2)
        assert world.state.get(instance).attempts == attempt + 1  # type: ignore[union-attr]
    heartbeats = [p for kind, p in world.calls if kind == "heartbeat"]
    assert len(heartbeats) == 2 and heartbeats[0]["LifecycleActionToken"] == tok("t")
    assert not [p for kind, p in world.calls if kind == "complete" and p["LifecycleActionToken"] == tok("t")]
    assert len(world.model.vm_resources(world.env_id)) == 1  # still registered: the instance waits
    world.faults.rules = []  # ADO recovers
    [done] = handle(world, terminate)
    assert done.action == "deregistered"
    assert world.model.vm_resources(world.env_id) == []
    assert [p["LifecycleActionToken"] for kind, p in world.calls if kind == "complete"][-1] == tok("t")


def test_hook_about_to_expire_completes_loudly(world: World) -> None:
    instance = world.instance()
    world.register(instance)
    handle(world, sns_event(hook_message("LAUNCHING", instance)))
    world.faults.rules = [FaultRule(route="virtualmachines", error_5xx=1.0)]
    terminate = sns_event(hook_message("TERMINATING", instance, "t"))
    with pytest.raises(RetryLaterError):
        handle(world, terminate)
    world.clock.now += timedelta(seconds=HookTiming().global_s - 300)
    [outcome] = handle(world, terminate)
    assert outcome.action == "gave-up"
    assert [p["LifecycleActionResult"] for kind, p in world.calls if kind == "complete"][-1] == "CONTINUE"
    alerts = world.alerts()
    assert alerts and instance in alerts[0] and "still registered" in alerts[0]


def test_ado_down_through_every_attempt_alerts_on_the_last_one_before_the_hook_times_out(world: World) -> None:
    """Issue 22: Lambda retries a failed asynchronous invocation twice (~1 and ~2 min later), whatever SNS's or
    EventBridge's retry policy says, so the "alert before the hook times out" branch was never reached: the hook
    then timed out (heartbeat 300 s after the last attempt), the VM was released without an alert and its
    record stayed `terminating` for ever. Now the trigger's last attempt alerts, releases and finishes."""
    instance = world.instance()
    world.register(instance)
    handle(world, sns_event(hook_message("LAUNCHING", instance)))
    world.faults.rules = [FaultRule(route="virtualmachines", error_5xx=1.0)]
    terminate = sns_event(hook_message("TERMINATING", instance, "t"))
    for _ in range(2):
        with pytest.raises(RetryLaterError):
            handle(world, terminate)
        assert world.alerts() == []
        world.clock.now += timedelta(minutes=2)  # Lambda's retry delays; the heartbeat (300 s) keeps the hook
    [outcome] = handle(world, terminate)
    assert outcome.action == "gave-up" and "last attempt" in outcome.detail
    [alert] = world.alerts()
    assert instance in alert and "still registered" in alert
    completes = [p for kind, p in world.calls if kind == "complete" and p["LifecycleActionToken"] == tok("t")]
    assert [p["LifecycleActionResult"] for p in completes] == ["CONTINUE"]
    record = world.state.get(instance)
    assert record is not None and record.status is Status.DONE and "sweeper" in (record.note or "")
    assert len(world.model.vm_resources(world.env_id)) == 1  # left to the sweeper: ADO is still down


def test_sweeper_removes_only_what_is_provably_gone(world: World, org_url: str) -> None:
    live = world.instance()
    world.register(live)
    gone = world.instance()
    world.register(gone)
    world.ec2.terminate_instances(InstanceIds=[gone])
    ghost = "i-0123456789abcdef0"  # not known to EC2 here, not recorded by this deployment: another region's?
    world.register(ghost)
    ours = "i-0fedcba9876543210"  # recorded at launch by this deployment, no longer known to EC2
    world.register(ours)
    world.state.create(InstanceRecord(instance_id=ours, asg_name="vms", status=Status.REGISTERED, project="Fabrikam"))
    envs = [EnvironmentConfig(project="Fabrikam", name="prod-vms", grace_seconds=0)]
    with AdoClient(org_url, PAT) as ado:
        dry = sweep(ado, Ec2Instances(world.ec2), envs, lambda: datetime.now(UTC), records=world.state, dry_run=True)
        assert {r.name for r in dry} == {gone, ghost, ours} and not any(r.removed for r in dry)
        results = sweep(ado, Ec2Instances(world.ec2), envs, lambda: datetime.now(UTC), records=world.state)
    assert {r.name for r in results if r.removed} == {gone, ours}
    [left] = [r for r in results if not r.removed]
    assert left.name == ghost and "not recorded by this deployment" in left.reason
    assert sorted(r.name for r in world.model.vm_resources(world.env_id)) == sorted([live, ghost])
    with AdoClient(org_url, PAT) as ado:
        in_grace = sweep(
            ado,
            Ec2Instances(world.ec2),
            [EnvironmentConfig(project="Fabrikam", name="prod-vms")],
            lambda: datetime.now(UTC),
        )
    assert [(r.name, r.removed) for r in in_grace] == [(ghost, False)]


def test_a_sweep_in_one_region_leaves_the_vms_running_in_another(world: World, org_url: str) -> None:
    """A us-east-1 sweep must not remove eu-west-1's VMs: EC2 here does not know them, and this deployment
    (its state table) never recorded them. The one terminated here is removed."""
    abroad = boto3.client("ec2", region_name="eu-west-1")
    running_abroad = [
        abroad.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        for _ in range(3)
    ]
    for instance in running_abroad:
        world.register(instance)
    here = world.instance()
    world.register(here)
    world.ec2.terminate_instances(InstanceIds=[here])
    envs = [EnvironmentConfig(project="Fabrikam", name="prod-vms", grace_seconds=0)]
    with AdoClient(org_url, PAT) as ado:
        results = sweep(ado, Ec2Instances(world.ec2), envs, lambda: datetime.now(UTC), records=world.state)
    assert [r.name for r in results if r.removed] == [here]
    assert sorted(r.name for r in world.model.vm_resources(world.env_id)) == sorted(running_abroad)
    assert all("not found in us-east-1" in r.reason for r in results if not r.removed)


def test_one_environment_that_cannot_be_read_does_not_stop_the_sweep(world: World, org_url: str) -> None:
    gone = world.instance()
    world.register(gone)
    world.ec2.terminate_instances(InstanceIds=[gone])
    envs = [
        EnvironmentConfig(project="Fabrikam", name="no-such-env", grace_seconds=0),
        EnvironmentConfig(project="Fabrikam", name="prod-vms", grace_seconds=0),
    ]
    with AdoClient(org_url, PAT) as ado:
        results = sweep(ado, Ec2Instances(world.ec2), envs, lambda: datetime.now(UTC), records=world.state)
    [failed] = [r for r in results if r.error]
    assert failed.environment == "no-such-env" and not failed.removed
    assert [r.name for r in results if r.removed] == [gone]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (sns_event("not json"), "Records.0.Sns.Message: Invalid JSON"),
        ({"Records": []}, "Records: List should have at least 1 item"),
        ({"Records": [{"Sns": {}}]}, "Records.0.EventSource: Field required"),
        (sns_event({"Event": "autoscaling:EC2_INSTANCE_LAUNCH"}), "EC2InstanceId: Field required"),
        (sns_event({"Event": "something:ELSE", "EC2InstanceId": "i-1"}), "Event: Input should be"),
        (sns_event({**hook_message("LAUNCHING", "i-0abc1234"), "LifecycleActionToken": "short"}), "should match"),
        (sns_event({**hook_message("LAUNCHING", "i-0abc1234"), "EC2InstanceId": "sg-1"}), "EC2InstanceId"),
        (eventbridge_event("EC2 Instance-launch Lifecycle Action", {}, source="aws.ec2"), "source: Input should be"),
        (eventbridge_event("Nope", {}), r"unknown detail-type \(4 characters"),
        (eventbridge_event(["a", "list"], {}), "detail-type missing or not a string"),
        (
            eventbridge_event("EC2 Instance-launch Lifecycle Action", hook_message("TERMINATING", "i-0abc1234")),
            "does not match",
        ),
        ({"hello": "world"}, "neither an SNS event"),
        (["a", "list"], "got list"),
    ],
)
def test_malformed_envelopes_are_rejected_with_a_clear_reason(event: Any, expected: str) -> None:
    with pytest.raises(MalformedEventError, match=expected):
        parse(event)


def test_eventbridge_and_test_notifications() -> None:
    [event] = parse(
        eventbridge_event("EC2 Instance-terminate Lifecycle Action", hook_message("TERMINATING", "i-0abc1234"))
    )
    assert event.kind == "terminate" and event.action_token == tok("tok-1") and event.source == "eventbridge"
    [test] = parse(sns_event({"Event": "autoscaling:TEST_NOTIFICATION", "AutoScalingGroupName": "vms"}))
    assert test.kind == "test"
    [plain] = parse(
        sns_event(
            {
                "Event": "autoscaling:EC2_INSTANCE_TERMINATE",
                "EC2InstanceId": "i-0abc1234",
                "AutoScalingGroupName": "vms",
            }
        )
    )
    assert plain.kind == "terminate" and plain.hook_name is None


def test_lambda_handler_logs_and_drops_malformed_messages(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adoscale.handlers import lifecycle

    monkeypatch.setenv("AZP_URL", "http://127.0.0.1:9/none")
    monkeypatch.setenv("AZP_TOKEN", "unused-token-1234")
    monkeypatch.setenv("ADOSCALE_STATE_TABLE", TABLE)
    result = lifecycle.handler(sns_event("{broken"), _Context())
    assert result["status"] == "rejected"
    assert result["reason"].startswith("SNS event: Records.0.Sns.Message: Invalid JSON")
    assert [r.reason for r in caplog.records if r.getMessage() == "event rejected"] == [result["reason"]]  # type: ignore[attr-defined]


class _Context:
    function_name = "adoscale-lifecycle"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:adoscale-lifecycle"
    aws_request_id = "req-1"


def _client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class _Failing:
    """A boto3 client whose every call fails with one error."""

    def __init__(self, code: str, message: str = "") -> None:
        self.code, self.message = code, message

    def __getattr__(self, operation: str) -> Any:
        def call(**_: Any) -> Any:
            raise _client_error(self.code, self.message, operation)

        return call


def _lambda_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZP_URL", "http://127.0.0.1:9/none")
    monkeypatch.setenv("AZP_TOKEN", "unused-token-1234")
    monkeypatch.setenv("ADOSCALE_STATE_TABLE", TABLE)


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException", "InternalError"])
def test_throttled_or_failing_aws_reaches_the_trigger_as_transient(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    from adoscale.handlers import lifecycle

    _lambda_env(monkeypatch)
    monkeypatch.setattr(lifecycle, "client", lambda service: _Failing(code))
    with pytest.raises(AwsUnavailableError, match=code):
        lifecycle.handler(fixture("sns-launching-hook"), _Context())
    assert code in TRANSIENT_AWS_CODES


def test_a_wrong_deployment_fails_visibly_and_is_not_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    from adoscale.handlers import lifecycle

    _lambda_env(monkeypatch)
    monkeypatch.setattr(lifecycle, "client", lambda service: _Failing("AccessDeniedException"))
    with pytest.raises(ClientError) as caught:
        lifecycle.handler(fixture("sns-launching-hook"), _Context())
    assert not isinstance(caught.value, TRANSIENT_ERRORS)
    monkeypatch.delenv("ADOSCALE_STATE_TABLE")
    with pytest.raises(SettingsError, match="ADOSCALE_STATE_TABLE"):
        lifecycle.handler(fixture("sns-launching-hook"), _Context())


def test_completing_an_action_that_no_longer_waits_is_acknowledged(world: World) -> None:
    instance = world.instance()
    world.register(instance)
    launch = sns_event(hook_message("LAUNCHING", instance))
    handle(world, launch)
    # Auto Scaling's answer to a token already completed (a duplicate delivery) or expired.
    world.service._actions = AutoScalingActions(
        _Failing("ValidationError", "No active Lifecycle Action found with token")  # type: ignore[arg-type]
    )
    [again] = handle(world, launch)
    assert again.action == "already-done"
    world.service._actions = AutoScalingActions(_Failing("ValidationError", "Something else is wrong"))  # type: ignore[arg-type]
    with pytest.raises(ClientError):
        handle(world, launch)


def test_the_deployed_retry_count_is_the_one_the_service_counts_on() -> None:
    """`HookTiming.attempts` must be Lambda's first try plus the asynchronous retries Terraform configures for the
    lifecycle function; with more retries configured the alert would come on a delivery that is not the last."""
    import re
    from pathlib import Path

    main_tf = (Path(__file__).parents[2] / "deploy/terraform/modules/vm-environment/main.tf").read_text()
    block = re.search(r'resource "aws_lambda_function_event_invoke_config" "lifecycle" \{(.*?)\n\}', main_tf, re.S)
    assert block is not None and 'module.function["lifecycle"]' in block.group(1)
    retries = re.search(r"maximum_retry_attempts\s*=\s*(\d+)", block.group(1))
    assert retries is not None and int(retries.group(1)) + 1 == HookTiming().attempts
