"""The deploy contract on examples/complete: the state read back (`terraform show -json`) and checked
against what the real AWS services refuse or break on (tests/deploy/contract.py; each rule cites its AWS
documentation). test_apply.py applies the example in each network mode and checks each state here
(`assert_contract`). Also: every module validates when copied alone, and bring-your-own-VPC plans."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import PAT
from tests.deploy import contract
from tests.deploy.deploying import moto_server, prepare
from tests.deploy.terraform import MODULES, TERRAFORM_DIR, cli_env, run

SOURCE = re.compile(r'^\s*source\s*=\s*"([^"]+)"', re.MULTILINE)


def _sources(module: Path) -> set[str]:
    """The `source` of every module call in `module`'s own .tf files."""
    return {m.group(1) for f in module.glob("*.tf") for m in SOURCE.finditer(f.read_text())}


def assert_contract(shown: dict[str, Any], name_prefix: str | None = None) -> contract.Stack:
    stack = contract.Stack.from_show_json(shown)
    assert stack.pools(), "the stack writes no pool configuration: nothing to check"
    problems = contract.check(stack, name_prefix)
    assert problems == {}, "\n".join(f"{rule}: {p}" for rule, ps in problems.items() for p in ps)
    return stack


def test_one_lambda_function_module_serves_every_function() -> None:
    """No copies to drift: the modules that deploy functions use the one `lambda-function` module."""
    copies = sorted(p.parent.relative_to(TERRAFORM_DIR) for p in TERRAFORM_DIR.rglob("lambda-function/main.tf"))
    assert copies == [Path("modules/lambda-function")]
    for name in ("control-plane", "vm-environment"):
        sources = {
            m.group(1) for f in (TERRAFORM_DIR / "modules" / name).glob("*.tf") for m in SOURCE.finditer(f.read_text())
        }
        assert "../lambda-function" in sources, name


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_module_validates_when_copied_alone(tmp_path: Path, module: Path) -> None:
    """A module with only what it names by relative path (`../lambda-function`) beside it."""
    alone = tmp_path / "alone" / module.name
    shutil.copytree(module, alone, ignore=shutil.ignore_patterns(".terraform*"))
    for source in {m.group(1) for f in module.glob("*.tf") for m in SOURCE.finditer(f.read_text())}:
        if source.startswith("../"):
            shutil.copytree(
                (module / source).resolve(), (alone / source).resolve(), ignore=shutil.ignore_patterns(".terraform*")
            )
    env = cli_env(tmp_path)
    init = run(["init", "-backend=false", "-input=false", "-no-color"], alone, env)
    assert init.returncode == 0, init.stdout + init.stderr
    done = run(["validate", "-no-color"], alone, env)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_bring_your_own_vpc_plans_without_the_network_module(tmp_path: Path) -> None:
    """With vpc_id and subnet_ids the example builds no network and puts its security group in that VPC.
    A plan is enough here (the apply path is the modes' own): about 10 s instead of a minute."""
    with moto_server(tmp_path / "moto.log") as endpoint:
        ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
        variables = {"ado_org_name": "acme", "ado_pat": PAT, "vpc_id": vpc, "subnet_ids": f'["{subnet}"]'}
        example = prepare(tmp_path, endpoint, variables)
        plan = example.plan()
        half = ["-var", "ado_org_name=acme", "-var", f"vpc_id={vpc}"]
        refused = run(["plan", "-input=false", "-no-color", *half], example.root, example.env)
        # Secrets Manager takes 0 (no recovery) or 7 to 30 days: anything else is refused at plan time.
        window = ["-var", "secret_recovery_window_days=3", "-var", "ado_org_name=acme"]
        bad_window = run(["plan", "-input=false", "-no-color", *window], example.root, example.env)
    assert refused.returncode != 0 and "vpc_id and subnet_ids go together" in refused.stderr
    assert bad_window.returncode != 0 and "0 or between 7 and 30" in bad_window.stderr
    planned = contract.Stack.from_show_json(plan)
    assert not planned.of("aws_vpc") and not planned.of("aws_subnet") and not planned.of("aws_nat_gateway")
    assert [g["vpc_id"] for g in planned.of("aws_security_group")] == [vpc]
    print(f"\nplan (own VPC): {example.timings['plan']:.0f} s")
