"""The Step Functions workflow: valid ASL (statelint), its Retry list is the transient errors, and real
executions in moto's interpreter whose Lambda invocations run the handlers of the built zip (as Terraform
deploys them: handler names from `functions.json`, settings from SSM and Secrets Manager), each function in
its own interpreter (`tests.lambda_runtime`), against the ADO emulator over HTTP — including two
overlapping executions on one lease table."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from adoscale.handlers import pass_, waiter
from adoscale.workflow import ALERT_REMINDER_HOURS, DEFAULT_INPUT, PLACEHOLDERS, render
from adoscale_lab.emulator import AdoModel
from adoscale_lab.packaging import deployed_functions
from tests.aws import config_for, create_lease_table, meet_in_observe
from tests.conftest import PAT

# The workflow's functions as Terraform names them (`${name}-${key}`) and the placeholder each fills.
FUNCTIONS = {"pass_arn": "adoscale-pass", "waiter_arn": "adoscale-waiter"}
HANDLER_OF = {f"adoscale-{key}": spec["handler"] for key, spec in deployed_functions()["control-plane"].items()}
CONFIG_PARAMETER = "/adoscale/config"


class Context:
    def __init__(self, name: str) -> None:
        self.function_name = name
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.aws_request_id = "req"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


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


def test_render_fills_the_settings_as_terraform_does() -> None:
    """Every `${...}` of the definition is a placeholder Terraform's templatefile() is given in workflow.tf, and
    render() fills each: the ARNs as strings, `alert_reminder_hours` as a bare number (the module's default when
    not given), refusing what the module's validation refuses."""
    from adoscale.workflow import ASL, SETTINGS, definition

    in_template = set(re.findall(r"\$\{(\w+)\}", ASL.read_text()))
    templatefile = re.search(
        r"templatefile\(\"\$\{path\.module\}/workflow\.asl\.json\", \{(.*?)\}\)", _WORKFLOW_TF, re.S
    )
    assert templatefile is not None
    given = set(re.findall(r"^\s*(\w+)\s*=", templatefile.group(1), re.M))
    assert in_template == given == set(PLACEHOLDERS) | set(SETTINGS)
    values = {name: f"arn:aws:lambda:us-east-1:123456789012:function:{name}" for name in PLACEHOLDERS}

    def reminders(machine: dict[str, Any]) -> list[Any]:
        return re.findall(r'"remind_after_hours": (\S+?)[,}]', json.dumps(machine))

    # One for each failure recorded: a pass's, a round's, a task wait's.
    assert reminders(definition(values)) == ["24"] * 3
    assert reminders(definition(values, alert_reminder_hours=6)) == ["6"] * 3
    assert reminders(definition(values, alert_reminder_hours=0)) == ["0"] * 3
    for bad in (-1, 721, True):
        with pytest.raises(ValueError, match=r"^alert_reminder_hours must be a whole number of hours from 1 to 720"):
            render(values, alert_reminder_hours=bad)


_WORKFLOW_TF = (
    Path(__file__).parents[2] / "deploy" / "terraform" / "modules" / "control-plane" / "workflow.tf"
).read_text()


