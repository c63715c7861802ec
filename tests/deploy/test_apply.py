"""`terraform apply` of examples/complete into moto_server on 127.0.0.1 with only the required inputs (the
organisation name and the PAT; the Lambda package where `adoscale package` writes it), the deploy contract
on the applied state (the default network mode, nat), one workflow run against the deployed resources and
the ADO emulator that launches a task, then `terraform destroy`. Prints timings."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest

from adoscale.emulator import AdoModel
from tests.conftest import PAT
from tests.deploy.deploying import moto_server, prepare
from tests.deploy.test_contract import assert_contract


@pytest.mark.slow
def test_apply_contract_run_destroy(tmp_path: Path, model: AdoModel, org_url: str) -> None:
    with moto_server(tmp_path / "moto.log") as endpoint:
        example = prepare(tmp_path, endpoint, {"ado_org_name": "acme", "ado_pat": PAT})
        destroyed = None
        try:
            stack = assert_contract(example.apply())
            assert len(stack.of("aws_nat_gateway")) == 1
            outputs = example.outputs()
            aws = {"endpoint_url": endpoint, "region_name": "us-east-1"}
            # The stack points at https://dev.azure.com/acme; after the apply, the functions are pointed at the
            # ADO emulator instead (AZP_URL overrides the configuration's organization_url).
            lam = boto3.client("lambda", **aws)
            for function in lam.list_functions()["Functions"]:
                variables = function["Environment"]["Variables"]
                assert variables["AZP_URL"] == "https://dev.azure.com/acme"
                lam.update_function_configuration(
                    FunctionName=function["FunctionName"], Environment={"Variables": {**variables, "AZP_URL": org_url}}
                )
            pool = model.create_pool("linux-fargate")
            model.register_agent(pool, "adoscale-placeholder", online=False)
            model.queue_job(pool)
            sfn = boto3.client("stepfunctions", **aws)
            execution = sfn.start_execution(
                stateMachineArn=outputs["workflow_arn"],
                input=json.dumps({"offsets": [0], "task_wait_s": 0}),
            )["executionArn"]
            deadline = time.monotonic() + 120
            while (status := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
                assert time.monotonic() < deadline, "the workflow did not finish"
                time.sleep(0.2)
            assert status["status"] == "SUCCEEDED", {k: status.get(k) for k in ("status", "error", "cause")}
            ecs = boto3.client("ecs", **aws)
            tasks = ecs.describe_tasks(
                cluster=outputs["cluster"], tasks=ecs.list_tasks(cluster=outputs["cluster"])["taskArns"]
            )["tasks"]
            assert len(tasks) == 1  # the queued job got its agent's task
            assert tasks[0]["taskDefinitionArn"].split("/")[-1].startswith("adoscale-agent:")
        finally:
            destroyed = example.destroy()
            timings = ", ".join(f"{k} {v:.0f} s" for k, v in example.timings.items())
            print(f"\nterraform (moto_server on 127.0.0.1): {timings}")
        assert destroyed.returncode == 0, destroyed.stdout[-3000:] + destroyed.stderr[-3000:]
