"""Arbitrary and mutated events into the Environment-VM Lambdas (lifecycle, sweeper), deployed as they run:
moto for AWS, the ADO emulator over HTTP (failing some requests), the PAT from Secrets Manager.

Every invocation ends in a logged rejection, a normal result, or one of `adoscale.transient.TRANSIENT_ERRORS`
— never any other exception — and no captured log line or output holds the PAT.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from adoscale.ado import AdoClient, RetryPolicy
from adoscale.handlers import _runtime, lifecycle, sweeper
from adoscale.transient import TRANSIENT_ERRORS
from adoscale_lab.emulator import AdoModel, FaultRule, Faults
from tests.aws import create_state_table
from tests.conftest import PAT
from tests.environments.events import LambdaContext, all_fixtures, eventbridge_event, sns_event
from tests.hostile.paths import paths

FIXTURE_INSTANCE = "i-0a1b2c3d4e5f60718"


@dataclass
class Deployment:
    instance: str
    faults: Faults

    def ado(self, down: bool) -> None:
        """ADO answering, or failing every request (so that the transient path is taken too)."""
        self.faults.rules = [FaultRule(route="", error_5xx=1.0)] if down else []


@pytest.fixture
def deployment(
    model: AdoModel,
    faults: Faults,
    org_url: str,
    lifecycle_calls: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Deployment]:
    model.create_project("Fabrikam")
    env_id = model.create_environment("Fabrikam", "prod-vms")
    quick = partial(AdoClient, retry=RetryPolicy(deadline_s=0.2, base_s=0.01, cap_s=0.05))
    monkeypatch.setattr(lifecycle, "AdoClient", quick)
    monkeypatch.setattr(sweeper, "AdoClient", quick)
    with mock_aws():
        _runtime.client.cache_clear()
        _runtime.clear_cache()
        db = boto3.client("dynamodb", region_name="us-east-1")
        create_state_table(db, "state")
        secret = boto3.client("secretsmanager", region_name="us-east-1").create_secret(Name="pat", SecretString=PAT)
        topic = boto3.client("sns", region_name="us-east-1").create_topic(Name="alerts")["TopicArn"]
        tags = [{"Key": "adoscale:project", "Value": "Fabrikam"}, {"Key": "adoscale:environment", "Value": "prod-vms"}]
        instance = boto3.client("ec2", region_name="us-east-1").run_instances(
            ImageId="ami-12345678",
            MinCount=1,
            MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )["Instances"][0]["InstanceId"]
        model.register_vm(env_id, instance)
        for name, value in {
            "AZP_URL": org_url,
            "AZP_TOKEN_SECRET_ARN": secret["ARN"],
            "ADOSCALE_STATE_TABLE": "state",
            "ADOSCALE_ALERT_TOPIC_ARN": topic,
            "ADOSCALE_ENVIRONMENTS": json.dumps([{"project": "Fabrikam", "name": "prod-vms", "grace_seconds": 0}]),
        }.items():
            monkeypatch.setenv(name, value)
        yield Deployment(instance, faults)
        _runtime.client.cache_clear()
        _runtime.clear_cache()


# -- strategies -------------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=40)
    | st.sampled_from([PAT, "i-0123456789abcdef0", "aws.autoscaling", "autoscaling:EC2_INSTANCE_TERMINATING", "{"])
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


@st.composite
def real_events(draw: st.DrawFn) -> dict[str, Any]:
    """A fixture as AWS sends it, for the instance of this deployment (or the fixture's, unknown to EC2)."""
    name = draw(st.sampled_from(sorted(all_fixtures())))
    text = json.dumps(all_fixtures()[name])
    if draw(st.booleans()):
        text = text.replace(FIXTURE_INSTANCE, "{instance}")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@st.composite
def mutated_events(draw: st.DrawFn) -> Any:
    """A real event with one value replaced, removed or grown, anywhere, including inside the SNS message."""
    original = draw(real_events())
    mutant = copy.deepcopy(original)
    message_encoded = "Records" in mutant and draw(st.booleans())
    if message_encoded:  # mutate inside the JSON message, then encode it again (or not)
        mutant["Records"][0]["Sns"]["Message"] = json.loads(mutant["Records"][0]["Sns"]["Message"])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        inner = paths(mutant)[1:]
        if not inner:  # an earlier mutation left nothing below the top to change
            break
        path = draw(st.sampled_from(inner))
        parent = mutant
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "grow", "retype"]))
        key = path[-1]
        if action == "replace":
            parent[key] = draw(json_values)
        elif action == "delete":
            del parent[key]
        elif action == "grow" and isinstance(parent[key], str):
            parent[key] = parent[key] * draw(st.integers(min_value=2, max_value=400))
        elif action == "retype":
            parent[key] = [parent[key]] if draw(st.booleans()) else {"value": parent[key]}
    if message_encoded and draw(st.booleans()):
        records = mutant.get("Records")
        if isinstance(records, list) and records and isinstance(records[0], dict):
            sns = records[0].get("Sns")
            if isinstance(sns, dict) and "Message" in sns:
                sns["Message"] = json.dumps(sns["Message"])
    return mutant


