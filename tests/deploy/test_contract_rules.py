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


# -- issue 19 ---------------------------------------------------------------------------------------------

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:m"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"


def alarm(metric: str, actions: list[str] | None = None) -> tuple[str, dict[str, Any]]:
    return "aws_cloudwatch_metric_alarm", {
        "alarm_name": metric,
        "namespace": "AWS/States",
        "metric_name": metric,
        "dimensions": {"StateMachineArn": MACHINE},
        "alarm_actions": [TOPIC] if actions is None else actions,
    }


def test_express_failures_alarmed() -> None:
    machine = ("aws_sfn_state_machine", {"name": "m", "arn": MACHINE, "type": "EXPRESS"})
    every = [alarm(m) for m in contract.STATES_FAILURE_METRICS]
    assert not contract.rule_express_failures_alarmed(stack(machine, *every))
    assert contract.rule_express_failures_alarmed(stack(machine, *every[:2]))  # ExecutionThrottled missing
    assert contract.rule_express_failures_alarmed(stack(machine, *every[:2], alarm("ExecutionThrottled", [])))
    # The rule Express never feeds: flagged even with the alarms there.
    rule = (
        "aws_cloudwatch_event_rule",
        {
            "name": "failed",
            "event_pattern": json.dumps(
                {"detail-type": [contract.STATUS_CHANGE], "detail": {"stateMachineArn": [MACHINE]}}
            ),
        },
    )
    assert contract.rule_express_failures_alarmed(stack(machine, *every, rule))
    standard = ("aws_sfn_state_machine", {"name": "m", "arn": MACHINE, "type": "STANDARD"})
    assert not contract.rule_express_failures_alarmed(stack(standard, rule))


def test_alarm_topic_key() -> None:
    def key(*services: str) -> tuple[str, dict[str, Any]]:
        statement = {"Principal": {"Service": list(services)}, "Action": ["kms:GenerateDataKey*", "kms:Decrypt"]}
        return "aws_kms_key", {"arn": KEY, "key_id": "k1", "id": "k1", "policy": policy({**statement, "Resource": "*"})}

    topic = ("aws_sns_topic", {"name": "alerts", "arn": TOPIC, "kms_master_key_id": KEY})
    assert contract.rule_alarm_topic_key(stack(key("sns.amazonaws.com"), topic, alarm("ExecutionsFailed")))
    assert not contract.rule_alarm_topic_key(
        stack(key("sns.amazonaws.com", "cloudwatch.amazonaws.com"), topic, alarm("ExecutionsFailed"))
    )


def _ordered(first: str, then: dict[str, Any], depends: bool) -> contract.Stack:
    """A role, its policy (at address `policy`), and `then` (at address `then`) which uses the role."""
    role = {
        "type": "aws_iam_role",
        "mode": "managed",
        "address": "role",
        "values": {"arn": ROLE, "name": "r", "id": "r"},
    }
    grant = policy({"Action": first, "Resource": "*"})
    policy_resource = {
        "type": "aws_iam_role_policy",
        "mode": "managed",
        "address": "policy",
        "values": {"role": "r", "policy": grant},
    }
    kind = "aws_sfn_state_machine" if "role_arn" in then else "aws_autoscaling_group"
    user = {
        "type": kind,
        "mode": "managed",
        "address": "then[0]",
        "values": then,
        "depends_on": ["policy"] if depends else ["role"],
    }
    return contract.Stack.from_show_json({"values": {"root_module": {"resources": [role, policy_resource, user]}}})


def test_created_after_policy() -> None:
    machine = {"name": "m", "role_arn": ROLE, "logging_configuration": [{"log_destination": "arn:logs:*"}]}
    assert contract.rule_created_after_policy(_ordered("logs:CreateLogDelivery", machine, depends=False))
    assert not contract.rule_created_after_policy(_ordered("logs:CreateLogDelivery", machine, depends=True))
    assert contract.rule_created_after_policy(_ordered("logs:Nothing", machine, depends=True))  # no grant at all
    group = {
        "name": "g",
        "initial_lifecycle_hook": [{"name": "h", "notification_target_arn": TOPIC, "role_arn": ROLE}],
    }
    assert contract.rule_created_after_policy(_ordered("sns:Publish", group, depends=False))
    assert not contract.rule_created_after_policy(_ordered("sns:Publish", group, depends=True))


