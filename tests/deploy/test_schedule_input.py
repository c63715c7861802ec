"""The schedule's input, as Terraform renders it, is what `adoscale.workflow.schedule_input()` computes: the
workflow and the simulator read their cadence from the Python function, the deployment from Terraform's
expression. A plan of the control-plane module (a copy, alone) into moto_server on 127.0.0.1, with the
defaults and with another cadence, read back from `terraform show -json`."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from adoscale.workflow import schedule_input
from tests.deploy.deploying import moto_provider_override, moto_server
from tests.deploy.terraform import MODULES, cli_env, run

CONTROL_PLANE = next(m for m in MODULES if m.name == "control-plane")
LAMBDA_FUNCTION = next(m for m in MODULES if m.name == "lambda-function")

ROOT = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

provider "aws" {
  region = "us-east-1"
}

locals {
  common = {
    lambda_zip_path        = "${path.root}/package.zip"
    azp_url                = "https://dev.azure.com/acme"
    cluster_arn            = "arn:aws:ecs:us-east-1:123456789012:cluster/adoscale"
    task_definition_family = "adoscale-agent"
    pass_role_arns         = ["arn:aws:iam::123456789012:role/adoscale-agent-task"]
    config_json            = jsonencode({ organization_url = "https://dev.azure.com/acme", pools = [] })
  }
}

module "defaults" {
  source                 = "./control-plane"
  name                   = "adoscale"
  lambda_zip_path        = local.common.lambda_zip_path
  azp_url                = local.common.azp_url
  cluster_arn            = local.common.cluster_arn
  task_definition_family = local.common.task_definition_family
  pass_role_arns         = local.common.pass_role_arns
  config_json            = local.common.config_json
}

module "three_rounds" {
  source                 = "./control-plane"
  name                   = "other"
  lambda_zip_path        = local.common.lambda_zip_path
  azp_url                = local.common.azp_url
  cluster_arn            = local.common.cluster_arn
  task_definition_family = local.common.task_definition_family
  pass_role_arns         = local.common.pass_role_arns
  config_json            = local.common.config_json
  rounds_per_execution   = 3
  cadence_seconds        = 20
}
"""


def _schedule_inputs(shown: dict[str, Any]) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for module in shown["planned_values"]["root_module"].get("child_modules", []):
        for resource in module.get("resources", []):
            if resource["type"] == "aws_scheduler_schedule":
                inputs[module["address"]] = json.loads(resource["values"]["target"][0]["input"])
    return inputs


@pytest.mark.slow
def test_terraforms_schedule_input_is_the_python_functions(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for module in (CONTROL_PLANE, LAMBDA_FUNCTION):  # control-plane and the module it uses, side by side
        shutil.copytree(module, root / module.name, ignore=shutil.ignore_patterns(".terraform*"))
    (root / "main.tf").write_text(ROOT)
    with zipfile.ZipFile(root / "package.zip", "w") as package:
        package.writestr("placeholder.py", "")  # the plan hashes the file; nothing runs it
    env = cli_env(tmp_path)
    init = run(["init", "-input=false", "-no-color"], root, env)
    assert init.returncode == 0, init.stdout + init.stderr
    with moto_server(tmp_path / "moto.log") as endpoint:
        (root / "moto_override.tf").write_text(moto_provider_override(endpoint))
        plan = run(["plan", "-input=false", "-no-color", "-out=tfplan"], root, env)
        assert plan.returncode == 0, plan.stdout[-4000:] + plan.stderr[-4000:]
    shown = run(["show", "-json", "-no-color", "tfplan"], root, env)
    assert shown.returncode == 0, shown.stderr
    inputs = _schedule_inputs(json.loads(shown.stdout))
    assert inputs == {
        "module.defaults": schedule_input(),
        "module.three_rounds": schedule_input(rounds=3, cadence_s=20),
    }
    assert inputs["module.defaults"]["offsets"] == [0, 15, 30, 45]  # what the module's defaults mean
