"""Each contract rule finds what it is meant to find: small hand-made stacks, one broken and one fixed per
rule, so that a rule that silently checks nothing fails here (the applied example only shows it passing)."""

from __future__ import annotations

import json
from typing import Any

from tests.deploy import contract

ACCOUNT = "123456789012"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k1"
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:pat"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/exec"


def stack(*resources: tuple[str, dict[str, Any]]) -> contract.Stack:
    return contract.Stack([{"type": t, "mode": "managed", "values": v} for t, v in resources])


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **s} for s in statements]})


def pool_config(subnets: list[str], groups: list[str], public: bool = False) -> tuple[str, dict[str, Any]]:
    config = {
        "pools": [{"name": "p", "ecs": {"subnets": subnets, "security_groups": groups, "assign_public_ip": public}}]
    }
    return "aws_ssm_parameter", {"name": "/c", "arn": "arn:p", "type": "String", "value": json.dumps(config)}


def network(target: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("aws_vpc", {"id": "vpc-1", "main_route_table_id": "rtb-main"}),
        ("aws_subnet", {"id": "subnet-1", "vpc_id": "vpc-1"}),
        ("aws_route_table", {"id": "rtb-1", "route": []}),
        ("aws_route_table_association", {"subnet_id": "subnet-1", "route_table_id": "rtb-1"}),
        ("aws_route", {"route_table_id": "rtb-1", "destination_cidr_block": "0.0.0.0/0", **target}),
    ]


def test_default_route() -> None:
    assert contract.rule_default_route(stack(pool_config(["subnet-1"], ["sg-1"]), *network({})))
    assert contract.rule_default_route(stack(pool_config(["subnet-1"], ["sg-1"]), *network({"gateway_id": "igw-1"})))
    assert not contract.rule_default_route(
        stack(pool_config(["subnet-1"], ["sg-1"], public=True), *network({"gateway_id": "igw-1"}))
    )
    assert not contract.rule_default_route(
        stack(pool_config(["subnet-1"], ["sg-1"]), *network({"transit_gateway_id": "tgw-1"}))
    )
    # A NAT gateway whose own subnet cannot reach the internet gateway carries nothing.
    nat = ("aws_nat_gateway", {"id": "nat-1", "subnet_id": "subnet-1", "connectivity_type": "public"})
    assert contract.rule_default_route(
        stack(pool_config(["subnet-1"], ["sg-1"]), *network({"nat_gateway_id": "nat-1"}), nat)
    )


def test_https_egress() -> None:
    assert contract.rule_https_egress(stack(pool_config(["s"], [])))  # the VPC's default group
    closed = (
        "aws_security_group",
        {"id": "sg-1", "egress": [{"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["0.0.0.0/0"]}]},
    )
    assert contract.rule_https_egress(stack(pool_config(["s"], ["sg-1"]), closed))
    https = (
        "aws_security_group",
        {"id": "sg-1", "egress": [{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"]}]},
    )
    assert not contract.rule_https_egress(stack(pool_config(["s"], ["sg-1"]), https))


def _secret_stack(*grants: dict[str, Any]) -> contract.Stack:
    key_policy = policy({"Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"})
    task = json.dumps([{"name": "agent", "image": "x:1", "secrets": [{"name": "AZP_TOKEN", "valueFrom": SECRET}]}])
    return stack(
        ("aws_kms_key", {"arn": KEY, "key_id": "k1", "id": "k1", "policy": key_policy}),
        ("aws_secretsmanager_secret", {"arn": SECRET, "kms_key_id": KEY}),
        ("aws_iam_role", {"arn": ROLE, "name": "exec", "id": "exec"}),
        (
            "aws_iam_role_policy",
            {
                "role": "exec",
                "policy": policy({"Action": "secretsmanager:GetSecretValue", "Resource": SECRET}, *grants),
            },
        ),
        ("aws_ecs_task_definition", {"family": "f", "execution_role_arn": ROLE, "container_definitions": task}),
    )


def test_kms_decrypt() -> None:
    assert contract.rule_kms_decrypt(_secret_stack())
    assert contract.rule_kms_decrypt(
        _secret_stack({"Action": "kms:Decrypt", "Resource": "arn:aws:kms:us-east-1:1:key/other"})
    )
    assert not contract.rule_kms_decrypt(_secret_stack({"Action": "kms:Decrypt", "Resource": KEY}))


def test_tracing_grants() -> None:
    function = ("aws_lambda_function", {"function_name": "f", "role": ROLE, "tracing_config": [{"mode": "Active"}]})
    role = ("aws_iam_role", {"arn": ROLE, "name": "exec", "id": "exec"})
    assert contract.rule_tracing_grants(stack(function, role))
    grant = ("aws_iam_role_policy", {"role": "exec", "policy": policy({"Action": ["xray:Put*"], "Resource": "*"})})
    assert not contract.rule_tracing_grants(stack(function, role, grant))


def test_immutable_tags() -> None:
    repo = ("aws_ecr_repository", {"repository_url": "1.dkr.ecr/agent", "image_tag_mutability": "IMMUTABLE"})

    def task(image: str) -> tuple[str, dict[str, Any]]:
        return "aws_ecs_task_definition", {"family": "f", "container_definitions": json.dumps([{"image": image}])}

    assert contract.rule_immutable_tags(stack(repo, task("1.dkr.ecr/agent:latest")))
    assert contract.rule_immutable_tags(stack(repo, task("1.dkr.ecr/agent")))
    assert not contract.rule_immutable_tags(stack(repo, task("1.dkr.ecr/agent:4.258.1")))


def test_real_ami() -> None:
    assert contract.rule_real_ami(stack(("aws_launch_template", {"name": "t", "image_id": "ami-12c6146b"})))
    ssm = "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    assert not contract.rule_real_ami(stack(("aws_launch_template", {"name": "t", "image_id": ssm})))
    assert not contract.rule_real_ami(
        stack(("aws_launch_template", {"name": "t", "image_id": "ami-0123456789abcdef0"}))
    )


def test_pass_role_scoped() -> None:
    role = ("aws_iam_role", {"arn": ROLE, "name": "exec", "id": "exec"})
    loose = ("aws_iam_role_policy", {"role": "exec", "policy": policy({"Action": "iam:PassRole", "Resource": "*"})})
    assert contract.rule_pass_role_scoped(stack(role, loose))
    scoped = policy(
        {
            "Action": "iam:PassRole",
            "Resource": "*",
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        }
    )
    assert not contract.rule_pass_role_scoped(stack(role, ("aws_iam_role_policy", {"role": "exec", "policy": scoped})))


def test_task_role_reads_no_secret() -> None:
    broken = _secret_stack()  # the only role reads the secret; make it the task role too
    task = next(r for r in broken.resources if r["type"] == "aws_ecs_task_definition")
    task["values"]["task_role_arn"] = ROLE
    assert contract.rule_task_role_reads_no_secret(broken)
    task["values"]["task_role_arn"] = f"arn:aws:iam::{ACCOUNT}:role/nothing"
    assert not contract.rule_task_role_reads_no_secret(broken)