def test_created_after_policy_reads_a_plans_configuration() -> None:
    """A plan's values carry no dependencies: its configuration's explicit depends_on count, module-relative."""
    machine = {"name": "m", "role_arn": ROLE, "logging_configuration": [{"log_destination": "arn:logs:*"}]}
    resources = [
        {
            "type": "aws_iam_role",
            "mode": "managed",
            "address": "module.cp.aws_iam_role.r",
            "values": {"arn": ROLE, "name": "r", "id": "r"},
        },
        {
            "type": "aws_iam_role_policy",
            "mode": "managed",
            "address": "module.cp.aws_iam_role_policy.p",
            "values": {"role": "r", "policy": policy({"Action": "logs:*", "Resource": "*"})},
        },
        {
            "type": "aws_sfn_state_machine",
            "mode": "managed",
            "address": "module.cp.aws_sfn_state_machine.m",
            "values": machine,
        },
    ]
    configuration = {
        "module_calls": {
            "cp": {
                "module": {
                    "resources": [{"address": "aws_sfn_state_machine.m", "depends_on": ["aws_iam_role_policy.p"]}]
                }
            }
        }
    }
    plan = {"planned_values": {"root_module": {"resources": resources}}}
    assert contract.rule_created_after_policy(contract.Stack.from_show_json(plan))
    with_order = contract.Stack.from_show_json({**plan, "configuration": {"root_module": configuration}})
    assert not contract.rule_created_after_policy(with_order)


def test_ecr_force_delete() -> None:
    assert contract.rule_ecr_force_delete(stack(("aws_ecr_repository", {"name": "r", "force_delete": False})))
    assert not contract.rule_ecr_force_delete(stack(("aws_ecr_repository", {"name": "r", "force_delete": True})))


def test_secret_recovery_window() -> None:
    for days, broken in ((0, False), (7, False), (30, False), (3, True), (31, True), (None, True)):
        found = contract.rule_secret_recovery_window(
            stack(("aws_secretsmanager_secret", {"name": "s", "recovery_window_in_days": days}))
        )
        assert bool(found) is broken, days


API = "arn:aws:execute-api:us-east-1:123456789012:abc123"


def _hook_stack(**permission: Any) -> contract.Stack:
    return stack(
        ("aws_apigatewayv2_api", {"id": "abc123", "name": "hooks", "protocol_type": "HTTP", "execution_arn": API}),
        (
            "aws_lambda_permission",
            {"statement_id": "s", "function_name": "hook", "principal": "apigateway.amazonaws.com", **permission},
        ),
    )


def test_invocations_scoped() -> None:
    assert not contract.rule_invocations_scoped(_hook_stack(source_arn=f"{API}/*/POST/hooks"))
    assert contract.rule_invocations_scoped(_hook_stack())  # any API in any account
    assert contract.rule_invocations_scoped(_hook_stack(source_arn="arn:aws:execute-api:us-east-1:9:other/*"))
    assert contract.rule_invocations_scoped(_hook_stack(principal="*", source_arn=f"{API}/*"))
    url = ("aws_lambda_function_url", {"function_name": "hook", "authorization_type": "NONE"})
    assert contract.rule_invocations_scoped(stack(url))


def test_http_api_serves() -> None:
    api = ("aws_apigatewayv2_api", {"id": "a", "name": "hooks", "protocol_type": "HTTP"})
    v2 = ("aws_apigatewayv2_integration", {"id": "i", "api_id": "a", "payload_format_version": "2.0"})
    default = ("aws_apigatewayv2_stage", {"api_id": "a", "name": "$default", "auto_deploy": True})
    assert not contract.rule_http_api_serves(stack(api, v2, default))
    assert contract.rule_http_api_serves(stack(api, v2))  # no stage: every request 404s
    manual = ("aws_apigatewayv2_stage", {"api_id": "a", "name": "$default", "auto_deploy": False})
    assert contract.rule_http_api_serves(stack(api, v2, manual))
    v1 = ("aws_apigatewayv2_integration", {"id": "i", "api_id": "a", "payload_format_version": "1.0"})
    assert contract.rule_http_api_serves(stack(api, v1, default))


def test_public_function_capped() -> None:
    def function(reserved: int | None) -> tuple[str, dict[str, Any]]:
        return "aws_lambda_function", {"function_name": "hook", "reserved_concurrent_executions": reserved}

    def with_api(reserved: int | None) -> contract.Stack:
        hooked = _hook_stack(source_arn=f"{API}/*/POST/hooks")
        return contract.Stack([*hooked.resources, *stack(function(reserved)).resources])

    assert contract.rule_public_function_capped(with_api(-1))  # -1: unreserved, as the provider reads it back
    assert contract.rule_public_function_capped(with_api(None))
    assert not contract.rule_public_function_capped(with_api(5))
    assert not contract.rule_public_function_capped(stack(function(None)))  # nobody outside may call it
    url = ("aws_lambda_function_url", {"function_name": "hook", "authorization_type": "NONE"})
    assert contract.rule_public_function_capped(stack(function(None), url))


def test_parameter_tier() -> None:
    assert contract.rule_parameter_tier(stack(("aws_ssm_parameter", {"name": "/c", "tier": "Standard"})))
    assert not contract.rule_parameter_tier(stack(("aws_ssm_parameter", {"name": "/c", "tier": "Intelligent-Tiering"})))


def test_schedule_retry_bounded() -> None:
    def schedule(*retry: dict[str, Any]) -> contract.Stack:
        return stack(("aws_scheduler_schedule", {"name": "s", "target": [{"retry_policy": list(retry)}]}))

    assert contract.rule_schedule_retry_bounded(schedule())  # the service default: 24 h
    assert contract.rule_schedule_retry_bounded(schedule({"maximum_event_age_in_seconds": 86400}))
    assert not contract.rule_schedule_retry_bounded(schedule({"maximum_event_age_in_seconds": 120}))


