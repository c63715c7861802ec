"""The deploy contract on examples/complete: applied into moto with only the required inputs (plus the
network mode, and for `endpoints` the transit gateway it needs), then the state read back (`terraform show
-json`) and checked against what the real AWS services refuse or break on (tests/deploy/contract.py; each
rule cites its AWS documentation). The default mode (nat) is checked by test_apply.py on the one stack it
applies, runs and destroys; the other two here. Also: every module validates when copied alone."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import PAT
from tests.deploy import contract
from tests.deploy.deploying import moto_server, prepare
from tests.deploy.terraform import MODULES, cli_env, run


def assert_contract(shown: dict[str, Any]) -> contract.Stack:
    stack = contract.Stack.from_show_json(shown)
    assert stack.pools(), "the stack writes no pool configuration: nothing to check"
    problems = contract.check(stack)
    assert problems == {}, "\n".join(f"{rule}: {p}" for rule, ps in problems.items() for p in ps)
    return stack


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["public", "endpoints"])
def test_contract_holds_in_each_network_mode(tmp_path: Path, mode: str) -> None:
    with moto_server(tmp_path / "moto.log") as endpoint:
        variables = {"ado_org_name": "acme", "ado_pat": PAT, "network_mode": mode}
        if mode == "public":  # the Environment VMs too: their group, routes, public IPs and image are checked
            variables |= {"enable_vm_environment": "true", "vm_project": "Fabrikam", "vm_environment": "prod-vms"}
        if mode == "endpoints":  # the organisation's transit gateway to its egress VPC exists beforehand
            ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1")
            variables["transit_gateway_id"] = ec2.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
        example = prepare(tmp_path, endpoint, variables)
        stack = assert_contract(example.apply())
    print(f"\ncontract ({mode}): apply {example.timings['apply']:.0f} s, {len(stack.resources)} resources")
    pool = stack.pools()[0]["ecs"]
    assert pool["assign_public_ip"] is (mode == "public")
    endpoints = {e["service_name"].rsplit(".", 1)[-1] for e in stack.of("aws_vpc_endpoint")}
    assert endpoints == ({"api", "dkr", "logs", "secretsmanager", "ssm", "sts", "s3"} if mode == "endpoints" else set())
    assert len(stack.of("aws_nat_gateway")) == 0
    assert len(stack.of("aws_autoscaling_group")) == (1 if mode == "public" else 0)


def test_the_nested_lambda_function_modules_are_one_module() -> None:
    """Each module carries its own copy (a module needs nothing outside its folder); they must not drift."""
    copies = [m / "modules" / "lambda-function" for m in MODULES if (m / "modules" / "lambda-function").is_dir()]
    assert len(copies) == 2
    first, second = ({p.relative_to(c): p.read_bytes() for p in c.rglob("*") if p.is_file()} for c in copies)
    assert first == second, f"copy {copies[0]} over {copies[1]} after editing it"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_module_validates_when_copied_alone(tmp_path: Path, module: Path) -> None:
    alone = tmp_path / "alone" / module.name
    shutil.copytree(module, alone, ignore=shutil.ignore_patterns(".terraform*"))
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
        half = ["-var", "ado_org_name=acme", "-var", f"vpc_id={vpc}", "-var", f"aws_endpoint={endpoint}"]
        refused = run(["plan", "-input=false", "-no-color", *half], example.root, example.env)
    assert refused.returncode != 0 and "vpc_id and subnet_ids go together" in refused.stderr
    planned = contract.Stack.from_show_json(plan)
    assert not planned.of("aws_vpc") and not planned.of("aws_subnet") and not planned.of("aws_nat_gateway")
    assert [g["vpc_id"] for g in planned.of("aws_security_group")] == [vpc]
    print(f"\nplan (own VPC): {example.timings['plan']:.0f} s")