any_event = json_values | real_events() | mutated_events() | st.builds(sns_event, json_values)


def _fill(value: Any, instance: str) -> Any:
    text = json.dumps(value).replace("{instance}", instance)
    return json.loads(text)


# -- the property -----------------------------------------------------------------------------------


def invoke(handler: Callable[[Any, Any], dict[str, Any]], payload: Any, caplog: pytest.LogCaptureFixture) -> str:
    """One invocation, classified: `ok`, `rejected` (and logged with its reason) or `transient`."""
    caplog.clear()
    try:
        result = handler(payload, LambdaContext())
    except TRANSIENT_ERRORS:
        return "transient"
    assert isinstance(result, dict) and result.get("status") in ("ok", "rejected"), result
    if result["status"] == "rejected":
        logged = [r for r in caplog.records if r.getMessage() == "event rejected"]
        assert [getattr(r, "reason", None) for r in logged] == [result["reason"]]
    return str(result["status"])


def assert_no_pat(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    captured = capsys.readouterr()
    assert PAT not in captured.out and PAT not in captured.err
    for record in caplog.records:
        assert PAT not in record.getMessage()
        assert PAT not in json.dumps(record.__dict__, default=str)


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(payload=any_event, ado_down=st.booleans())
def test_lifecycle_handler_rejects_handles_or_raises_only_transient_errors(
    deployment: Deployment,
    payload: Any,
    ado_down: bool,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    deployment.ado(down=ado_down)
    outcome = invoke(lifecycle.handler, _fill(payload, deployment.instance), caplog)
    event(outcome)
    assert_no_pat(caplog, capsys)


@FUZZ
@given(payload=json_values | st.builds(lambda d: {"dry_run": d}, json_values) | real_events(), ado_down=st.booleans())
def test_sweeper_handler_rejects_handles_or_raises_only_transient_errors(
    deployment: Deployment,
    payload: Any,
    ado_down: bool,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    deployment.ado(down=ado_down)
    outcome = invoke(sweeper.handler, payload, caplog)
    event(outcome)
    assert_no_pat(caplog, capsys)


# -- the cases the issue names ----------------------------------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


HOSTILE = {
    "deeply-nested-message": sns_event("[" * 100_000 + "]" * 100_000),
    "deeply-nested-message-object": sns_event('{"a":' * 50_000 + "1" + "}" * 50_000),
    "deeply-nested-event": {"Records": _nested(5000)},
    "deeply-nested-detail": eventbridge_event("EC2 Instance-launch Lifecycle Action", {"x": _nested(5000)}),
    "list-as-detail-type": eventbridge_event(["EC2 Instance-launch Lifecycle Action"], {}),
    "short-action-token": sns_event(
        {
            "LifecycleHookName": "h",
            "AutoScalingGroupName": "vms",
            "EC2InstanceId": "i-0123456789abcdef0",
            "LifecycleActionToken": "tok-1",
            "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
        }
    ),
    "pat-as-detail-type": eventbridge_event(PAT, {}),
    "thousand-records": {"Records": [all_fixtures()["sns-launching-hook"]["Records"][0]] * 1000},
    "not-an-object": "just a string",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_named_hostile_events_are_rejected_and_logged(
    deployment: Deployment,
    case: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert invoke(lifecycle.handler, HOSTILE[case], caplog) == "rejected"
    assert_no_pat(caplog, capsys)


def test_the_real_events_are_handled(
    deployment: Deployment, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ADO is up here: the client's own retry deadline, not the fixture's 0.2 s (kept short so that the fuzzed
    # ADO-down invocations end quickly), which a loaded machine's first request to the emulator can exceed.
    monkeypatch.setattr(lifecycle, "AdoClient", AdoClient)
    for name, payload in all_fixtures().items():
        filled = _fill(json.loads(json.dumps(payload).replace(FIXTURE_INSTANCE, "{instance}")), deployment.instance)
        assert invoke(lifecycle.handler, filled, caplog) == "ok", name