def test_spot_stop_timeout() -> None:
    def task(container: dict[str, Any]) -> contract.Stack:
        definitions = json.dumps([{"name": "agent", **container}])
        return stack(
            (
                "aws_ecs_task_definition",
                {"family": "f", "requires_compatibilities": ["FARGATE"], "container_definitions": definitions},
            )
        )

    assert contract.rule_spot_stop_timeout(task({}))
    assert contract.rule_spot_stop_timeout(task({"stopTimeout": 30}))
    assert not contract.rule_spot_stop_timeout(task({"stopTimeout": 120}))


def test_imdsv2_one_hop() -> None:
    def template(**options: Any) -> contract.Stack:
        return stack(("aws_launch_template", {"name": "t", "metadata_options": [options]}))

    assert contract.rule_imdsv2_one_hop(template(http_tokens="optional", http_put_response_hop_limit=1))
    assert contract.rule_imdsv2_one_hop(template(http_tokens="required", http_put_response_hop_limit=2))
    assert contract.rule_imdsv2_one_hop(stack(("aws_launch_template", {"name": "t"})))
    assert not contract.rule_imdsv2_one_hop(template(http_tokens="required", http_put_response_hop_limit=1))


def test_s3_gateway_endpoint() -> None:
    private = [pool_config(["subnet-1"], ["sg-1"]), *network({"nat_gateway_id": "nat-1"})]
    assert contract.rule_s3_gateway_endpoint(stack(*private))
    s3 = {"id": "vpce-1", "vpc_endpoint_type": "Gateway", "service_name": "com.amazonaws.us-east-1.s3"}
    assert not contract.rule_s3_gateway_endpoint(
        stack(*private, ("aws_vpc_endpoint", {**s3, "route_table_ids": ["rtb-1"]}))
    )
    assert contract.rule_s3_gateway_endpoint(
        stack(*private, ("aws_vpc_endpoint", {**s3, "route_table_ids": ["rtb-other"]}))
    )
    association = ("aws_vpc_endpoint_route_table_association", {"vpc_endpoint_id": "vpce-1", "route_table_id": "rtb-1"})
    assert not contract.rule_s3_gateway_endpoint(stack(*private, ("aws_vpc_endpoint", s3), association))
    # Public subnets need none: the pull goes out through the internet gateway, free of per-GB charges.
    public = [pool_config(["subnet-1"], ["sg-1"], public=True), *network({"gateway_id": "igw-1"})]
    assert not contract.rule_s3_gateway_endpoint(stack(*public))


def test_names_prefixed() -> None:
    named = stack(
        ("aws_dynamodb_table", {"name": "blue-leases"}),
        ("aws_iam_role_policy", {"name": "least-privilege"}),  # unique within its role only
        ("aws_lambda_function", {"function_name": "blue-pass"}),
    )
    assert not contract.rule_names_prefixed(named, "blue")
    assert contract.rule_names_prefixed(stack(("aws_dynamodb_table", {"name": "adoscale-leases"})), "blue")
    assert contract.rule_names_prefixed(stack(("aws_lambda_function", {"function_name": "adoscale-pass"})), "blue")


def test_ec2_pool_instances_end() -> None:
    def with_pool(**template: Any) -> contract.Stack:
        config = {"pools": [{"name": "docker", "ec2": {"launch_template": "lt-1", "subnets": ["subnet-1"]}}]}
        parameter = {"name": "/c", "arn": "arn:p", "type": "String", "value": json.dumps(config)}
        return stack(("aws_ssm_parameter", parameter), ("aws_launch_template", {"id": "lt-1", "name": "t", **template}))

    root = {"device_name": "/dev/xvda", "ebs": [{"encrypted": "true", "delete_on_termination": "true"}]}
    good = {"instance_initiated_shutdown_behavior": "terminate", "block_device_mappings": [root]}
    assert not contract.rule_ec2_pool_instances_end(with_pool(**good))
    assert contract.rule_ec2_pool_instances_end(with_pool(**{**good, "instance_initiated_shutdown_behavior": ""}))
    plain = {"device_name": "/dev/xvda", "ebs": [{"encrypted": "false", "delete_on_termination": "true"}]}
    assert contract.rule_ec2_pool_instances_end(with_pool(**{**good, "block_device_mappings": [plain]}))
    # A template no EC2 pool names (the Environment VMs') is not held to it; a pool naming a missing one is.
    assert not contract.rule_ec2_pool_instances_end(stack(("aws_launch_template", {"id": "lt-9", "name": "vms"})))
    config = {"pools": [{"name": "docker", "ec2": {"launch_template": "lt-404"}}]}
    missing = stack(
        ("aws_ssm_parameter", {"name": "/c", "arn": "arn:p", "type": "String", "value": json.dumps(config)})
    )
    assert contract.rule_ec2_pool_instances_end(missing) == ["pool docker: launch template lt-404 is not in the stack"]
