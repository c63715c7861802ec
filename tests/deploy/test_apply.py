"""`terraform apply` of examples/complete into one moto_server on 127.0.0.1 (one account), with the hooks
and the Environment VMs on, once in each network mode, and the deploy contract on every applied state:

1. `nat`, name prefix `adoscale`: one workflow run against the deployed resources and the ADO emulator
   that launches a task; the agent image pushed; then `terraform destroy`, which must succeed with the
   image in the repository (ECR force_delete) and free every name (secrets deleted without recovery).
2. `public`, the same prefix, right after: a deployment that reuses every name of the destroyed one, with
   the optional Docker pool (an EC2 pool) on.
3. `endpoints`, prefix `second`, while 2. is still there: two deployments side by side in one account.
   Then a configuration push of more than 4 KB (the parameter becomes Advanced) that Terraform must leave
   alone, and both destroyed.

Prints the timings of each step."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest

from adoscale_lab.emulator import AdoModel
from tests.conftest import PAT
from tests.deploy.deploying import Example, moto_server, prepare
from tests.deploy.terraform import run
from tests.deploy.test_contract import assert_contract
from tests.deploy.test_observability import assert_dashboard_and_alarms

COMMON = {
    "ado_org_name": "acme",
    "ado_pat": PAT,
    "enable_hooks": "true",
    "enable_vm_environment": "true",
    "vm_project": "Fabrikam",
    "vm_environment": "prod-vms",
    "secret_recovery_window_days": "0",  # what a deploy-destroy-deploy cycle needs (docs/deploy.md)
}


def run_workflow_once(endpoint: str, outputs: dict[str, str], model: AdoModel, org_url: str) -> None:
    # The stack points at https://dev.azure.com/acme; after the apply, the functions are pointed at the ADO
    # emulator instead (AZP_URL overrides the configuration's organization_url).
    lam = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1")
    for function in lam.list_functions()["Functions"]:
        variables = function["Environment"]["Variables"]
        assert variables["AZP_URL"] == "https://dev.azure.com/acme"
        lam.update_function_configuration(
            FunctionName=function["FunctionName"], Environment={"Variables": {**variables, "AZP_URL": org_url}}
        )
    pool = model.create_pool("linux-fargate")
    model.register_agent(pool, "adoscale-placeholder", online=False)
    model.queue_job(pool)
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1")
    execution = sfn.start_execution(
        stateMachineArn=outputs["workflow_arn"], input=json.dumps({"offsets": [0], "task_wait_s": 0})
    )["executionArn"]
    deadline = time.monotonic() + 120
    while (status := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the workflow did not finish"
        time.sleep(0.2)
    assert status["status"] == "SUCCEEDED", {k: status.get(k) for k in ("status", "error", "cause")}
    ecs = boto3.client("ecs", endpoint_url=endpoint, region_name="us-east-1")
    tasks = ecs.describe_tasks(
        cluster=outputs["cluster"], tasks=ecs.list_tasks(cluster=outputs["cluster"])["taskArns"]
    )["tasks"]
    assert len(tasks) == 1  # the queued job got its agent's task
    assert tasks[0]["taskDefinitionArn"].split("/")[-1].startswith("adoscale-agent:")


def push_image(endpoint: str, repository_url: str, tag: str) -> None:
    """What scripts/build-agent-image.sh leaves behind: an image in the repository, which ECR's
    DeleteRepository refuses to delete without force."""
    ecr = boto3.client("ecr", endpoint_url=endpoint, region_name="us-east-1")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    ecr.put_image(repositoryName=repository_url.split("/", 1)[1], imageManifest=json.dumps(manifest), imageTag=tag)


def destroyed(example: Example, label: str, timings: dict[str, float]) -> None:
    done = example.destroy()
    timings[f"destroy {label}"] = example.timings["destroy"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.slow
# The aws provider's polls (SQS attribute propagation, Lambda and ECS states) are most of its four minutes.
@pytest.mark.background
def test_deploy_destroy_redeploy_and_a_second_deployment(tmp_path: Path, model: AdoModel, org_url: str) -> None:
    timings: dict[str, float] = {}
    again: Example | None = None
    second: Example | None = None
    with moto_server(tmp_path / "moto.log") as endpoint:
        ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1")
        try:
            # 1. nat: apply, contract, run, push the image, destroy.
            first = prepare(tmp_path / "nat", endpoint, {**COMMON, "network_mode": "nat"})
            stack = assert_contract(first.apply(), "adoscale")
            timings["apply nat"] = first.timings["apply"]
            assert len(stack.of("aws_nat_gateway")) == 1 and len(stack.of("aws_autoscaling_group")) == 1
            outputs = first.outputs()
            assert outputs["hook_url"].startswith("https://") and outputs["hook_url"].endswith(".amazonaws.com/hooks")
            assert_dashboard_and_alarms(endpoint, outputs)
            run_workflow_once(endpoint, outputs, model, org_url)
            push_image(endpoint, outputs["ecr_repository_url"], "4.258.1")
            destroyed(first, "nat", timings)

            # 2. public, the same names again in the same account.
            # With the optional Docker pool (module ec2-pool, docs/ec2.md): its resources are held to the
            # contract too (IMDSv2 one hop, egress, a real image, instances that end with their job).
            docker = {"enable_docker_pool": "true", "docker_image_id": "ami-0abcdef1234567890"}
            again = prepare(tmp_path / "public", endpoint, {**COMMON, "network_mode": "public", **docker})
            stack = assert_contract(again.apply(), "adoscale")
            timings["apply public (same names)"] = again.timings["apply"]
            assert stack.pools()[0]["ecs"]["assign_public_ip"] is True and not stack.of("aws_vpc_endpoint")
            docker_pool = stack.pools()[1]
            assert docker_pool["name"] == "linux-docker" and docker_pool["capabilities"] == ["docker"]
            template = next(
                t for t in stack.of("aws_launch_template") if t["id"] == docker_pool["ec2"]["launch_template"]
            )
            assert template["instance_initiated_shutdown_behavior"] == "terminate"

            # 3. endpoints, another prefix, beside 2.
            tgw = ec2.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
            variables = {**COMMON, "network_mode": "endpoints", "transit_gateway_id": tgw, "name_prefix": "second"}
            second = prepare(tmp_path / "endpoints", endpoint, variables)
            stack = assert_contract(second.apply(), "second")
            timings["apply endpoints (second prefix)"] = second.timings["apply"]
            services = {e["service_name"].rsplit(".", 1)[-1] for e in stack.of("aws_vpc_endpoint")}
            assert services == {"api", "dkr", "logs", "secretsmanager", "ssm", "sts", "s3"}
            assert not stack.of("aws_nat_gateway")
            functions = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1").list_functions()
            names = {f["FunctionName"] for f in functions["Functions"]}
            assert {"adoscale-pass", "second-pass", "adoscale-vms-lifecycle", "second-vms-lifecycle"} <= names

            assert_config_push_is_left_alone(second, endpoint)
        finally:
            failures: list[str] = []
            for label, example in (("public", again), ("endpoints", second)):
                if example is not None:
                    try:
                        destroyed(example, label, timings)
                    except AssertionError as exc:  # destroy the other one all the same
                        failures.append(str(exc))
            print(
                "\nterraform (one moto_server on 127.0.0.1): " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
            )
    assert not failures, "\n".join(failures)


def assert_config_push_is_left_alone(example: Example, endpoint: str) -> None:
    """`adoscale config push` of a configuration over 4 KB makes SSM store the parameter as Advanced;
    Terraform must then plan no change to it (neither the value nor the tier, which cannot go back)."""
    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1")
    name = example.outputs()["config_parameter_name"]
    current = json.loads(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
    grown = json.dumps({**current, "pools": current["pools"] * 40})
    assert len(grown) > 4096
    ssm.put_parameter(Name=name, Value=grown, Type="SecureString", Overwrite=True, Tier="Advanced")
    address = "module.control_plane.aws_ssm_parameter.config"
    variables = [a for k, v in example.variables.items() for a in ("-var", f"{k}={v}")]
    plan = run(
        ["plan", "-input=false", "-no-color", "-detailed-exitcode", f"-target={address}", *variables],
        example.root,
        example.env,
    )
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]  # 2 would mean a change planned
