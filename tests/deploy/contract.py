"""The deploy contract: rules that the real AWS services enforce and moto does not, checked on the JSON of
`terraform show -json` (applied state, or a saved plan). Each rule is one function returning the list of
violations it found (empty: the rule holds) and cites the AWS documentation it encodes.

The IAM evaluation is deliberately small: Allow statements of identity policies attached to a role and of
key policies, actions and resources matched with IAM's wildcards; conditions are not evaluated (they can
only narrow a grant, and every grant checked here is one the stack needs to hold unconditionally).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

Resource = dict[str, Any]


@dataclass
class Stack:
    """The managed resources of a state or plan, by type, and the adoscale configuration they deploy."""

    resources: list[Resource] = field(default_factory=list)

    @classmethod
    def from_show_json(cls, document: dict[str, Any]) -> Stack:
        root = document.get("values", document.get("planned_values", {})).get("root_module", {})
        return cls(list(_walk(root)))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [r["values"] for r in self.resources if r["type"] == kind]

    def pools(self) -> list[dict[str, Any]]:
        """The pools of every adoscale configuration the stack writes (the SSM parameter's value)."""
        found: list[dict[str, Any]] = []
        for parameter in self.of("aws_ssm_parameter"):
            try:
                config = json.loads(parameter.get("value") or "")
            except ValueError:
                continue
            if isinstance(config, dict) and isinstance(config.get("pools"), list):
                found += config["pools"]
        return found

    # -- IAM --------------------------------------------------------------------------------------------

    def role_statements(self, role_arn: str) -> list[dict[str, Any]]:
        """Allow statements of every identity policy attached to the role (inline or by attachment)."""
        role = next((r for r in self.of("aws_iam_role") if r.get("arn") == role_arn), None)
        if role is None:
            return []
        name = role["name"]
        documents = [p.get("policy") for p in self.of("aws_iam_role_policy") if p.get("role") in (name, role["id"])]
        documents += [p.get("policy") for p in role.get("inline_policy") or []]
        managed = {p.get("arn"): p.get("policy") for p in self.of("aws_iam_policy")}
        documents += [
            managed.get(a.get("policy_arn")) for a in self.of("aws_iam_role_policy_attachment") if a.get("role") == name
        ]
        return [s for doc in documents if doc for s in _allow_statements(doc)]

    def role_may(self, role_arn: str, action: str, resource: str) -> bool:
        return any(_grants(s, action, resource) for s in self.role_statements(role_arn))

    def key_allows(self, key: dict[str, Any], role_arn: str, action: str) -> bool:
        """KMS: the key policy names the role, or delegates to the account (root) and IAM grants it."""
        account = role_arn.split(":")[4]
        delegated = False
        for statement in _allow_statements(key.get("policy") or "{}"):
            if not _matches_any(statement.get("Action", []), action):
                continue
            principals = (
                _as_list((statement.get("Principal") or {}).get("AWS", []))
                if isinstance(statement.get("Principal"), dict)
                else _as_list(statement.get("Principal"))
            )
            for principal in principals:
                if principal in (role_arn, "*"):
                    return True
                if principal in (f"arn:aws:iam::{account}:root", account):
                    delegated = True
        return delegated and self.role_may(role_arn, action, key["arn"])

    def key_allows_service(self, key: dict[str, Any], service: str, action: str) -> bool:
        for statement in _allow_statements(key.get("policy") or "{}"):
            principal = statement.get("Principal")
            services = _as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
            if any(fnmatchcase(service, s) for s in services) and _matches_any(statement.get("Action", []), action):
                return True
        return False

    def key(self, reference: str | None) -> dict[str, Any] | None:
        """The customer key named by an ARN, id or alias ARN; None for AWS-managed keys and unknowns."""
        if not reference:
            return None
        for key in self.of("aws_kms_key"):
            if reference in (key.get("arn"), key.get("key_id"), key.get("id")):
                return key
        for alias in self.of("aws_kms_alias"):
            if reference in (alias.get("arn"), alias.get("name")):
                return self.key(alias.get("target_key_arn") or alias.get("target_key_id"))
        return None

    def roles_granted(self, action: str, resource: str) -> list[str]:
        return [r["arn"] for r in self.of("aws_iam_role") if self.role_may(r["arn"], action, resource)]


def _walk(module: dict[str, Any]) -> Iterator[Resource]:
    for resource in module.get("resources", []):
        if resource.get("mode") == "managed":
            yield resource
    for child in module.get("child_modules", []):
        yield from _walk(child)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _allow_statements(policy: str | dict[str, Any]) -> list[dict[str, Any]]:
    document = json.loads(policy) if isinstance(policy, str) else policy
    return [s for s in _as_list(document.get("Statement")) if s.get("Effect") == "Allow"]


def _matches_any(patterns: Any, value: str) -> bool:
    return any(fnmatchcase(value.lower(), str(p).lower()) for p in _as_list(patterns))


def _grants(statement: dict[str, Any], action: str, resource: str) -> bool:
    return _matches_any(statement.get("Action", []), action) and any(
        fnmatchcase(resource, str(p)) for p in _as_list(statement.get("Resource", []))
    )


# -- the rules -------------------------------------------------------------------------------------------

DEFAULT_ROUTE = "0.0.0.0/0"


def _default_route(stack: Stack, subnet: dict[str, Any]) -> dict[str, Any] | None:
    """The subnet's 0.0.0.0/0 route: from its associated route table, else the VPC's main one."""
    tables = {t["id"]: t for t in stack.of("aws_route_table")}
    table_id = next(
        (a["route_table_id"] for a in stack.of("aws_route_table_association") if a.get("subnet_id") == subnet["id"]),
        None,
    )
    if table_id is None:
        vpc = next((v for v in stack.of("aws_vpc") if v["id"] == subnet["vpc_id"]), None)
        table_id = vpc.get("main_route_table_id") if vpc else None
    routes = [r for r in (tables.get(table_id) or {}).get("route") or [] if r.get("cidr_block") == DEFAULT_ROUTE]
    routes += [
        r
        for r in stack.of("aws_route")
        if r.get("route_table_id") == table_id and r.get("destination_cidr_block") == DEFAULT_ROUTE
    ]
    return routes[0] if routes else None


def _route_target(route: dict[str, Any]) -> str:
    if route.get("nat_gateway_id"):
        return "nat"
    if route.get("transit_gateway_id"):
        return "tgw"
    if str(route.get("gateway_id") or "").startswith("igw-"):
        return "igw"
    return "none"


def _consumers_with_subnets(stack: Stack) -> Iterator[tuple[str, list[str], bool, list[str]]]:
    """(who, subnets, public IP on, security groups) for each pool and each VM Auto Scaling group."""
    for pool in stack.pools():
        ecs = pool.get("ecs") or {}
        yield (
            f"pool {pool.get('name')}",
            list(ecs.get("subnets") or []),
            bool(ecs.get("assign_public_ip")),
            list(ecs.get("security_groups") or []),
        )
    templates = {t["id"]: t for t in stack.of("aws_launch_template")}
    for group in stack.of("aws_autoscaling_group"):
        spec = (group.get("launch_template") or [{}])[0]
        template = templates.get(spec.get("id")) or {}
        interfaces = template.get("network_interfaces") or []
        public = any(str(i.get("associate_public_ip_address")).lower() == "true" for i in interfaces)
        groups = list(template.get("vpc_security_group_ids") or [])
        for interface in interfaces:
            groups += interface.get("security_groups") or []
        yield f"VM group {group.get('name')}", list(group.get("vpc_zone_identifier") or []), public, groups


def rule_default_route(stack: Stack) -> list[str]:
    """Fargate tasks and VMs must reach ECR, Secrets Manager, CloudWatch Logs and dev.azure.com: a task in a
    private subnet needs a default route through a NAT gateway (or a transit gateway towards one); one in a
    public subnet needs the internet gateway route *and* a public IP.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-networking.html
    https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Internet_Gateway.html
    https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway.html"""
    subnets = {s["id"]: s for s in stack.of("aws_subnet")}
    problems: list[str] = []
    for who, subnet_ids, public_ip, _groups in _consumers_with_subnets(stack):
        if not subnet_ids:
            problems.append(f"{who}: no subnets")
        for subnet_id in subnet_ids:
            subnet = subnets.get(subnet_id)
            if subnet is None:
                continue  # brought by the user: outside what this stack can see
            route = _default_route(stack, subnet)
            target = "none" if route is None else _route_target(route)
            if target == "igw" and not (public_ip or subnet.get("map_public_ip_on_launch")):
                problems.append(f"{who}: subnet {subnet_id} routes to an internet gateway but gets no public IP")
            elif target == "none":
                problems.append(
                    f"{who}: subnet {subnet_id} has no default route through a NAT, transit or internet gateway"
                )
    for nat in stack.of("aws_nat_gateway"):
        if nat.get("connectivity_type", "public") == "public":
            route = _default_route(stack, subnets.get(nat["subnet_id"], {"id": nat["subnet_id"], "vpc_id": ""}))
            if route is None or _route_target(route) != "igw":
                problems.append(f"NAT gateway {nat['id']}: its subnet has no route to an internet gateway")
    return problems


def _egress_rules(stack: Stack, group_id: str) -> list[dict[str, Any]]:
    group = next((g for g in stack.of("aws_security_group") if g["id"] == group_id), {})
    rules = [dict(r) for r in group.get("egress") or []]
    rules += [
        {**r, "cidr_blocks": [r["cidr_ipv4"]] if r.get("cidr_ipv4") else [], "protocol": r.get("ip_protocol")}
        for r in stack.of("aws_vpc_security_group_egress_rule")
        if r.get("security_group_id") == group_id
    ]
    rules += [
        r
        for r in stack.of("aws_security_group_rule")
        if r.get("security_group_id") == group_id and r.get("type") == "egress"
    ]
    return rules


def _allows_https_out(rule: dict[str, Any]) -> bool:
    protocol = str(rule.get("protocol"))
    if protocol in ("-1", "all"):
        return bool(rule.get("cidr_blocks") or rule.get("prefix_list_ids"))
    return (
        protocol in ("tcp", "6")
        and int(rule.get("from_port") or 0) <= 443 <= int(rule.get("to_port") or 0)
        and bool(rule.get("cidr_blocks") or rule.get("prefix_list_ids"))
    )


def rule_https_egress(stack: Stack) -> list[str]:
    """Every agent (task or VM) names at least one security group, and its groups allow TCP 443 out: with no
    group ECS and EC2 attach the VPC's default one, and a group without a matching egress rule drops the
    connection to ECR, Secrets Manager, CloudWatch Logs and Azure DevOps.
    https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_AwsVpcConfiguration.html"""
    known = {g["id"] for g in stack.of("aws_security_group")}
    problems: list[str] = []
    for who, _subnets, _public, groups in _consumers_with_subnets(stack):
        if not groups:
            problems.append(f"{who}: no security group (the VPC's default group applies)")
            continue
        mine = [g for g in groups if g in known]
        if mine and not any(_allows_https_out(r) for g in mine for r in _egress_rules(stack, g)):
            problems.append(f"{who}: security groups {mine} allow no HTTPS (TCP 443) out")
    return problems


def _task_definition_secret_arns(task_definition: dict[str, Any]) -> list[str]:
    containers = json.loads(task_definition.get("container_definitions") or "[]")
    return [s["valueFrom"] for c in containers for s in c.get("secrets") or []]


def rule_kms_decrypt(stack: Stack) -> list[str]:
    """Whoever reads data encrypted with a customer managed key needs kms:Decrypt on that key: the ECS task
    execution role for secrets injected into a task; any role reading the secret or a SecureString
    parameter; the Scheduler's execution role for a schedule encrypted with the key; a function's role for
    environment variables encrypted with the key; CloudWatch Logs (in the key policy) for an encrypted log
    group; and publishers to an encrypted SNS topic need kms:GenerateDataKey and kms:Decrypt.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html
    https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/security_iam_id-based-policy-examples.html
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/encryption-rest.html
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-encryption.html
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html"""
    problems: list[str] = []

    def need(key: dict[str, Any] | None, role: str, action: str, what: str) -> None:
        if key is not None and role and not stack.key_allows(key, role, action):
            problems.append(f"{role.rsplit('/', 1)[-1]}: no {action} on the key of {what}")

    secrets = {s["arn"]: stack.key(s.get("kms_key_id")) for s in stack.of("aws_secretsmanager_secret")}
    for arn, key in secrets.items():
        for role in stack.roles_granted("secretsmanager:GetSecretValue", arn):
            need(key, role, "kms:Decrypt", f"secret {arn.rsplit(':', 1)[-1]}")
    for task_definition in stack.of("aws_ecs_task_definition"):
        for source in _task_definition_secret_arns(task_definition):
            if source in secrets:
                need(
                    secrets[source], task_definition.get("execution_role_arn", ""), "kms:Decrypt", "an injected secret"
                )
    for parameter in stack.of("aws_ssm_parameter"):
        if parameter.get("type") == "SecureString":
            for role in stack.roles_granted("ssm:GetParameter", parameter["arn"]):
                need(stack.key(parameter.get("key_id")), role, "kms:Decrypt", f"parameter {parameter['name']}")
    for schedule in stack.of("aws_scheduler_schedule"):
        for target in schedule.get("target") or []:
            need(
                stack.key(schedule.get("kms_key_arn")),
                target.get("role_arn", ""),
                "kms:Decrypt",
                f"schedule {schedule['name']}",
            )
    for function in stack.of("aws_lambda_function"):
        if function.get("environment"):
            need(
                stack.key(function.get("kms_key_arn")),
                function["role"],
                "kms:Decrypt",
                f"{function['function_name']}'s environment",
            )
    for topic in stack.of("aws_sns_topic"):
        key = stack.key(topic.get("kms_master_key_id"))
        for role in stack.roles_granted("sns:Publish", topic["arn"]):
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                need(key, role, action, f"topic {topic['name']}")
    for queue in stack.of("aws_sqs_queue"):
        key = stack.key(queue.get("kms_master_key_id"))
        for role in stack.roles_granted("sqs:SendMessage", queue["arn"]):
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                need(key, role, action, f"queue {queue['name']}")
    region_of = {k["arn"]: k["arn"].split(":")[3] for k in stack.of("aws_kms_key")}
    for group in stack.of("aws_cloudwatch_log_group"):
        key = stack.key(group.get("kms_key_id"))
        if key is not None:
            service = f"logs.{region_of[key['arn']]}.amazonaws.com"
            for action in ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"):
                if not stack.key_allows_service(key, service, action):
                    problems.append(f"log group {group['name']}: the key policy does not allow {service} {action}")
    return problems


LAMBDA_XRAY = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
STATES_XRAY = ("xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets")


def rule_tracing_grants(stack: Stack) -> list[str]:
    """Active tracing needs the role to write to X-Ray: a function's execution role (Lambda checks it when
    the function is created or updated) and a state machine's role.
    https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html
    https://docs.aws.amazon.com/step-functions/latest/dg/concepts-xray-tracing.html"""
    problems: list[str] = []
    for function in stack.of("aws_lambda_function"):
        if any(t.get("mode") == "Active" for t in function.get("tracing_config") or []):
            missing = [a for a in LAMBDA_XRAY if not stack.role_may(function["role"], a, "*")]
            if missing:
                problems.append(f"function {function['function_name']}: tracing is Active, its role lacks {missing}")
    for machine in stack.of("aws_sfn_state_machine"):
        if any(t.get("enabled") for t in machine.get("tracing_configuration") or []):
            missing = [a for a in STATES_XRAY if not stack.role_may(machine["role_arn"], a, "*")]
            if missing:
                problems.append(f"state machine {machine['name']}: tracing is on, its role lacks {missing}")
    return problems


def rule_immutable_tags(stack: Stack) -> list[str]:
    """An IMMUTABLE repository refuses to overwrite a tag, so a moving tag such as `latest` (or no tag,
    which means `latest`) cannot follow new builds: the task definition must name a versioned tag.
    https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-tag-mutability.html"""
    immutable = [
        r["repository_url"] for r in stack.of("aws_ecr_repository") if r.get("image_tag_mutability") == "IMMUTABLE"
    ]
    problems: list[str] = []
    for task_definition in stack.of("aws_ecs_task_definition"):
        for container in json.loads(task_definition.get("container_definitions") or "[]"):
            image = str(container.get("image", ""))
            repository, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
            if repository in immutable and tag in ("", "latest"):
                problems.append(f"task definition {task_definition['family']}: {image} on an IMMUTABLE repository")
    return problems


EMULATOR_AMI = re.compile(r"^ami-(12c6146b|[0-9a-f]{8})$")  # moto's made-up AMIs have 8 hex digits


def rule_real_ami(stack: Stack, emulator_amis: frozenset[str] = frozenset()) -> list[str]:
    """The VMs' image must exist in the account's region: an AMI id the emulator made up (moto's catalogue,
    8-digit ids) is refused by RunInstances. `resolve:ssm:<public parameter>` picks the current Amazon Linux
    2023 image at launch.
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/using-systems-manager-parameters.html
    https://docs.aws.amazon.com/linux/al2023/ug/ec2.html"""
    problems: list[str] = []
    for template in stack.of("aws_launch_template") + stack.of("aws_instance"):
        image = str(template.get("image_id") or template.get("ami") or "")
        if image.startswith("resolve:ssm:"):
            continue
        if not image or image in emulator_amis or EMULATOR_AMI.match(image):
            problems.append(f"launch template {template.get('name')}: image {image or '(none)'} is not a real AMI")
    return problems


def rule_pass_role_scoped(stack: Stack) -> list[str]:
    """iam:PassRole lets a principal hand a role to a service; limited with iam:PassedToService, the
    control plane can give the agents' roles to ECS tasks and to nothing else.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_identityandaccessmanagementiam.html"""
    problems: list[str] = []
    for role in stack.of("aws_iam_role"):
        for statement in stack.role_statements(role["arn"]):
            if _matches_any(statement.get("Action", []), "iam:PassRole"):
                conditions = statement.get("Condition") or {}
                if not any("iam:PassedToService" in c for c in conditions.values()):
                    problems.append(f"{role['name']}: iam:PassRole without an iam:PassedToService condition")
    return problems


def rule_task_role_reads_no_secret(stack: Stack) -> list[str]:
    """Job steps run with the task role's credentials (the task metadata endpoint hands them to any process
    in the container): it must not read the PAT. The execution role, which jobs never see, injects it.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html"""
    problems: list[str] = []
    secrets = [s["arn"] for s in stack.of("aws_secretsmanager_secret")]
    for task_definition in stack.of("aws_ecs_task_definition"):
        role = task_definition.get("task_role_arn")
        if role and any(stack.role_may(role, "secretsmanager:GetSecretValue", arn) for arn in secrets):
            problems.append(f"task definition {task_definition['family']}: the task role may read a secret")
    return problems


RULES: tuple[Callable[[Stack], list[str]], ...] = (
    rule_default_route,
    rule_https_egress,
    rule_kms_decrypt,
    rule_tracing_grants,
    rule_immutable_tags,
    rule_real_ami,
    rule_pass_role_scoped,
    rule_task_role_reads_no_secret,
)


def check(stack: Stack) -> dict[str, list[str]]:
    return {rule.__name__: problems for rule in RULES if (problems := rule(stack))}
