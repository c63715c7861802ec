"""The Step Functions workflow: valid ASL (statelint), and a real execution in moto's interpreter with the
Lambda invocations routed to adoscale's handlers in-process, against the ADO emulator over HTTP."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda.models import LambdaBackend

from adoscale.emulator import AdoModel
from adoscale.handlers import _runtime, act, decide, queue_data, waiter
from adoscale.workflow import DEFAULT_INPUT, PLACEHOLDERS, render
from tests.aws import config_for
from tests.conftest import PAT

HANDLERS: dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]] = {
    "adoscale-queue-data": queue_data.handler,
    "adoscale-decide": decide.handler,
    "adoscale-act": act.handler,
    "adoscale-waiter": waiter.handler,
}


class Context:
    def __init__(self, name: str) -> None:
        self.function_name = name
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.aws_request_id = "req"


def test_statelint_accepts_the_definition(tmp_path: Path) -> None:
    values = {name: f"arn:aws:lambda:us-east-1:123456789012:function:{name}" for name in PLACEHOLDERS}
    values["alert_topic_arn"] = "arn:aws:sns:us-east-1:123456789012:adoscale-alerts"
    path = tmp_path / "definition.json"
    path.write_text(render(values))
    statelint = Path(sys.executable).parent / "statelint"
    if not statelint.exists():
        pytest.fail("statelint is required (dev extras) and missing")
    done = subprocess.run([str(statelint), str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_render_refuses_missing_placeholders() -> None:
    with pytest.raises(KeyError, match="alert_topic_arn"):
        render({name: "x" for name in PLACEHOLDERS if name != "alert_topic_arn"})


@pytest.fixture
def routed_lambdas(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """moto's Lambda invoke wants Docker: call adoscale's handlers in-process instead."""
    invoked: list[str] = []

    def invoke(
        self: LambdaBackend, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> bytes:
        name = function_name.rsplit(":", 1)[-1] if function_name.startswith("arn:") else function_name
        invoked.append(name)
        event = json.loads(body) if body else {}
        try:
            result = HANDLERS[name](event, Context(name))
        except Exception as exc:  # a function error, as Lambda reports it
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode()
        return json.dumps(result).encode()

    monkeypatch.setattr(LambdaBackend, "invoke", invoke)
    return invoked


@pytest.fixture
def aws() -> Iterator[None]:
    _runtime.client.cache_clear()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield
    _runtime.client.cache_clear()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "")
    return buffer.getvalue()


def test_a_queued_job_leads_to_a_launched_task(
    aws: None, routed_lambdas: list[str], model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adoscale.demo.aws import create_ecs_world, hold_moto_tasks_running

    hold_moto_tasks_running()
    ecs = boto3.client("ecs", region_name="us-east-1")
    world = create_ecs_world(boto3.client("ec2", region_name="us-east-1"), ecs)
    config = config_for(world, org_url, [{"name": "linux", "max_agents": 5}])
    monkeypatch.setenv("ADOSCALE_CONFIG", config.model_dump_json())
    monkeypatch.setenv("AZP_TOKEN", PAT)
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    model.queue_job(pool)
    model.queue_job(pool)

    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(
        RoleName="fn", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )
    lam = boto3.client("lambda", region_name="us-east-1")
    arns = {}
    for placeholder, name in zip(("queue_data_arn", "decide_arn", "act_arn", "waiter_arn"), HANDLERS, strict=True):
        arns[placeholder] = lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="x.handler",
            Code={"ZipFile": _zip()},
            Architectures=["arm64"],
        )["FunctionArn"]
    sns = boto3.client("sns", region_name="us-east-1")
    arns["alert_topic_arn"] = sns.create_topic(Name="adoscale-alerts")["TopicArn"]
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = sfn.create_state_machine(
        name="adoscale", definition=render(arns), roleArn=role["Role"]["Arn"], type="EXPRESS"
    )["stateMachineArn"]
    execution = sfn.start_execution(
        stateMachineArn=machine, input=json.dumps({**DEFAULT_INPUT, "rounds": 2, "cadence_s": 0, "task_wait_s": 0})
    )["executionArn"]
    deadline = time.monotonic() + 60
    while (status := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not finish"
        time.sleep(0.1)
    assert status["status"] == "SUCCEEDED", status
    tasks = ecs.list_tasks(cluster=world.cluster)["taskArns"]
    assert len(tasks) == 2  # two queued jobs, two tasks; the second round launched nothing more
    assert routed_lambdas.count("adoscale-queue-data") == 3  # the list, then two rounds
    assert routed_lambdas.count("adoscale-act") == 1 and routed_lambdas.count("adoscale-waiter") == 1


def test_a_failing_pool_sends_an_alert_naming_it(
    aws: None, routed_lambdas: list[str], model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adoscale.demo.aws import create_ecs_world

    world = create_ecs_world(boto3.client("ec2", region_name="us-east-1"), boto3.client("ecs", region_name="us-east-1"))
    config = config_for(world, org_url, [{"name": "no-such-pool"}])  # not in ADO: the observe step fails
    monkeypatch.setenv("ADOSCALE_CONFIG", config.model_dump_json())
    monkeypatch.setenv("AZP_TOKEN", PAT)
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", region_name="us-east-1")
    arns = {
        placeholder: lam.create_function(
            FunctionName=name, Runtime="python3.12", Role=role, Handler="x.handler", Code={"ZipFile": _zip()}
        )["FunctionArn"]
        for placeholder, name in zip(("queue_data_arn", "decide_arn", "act_arn", "waiter_arn"), HANDLERS, strict=True)
    }
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    arns["alert_topic_arn"] = topic = sns.create_topic(Name="adoscale-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = sfn.create_state_machine(name="adoscale", definition=render(arns), roleArn=role, type="EXPRESS")
    execution = sfn.start_execution(
        stateMachineArn=machine["stateMachineArn"], input=json.dumps({**DEFAULT_INPUT, "rounds": 1, "cadence_s": 0})
    )["executionArn"]
    deadline = time.monotonic() + 60
    while (status := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status["status"] == "FAILED"
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    bodies = [json.loads(m["Body"])["Message"] for m in messages]
    assert any("pool no-such-pool failed" in b and "AdoNotFoundError" in b for b in bodies), bodies


def test_handlers_reject_malformed_events(monkeypatch: pytest.MonkeyPatch) -> None:
    from adoscale.handlers._control import BadEventError

    monkeypatch.setenv(
        "ADOSCALE_CONFIG",
        json.dumps(
            {
                "organization_url": "http://127.0.0.1:9/x",
                "pools": [{"name": "linux", "ecs": {"cluster": "c", "task_definition": "t", "subnets": ["s"]}}],
            }
        ),
    )
    with pytest.raises(BadEventError, match="missing field"):
        decide.handler({"pool": "linux"}, Context("adoscale-decide"))
    with pytest.raises(BadEventError, match="no pool named 'other'"):
        decide.handler({"pool": "other", "snapshot": {}}, Context("adoscale-decide"))
    with pytest.raises(BadEventError, match="snapshot"):
        decide.handler({"pool": "linux", "snapshot": {"pool": "linux"}}, Context("adoscale-decide"))
    with pytest.raises(BadEventError, match="launched"):
        waiter.handler({"pool": "linux", "launched": "arn"}, Context("adoscale-waiter"))