def _machine(
    *, lease_table: str | None = None, alert_reminder_hours: int = ALERT_REMINDER_HOURS
) -> tuple[Any, str, str]:
    """The workflow as Terraform deploys it: the functions (handlers from functions.json, the environment
    Terraform gives them), the alert topic (with a queue to read it), the module's `alert_reminder_hours`."""
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", region_name="us-east-1")
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    secret = secrets.create_secret(Name="adoscale/pat", SecretString=PAT)["ARN"]
    environment = {"AZP_TOKEN_SECRET_ARN": secret, "ADOSCALE_CONFIG_PARAMETER": CONFIG_PARAMETER}
    if lease_table:
        environment["ADOSCALE_LEASE_TABLE"] = lease_table
    arns = {
        placeholder: lam.create_function(
            FunctionName=name, Runtime="python3.12", Role=role, Handler=HANDLER_OF[name], Timeout=30,
            Code={"ZipFile": b"built by adoscale package; run by tests.lambda_runtime"},
            Environment={"Variables": environment},
        )["FunctionArn"]
        for placeholder, name in FUNCTIONS.items()
    }  # fmt: skip
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    arns["alert_topic_arn"] = topic = sns.create_topic(Name="adoscale-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    if lease_table:
        create_lease_table(boto3.client("dynamodb", region_name="us-east-1"), lease_table)
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = sfn.create_state_machine(
        name="adoscale",
        definition=render(arns, alert_reminder_hours=alert_reminder_hours),
        roleArn=role,
        type="EXPRESS",
    )
    return sfn, machine["stateMachineArn"], queue


def _finish(sfn: Any, execution: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while (status := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not finish"
        time.sleep(0.05)  # polling for completion, not waiting for a timing to pass
    return dict(status)


def _alerts(queue: str) -> list[str]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"])["Message"] for m in messages]


def _world(model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch, pools: list[dict[str, Any]]) -> Any:
    from adoscale_lab.demo.aws import create_ecs_world
    from adoscale_lab.moto_rules.ecs import hold_tasks_running

    hold_tasks_running()
    ecs = boto3.client("ecs", region_name="us-east-1")
    world = create_ecs_world(boto3.client("ec2", region_name="us-east-1"), ecs)
    config = config_for(world, org_url, pools)
    # Deployed: the functions read the parameter `adoscale config push` writes. In this process (the tests
    # that call a handler directly): the variables.
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name=CONFIG_PARAMETER, Value=config.model_dump_json(), Type="SecureString")
    monkeypatch.setenv("ADOSCALE_CONFIG", config.model_dump_json())
    monkeypatch.setenv("AZP_TOKEN", PAT)
    return ecs, world


def test_retry_lists_exactly_the_transient_errors() -> None:
    from adoscale.transient import TRANSIENT_ERROR_NAMES

    values = {name: f"arn:aws:lambda:us-east-1:123456789012:function:{name}" for name in PLACEHOLDERS}
    machine = json.loads(render(values))
    per_round = machine["States"]["Rounds"]["Iterator"]["States"]
    tasks = [per_round["Round"], per_round["RecordRoundFailure"]]
    per_pool = per_round["EachPool"]["Iterator"]["States"].values()
    tasks += [s for s in per_pool if "lambda" in s.get("Resource", "")]
    lambda_tasks = [
        s for s in json.dumps(machine).split('"Resource": ')[1:] if s.startswith('"arn:aws:states:::lambda')
    ]
    # round, recording its failure; pass, recording its failure; check, recording its failure, closing its
    # incident: all Retry-checked
    assert len(tasks) == len(lambda_tasks) == 7
    for state in tasks:
        retried = {name for rule in state["Retry"] for name in rule["ErrorEquals"] if not name.startswith("Lambda.")}
        assert retried == set(TRANSIENT_ERROR_NAMES), state
        assert state["TimeoutSeconds"] < machine["TimeoutSeconds"]


def test_a_queued_job_leads_to_a_launched_task(
    aws: None, routed_lambdas: list[str], model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ecs, world = _world(model, org_url, monkeypatch, [{"name": "linux", "max_agents": 5}])
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    model.queue_job(pool)
    model.queue_job(pool)
    # Rounds run concurrently, each after its offset: the lease keeps the second round's pass from acting
    # alongside the first's should the first still be running 3 s in.
    monkeypatch.setenv("ADOSCALE_LEASE_TABLE", "adoscale-leases")
    sfn, machine, _ = _machine(lease_table="adoscale-leases")
    execution = sfn.start_execution(
        stateMachineArn=machine, input=json.dumps({**DEFAULT_INPUT, "offsets": [0, 3], "task_wait_s": 1})
    )["executionArn"]
    status = _finish(sfn, execution)
    assert status["status"] == "SUCCEEDED", status
    tasks = ecs.list_tasks(cluster=world.cluster)["taskArns"]
    assert len(tasks) == 2  # two queued jobs, two tasks; the second round launched nothing more
    # Two rounds, each: the round (parallel limit once), one pass for the one pool; one wait after the launch.
    assert routed_lambdas.count("adoscale-pass") == 4
    assert routed_lambdas.count("adoscale-waiter") == 1


def test_overlapping_executions_launch_no_more_than_the_queue(
    aws: None, routed_lambdas: list[str], model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ecs, world = _world(model, org_url, monkeypatch, [{"name": "linux", "max_agents": 30}])
    monkeypatch.setenv("ADOSCALE_LEASE_TABLE", "adoscale-leases")
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    for _ in range(12):
        model.queue_job(pool)
    sfn, machine, _ = _machine(lease_table="adoscale-leases")
    run = json.dumps({**DEFAULT_INPUT, "offsets": [0], "task_wait_s": 1})
    first = sfn.start_execution(stateMachineArn=machine, input=run)["executionArn"]
    second = sfn.start_execution(stateMachineArn=machine, input=run)["executionArn"]
    assert _finish(sfn, first)["status"] == "SUCCEEDED"
    assert _finish(sfn, second)["status"] == "SUCCEEDED"
    tasks = ecs.list_tasks(cluster=world.cluster)["taskArns"]
    assert len(tasks) == 12
    # moto's interpreter happens to run these two one after the other; the test below forces the overlap.


@pytest.mark.parametrize("lease_table", ["adoscale-leases", None])
def test_concurrent_pool_passes_are_single_flight(
    aws: None, model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch, lease_table: str | None
) -> None:
    """Two overlapping executions reduce to two concurrent `pass` invocations for one pool: forced to
    observe together, they launch twice without the lease and exactly the queue with it."""
    ecs, world = _world(model, org_url, monkeypatch, [{"name": "linux", "max_agents": 30}])
    if lease_table:
        monkeypatch.setenv("ADOSCALE_LEASE_TABLE", lease_table)
        _machine(lease_table=lease_table)
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    for _ in range(12):
        model.queue_job(pool)
    meet_in_observe(monkeypatch, parties=2)
    results: list[dict[str, Any]] = []

    def invoke() -> None:
        results.append(pass_.handler({"action": "pass", "pool": "linux"}, Context("adoscale-pass")))

    threads = [threading.Thread(target=invoke) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    launched = len(ecs.list_tasks(cluster=world.cluster)["taskArns"])
    if lease_table:
        assert launched == 12
        assert sorted(bool(r["report"]["skipped"]) for r in results) == [False, True]
    else:
        assert launched == 24  # the failure the lease prevents: proof that the passes did overlap


def test_a_failing_pool_alerts_naming_it_and_the_others_still_run(
    aws: None, routed_lambdas: list[str], model: AdoModel, org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "no-such-pool" is not in ADO: its pass fails; "linux" must still get its task.
    ecs, world = _world(model, org_url, monkeypatch, [{"name": "no-such-pool"}, {"name": "linux"}])
    pool = model.create_pool("linux")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    model.queue_job(pool)
    sfn, machine, queue = _machine()
    execution = sfn.start_execution(
        stateMachineArn=machine, input=json.dumps({**DEFAULT_INPUT, "offsets": [0], "task_wait_s": 1})
    )["executionArn"]
    assert _finish(sfn, execution)["status"] == "SUCCEEDED"
    bodies = _alerts(queue)
    # The failing-pass incident's opening alert (tests/workflow/test_pass_alerts.py for the incident itself).
    assert any(b.startswith("pool no-such-pool: its passes fail") and "AdoNotFoundError" in b for b in bodies), bodies
    assert len(ecs.list_tasks(cluster=world.cluster)["taskArns"]) == 1


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
    context = Context("adoscale-pass")
    with pytest.raises(BadEventError, match="action"):
        pass_.handler({"pool": "linux"}, context)
    with pytest.raises(BadEventError, match="no pool named 'other'"):
        pass_.handler({"action": "pass", "pool": "other"}, context)
    with pytest.raises(BadEventError, match="total"):
        pass_.handler({"action": "pass", "pool": "linux", "parallel": {"total": "many"}}, context)
    with pytest.raises(BadEventError, match="offset"):
        pass_.handler({"action": "round", "offset": True}, context)
    with pytest.raises(BadEventError, match="event"):
        pass_.handler(["not", "an", "object"], context)
    with pytest.raises(BadEventError, match="launched"):
        waiter.handler({"pool": "linux", "launched": "arn"}, Context("adoscale-waiter"))


def test_functions_run_the_zips_handlers_as_lambda_reports_them(routed_lambdas: list[str]) -> None:
    """Through Lambda's Invoke API: a handler's error is the invocation's error named by its class, and a
    handler the zip lacks fails at import as the Python runtime reports it."""
    _machine()
    lam = boto3.client("lambda", region_name="us-east-1")
    answer = lam.invoke(FunctionName="adoscale-pass", Payload=json.dumps({"pool": "linux"}))
    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"].read())["errorType"] == "BadEventError"
    lam.update_function_configuration(FunctionName="adoscale-waiter", Handler="adoscale_lab.emulator.app.handler")
    answer = lam.invoke(FunctionName="adoscale-waiter", Payload=b"{}")
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'adoscale_lab'" in error["errorMessage"]  # the rig is not in the zip
    assert routed_lambdas == ["adoscale-pass", "adoscale-waiter"]
