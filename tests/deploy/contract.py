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
    # Address (instance keys dropped) -> addresses it was ordered after with an explicit `depends_on`, or
    # in an applied state any dependency terraform recorded (a plan's values carry none, so a plan's are
    # read from its configuration, where only the explicit ones are listed).
    dependencies: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def from_show_json(cls, document: dict[str, Any]) -> Stack:
        root = document.get("values", document.get("planned_values", {})).get("root_module", {})
        resources = list(_walk(root))
        dependencies = {_unindexed(r.get("address", "")): set(r.get("depends_on") or []) for r in resources}
        for address, after in _configured_dependencies(document.get("configuration", {}).get("root_module", {})):
            dependencies.setdefault(address, set()).update(after)
        return cls(resources, dependencies)

    def entries(self, kind: str) -> list[Resource]:
        """The resources of a type with their addresses (`of` gives only their values)."""
        return [r for r in self.resources if r["type"] == kind]

    def ordered_after(self, resource: Resource, other_address: str) -> bool:
        return _unindexed(other_address) in self.dependencies.get(_unindexed(resource.get("address", "")), set())

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


def _unindexed(address: str) -> str:
    """`module.a[0].aws_x.b["k"]` -> `module.a.aws_x.b`: how terraform's state records dependencies."""
    return re.sub(r"\[[^\]]*\]", "", address)


def _configured_dependencies(module: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    for resource in module.get("resources", []):
        after = {f"{prefix}{d}" for d in resource.get("depends_on") or []}
        yield f"{prefix}{resource['address']}", after
    for name, call in (module.get("module_calls") or {}).items():
        yield from _configured_dependencies(call.get("module", {}), f"{prefix}module.{name}.")


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
    templates = {t["id"]: t for t in stack.of("aws_launch_template")}
    for pool in stack.pools():
        if isinstance(pool.get("ec2"), dict):
            # An EC2 pool: its subnets from the configuration, the rest from its launch template.
            template = templates.get(pool["ec2"].get("launch_template")) or {}
            interfaces = template.get("network_interfaces") or []
            public = any(str(i.get("associate_public_ip_address")).lower() == "true" for i in interfaces)
            groups = list(template.get("vpc_security_group_ids") or [])
            for interface in interfaces:
                groups += interface.get("security_groups") or []
            yield f"pool {pool.get('name')}", list(pool["ec2"].get("subnets") or []), public, groups
            continue
        ecs = pool.get("ecs") or {}
        yield (
            f"pool {pool.get('name')}",
            list(ecs.get("subnets") or []),
            bool(ecs.get("assign_public_ip")),
            list(ecs.get("security_groups") or []),
        )
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


# -- issue 19: failures reach someone; deploy, destroy and deploy again; operations ----------------------------

STATES_FAILURE_METRICS = ("ExecutionsTimedOut", "ExecutionsFailed", "ExecutionThrottled")
STATUS_CHANGE = "Step Functions Execution Status Change"


def _alarms_on(stack: Stack, namespace: str, metric: str, dimension: str, value: str) -> list[dict[str, Any]]:
    return [
        a
        for a in stack.of("aws_cloudwatch_metric_alarm")
        if a.get("namespace") == namespace
        and a.get("metric_name") == metric
        and (a.get("dimensions") or {}).get(dimension) == value
    ]


def rule_express_failures_alarmed(stack: Stack) -> list[str]:
    """Express workflows send no execution status-change events to EventBridge (only Standard workflows
    do), so a rule on "Step Functions Execution Status Change" never fires for them; their executions are
    watched through the AWS/States metrics, dimension StateMachineArn. Each failure metric needs an alarm
    whose action reaches an SNS topic.
    https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html
    https://docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html"""
    problems: list[str] = []
    express = [m for m in stack.of("aws_sfn_state_machine") if m.get("type") == "EXPRESS"]
    for machine in express:
        for metric in STATES_FAILURE_METRICS:
            alarms = _alarms_on(stack, "AWS/States", metric, "StateMachineArn", machine["arn"])
            if not any(":sns:" in str(action) for a in alarms for action in a.get("alarm_actions") or []):
                problems.append(f"state machine {machine['name']}: no {metric} alarm notifying an SNS topic")
    express_arns = {m["arn"] for m in express}
    for rule in stack.of("aws_cloudwatch_event_rule"):
        pattern = json.loads(rule.get("event_pattern") or "{}")
        if STATUS_CHANGE not in _as_list(pattern.get("detail-type")):
            continue
        named = set(_as_list((pattern.get("detail") or {}).get("stateMachineArn")))
        if express_arns & named or (express_arns and not named):
            problems.append(f"event rule {rule['name']}: Express workflows never emit '{STATUS_CHANGE}'")
    return problems


def rule_alarm_topic_key(stack: Stack) -> list[str]:
    """An alarm publishes to an SNS topic encrypted with a customer key only if the key policy lets
    cloudwatch.amazonaws.com use it (kms:GenerateDataKey* and kms:Decrypt); otherwise the notification is
    dropped silently.
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html"""
    topics = {t["arn"]: t for t in stack.of("aws_sns_topic")}
    problems: list[str] = []
    for alarm in stack.of("aws_cloudwatch_metric_alarm"):
        for action in alarm.get("alarm_actions") or []:
            key = stack.key((topics.get(action) or {}).get("kms_master_key_id"))
            if key is None:
                continue
            missing = [
                a
                for a in ("kms:GenerateDataKey", "kms:Decrypt")
                if not stack.key_allows_service(key, "cloudwatch.amazonaws.com", a)
            ]
            if missing:
                problems.append(f"alarm {alarm['alarm_name']}: the key of {action} denies cloudwatch {missing}")
    return problems


def _policies_granting(stack: Stack, role_arn: str, action: str, resource: str) -> list[str]:
    """Addresses of the aws_iam_role_policy resources that give the role the action on the resource."""
    role = next((r for r in stack.of("aws_iam_role") if r.get("arn") == role_arn), None)
    if role is None:
        return []
    return [
        p.get("address", "")
        for p in stack.entries("aws_iam_role_policy")
        if p["values"].get("role") in (role["name"], role["id"])
        and any(_grants(s, action, resource) for s in _allow_statements(p["values"].get("policy") or "{}"))
    ]


def rule_created_after_policy(stack: Stack) -> list[str]:
    """Two services check a role's permissions when the resource is created, so the role's policy must be in
    place first (`depends_on`: referencing the role alone lets terraform create both at once):
    Step Functions checks that a state machine's role may deliver logs (CreateStateMachine fails with
    AccessDeniedException), and Auto Scaling publishes a test message to an SNS lifecycle hook's target as
    the hook's role.
    https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/prepare-for-lifecycle-notifications.html"""
    problems: list[str] = []
    for entry in stack.entries("aws_sfn_state_machine"):
        machine = entry["values"]
        if not any(c.get("log_destination") for c in machine.get("logging_configuration") or []):
            continue
        policies = _policies_granting(stack, machine["role_arn"], "logs:CreateLogDelivery", "*")
        if not policies:
            problems.append(f"state machine {machine['name']}: its role may not deliver logs")
        elif not any(stack.ordered_after(entry, p) for p in policies):
            problems.append(f"state machine {machine['name']}: not created after its role's log-delivery policy")
    for entry in stack.entries("aws_autoscaling_group") + stack.entries("aws_autoscaling_lifecycle_hook"):
        values = entry["values"]
        hooks = values.get("initial_lifecycle_hook") or ([values] if entry["type"].endswith("hook") else [])
        for hook in hooks:
            target, role = hook.get("notification_target_arn"), hook.get("role_arn")
            if not target or not role:
                continue
            action = "sns:Publish" if ":sns:" in target else "sqs:SendMessage"
            policies = _policies_granting(stack, role, action, target)
            if not policies:
                problems.append(f"lifecycle hook {hook.get('name')}: its role may not {action} to {target}")
            elif not any(stack.ordered_after(entry, p) for p in policies):
                problems.append(f"lifecycle hook {hook.get('name')}: not created after its role's {action} policy")
    return problems


def rule_ecr_force_delete(stack: Stack) -> list[str]:
    """DeleteRepository refuses a repository that still holds images unless `force` is set: without
    `force_delete`, `terraform destroy` fails as soon as the agent image has been pushed.
    https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DeleteRepository.html"""
    return [
        f"repository {r['name']}: no force_delete" for r in stack.of("aws_ecr_repository") if not r.get("force_delete")
    ]


def rule_secret_recovery_window(stack: Stack) -> list[str]:
    """DeleteSecret takes a recovery window of 7 to 30 days, or none (ForceDeleteWithoutRecovery); while a
    secret waits for deletion its name cannot be reused, so only 0 lets a redeploy follow a destroy.
    https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html"""
    problems: list[str] = []
    for secret in stack.of("aws_secretsmanager_secret"):
        days = secret.get("recovery_window_in_days")
        if days is None or not (days == 0 or 7 <= int(days) <= 30):
            problems.append(f"secret {secret['name']}: recovery window {days} (0 or 7 to 30 days)")
    return problems


def rule_invocations_scoped(stack: Stack) -> list[str]:
    """A function's resource policy names who may invoke it: a service principal without `source_arn` lets
    any resource of that service, in any account, call it; principal "*" makes it public. API Gateway's
    grant is scoped to one API with its execution ARN. Function URLs with auth NONE created since October
    2025 also need lambda:InvokeFunction, which provider 5.x cannot limit to URL calls, so none may be used.
    https://docs.aws.amazon.com/lambda/latest/dg/permissions-function-services.html
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
    https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"""
    apis = [a["execution_arn"] for a in stack.of("aws_apigatewayv2_api") if a.get("execution_arn")]
    problems: list[str] = []
    for permission in stack.of("aws_lambda_permission"):
        who, source = str(permission.get("principal")), permission.get("source_arn")
        what = f"permission {permission.get('statement_id')} on {permission.get('function_name')}"
        if who == "*" or who.isdigit() or who.startswith("arn:"):
            problems.append(f"{what}: granted to {who}")
        elif who.endswith(".amazonaws.com") and not source:
            problems.append(f"{what}: {who} without source_arn")
        elif who == "apigateway.amazonaws.com" and not any(str(source).startswith(f"{a}/") for a in apis):
            problems.append(f"{what}: source_arn {source} is not an API of this stack")
    for url in stack.of("aws_lambda_function_url"):
        if url.get("authorization_type") == "NONE":
            problems.append(f"function URL of {url.get('function_name')}: public, needs an unscoped InvokeFunction")
    return problems


def rule_http_api_serves(stack: Stack) -> list[str]:
    """An HTTP API answers only through a deployed stage: the `$default` stage with auto-deploy serves every
    route at the API's root URL as soon as it changes. Its Lambda integrations must use payload format 2.0,
    the one adoscale's hook handler parses (1.0 has another event shape).
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-stages.html
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html"""
    problems: list[str] = []
    for api in stack.of("aws_apigatewayv2_api"):
        if api.get("protocol_type") != "HTTP":
            continue
        stages = [s for s in stack.of("aws_apigatewayv2_stage") if s.get("api_id") == api["id"]]
        if not any(s.get("name") == "$default" and s.get("auto_deploy") for s in stages):
            problems.append(f"API {api['name']}: no auto-deployed $default stage")
        for integration in stack.of("aws_apigatewayv2_integration"):
            if integration.get("api_id") == api["id"] and integration.get("payload_format_version") != "2.0":
                problems.append(f"API {api['name']}: integration {integration['id']} is not payload format 2.0")
    return problems


def rule_public_function_capped(stack: Stack) -> list[str]:
    """A function the internet can reach (API Gateway may invoke it, or anyone: a permission to "*", a
    function URL) has reserved concurrency: it then takes at most that many of the account's concurrent
    executions, so a flood cannot throttle the controller's own functions.
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html"""
    public = {
        str(p.get("function_name"))
        for p in stack.of("aws_lambda_permission")
        if p.get("principal") in ("apigateway.amazonaws.com", "*")
    }
    public |= {str(u.get("function_name")) for u in stack.of("aws_lambda_function_url")}
    problems: list[str] = []
    for function in stack.of("aws_lambda_function"):
        if {function.get("function_name"), function.get("arn")} & public:
            reserved = function.get("reserved_concurrent_executions")
            if reserved is None or int(reserved) < 1:
                problems.append(
                    f"function {function['function_name']}: reachable from the internet, no reserved concurrency"
                )
    return problems


def rule_parameter_tier(stack: Stack) -> list[str]:
    """A parameter over 4 KB must be Advanced, and an Advanced parameter can never go back to Standard:
    with a fixed Standard tier, `adoscale config push` of a large configuration fails, and a fixed tier
    in Terraform would fight the one SSM chose. Intelligent-Tiering lets SSM pick by size.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"""
    return [
        f"parameter {p['name']}: tier {p.get('tier')}, not Intelligent-Tiering"
        for p in stack.of("aws_ssm_parameter")
        if p.get("tier") != "Intelligent-Tiering"
    ]


MAX_TICK_AGE_S = 300


def rule_schedule_retry_bounded(stack: Stack) -> list[str]:
    """EventBridge Scheduler retries a target it could not invoke for up to 24 hours (185 attempts) by
    default; a scaling tick is stale once the next one is due, so a schedule gives up within minutes.
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-retry-policy.html"""
    problems: list[str] = []
    for schedule in stack.of("aws_scheduler_schedule"):
        for target in schedule.get("target") or []:
            policies = target.get("retry_policy") or []
            age = policies[0].get("maximum_event_age_in_seconds") if policies else None
            if age is None or int(age) > MAX_TICK_AGE_S:
                problems.append(f"schedule {schedule['name']}: retries a tick for {age or 86400} s")
    return problems


SPOT_WARNING_S = 120


def rule_spot_stop_timeout(stack: Stack) -> list[str]:
    """Fargate Spot sends SIGTERM two minutes before it reclaims a task; ECS then waits the container's
    `stopTimeout` (30 s by default, at most 120 s on Fargate) before SIGKILL. 120 s lets a job use the whole
    warning.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-capacity-providers.html
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#container_definition_timeout"""
    problems: list[str] = []
    for task_definition in stack.of("aws_ecs_task_definition"):
        if "FARGATE" not in (task_definition.get("requires_compatibilities") or []):
            continue
        for container in json.loads(task_definition.get("container_definitions") or "[]"):
            if container.get("stopTimeout") != SPOT_WARNING_S:
                problems.append(
                    f"task definition {task_definition['family']}: container {container.get('name')} "
                    f"stopTimeout {container.get('stopTimeout', 'default 30')} s, not {SPOT_WARNING_S}"
                )
    return problems


def rule_imdsv2_one_hop(stack: Stack) -> list[str]:
    """Instances require IMDSv2 session tokens, and the token's PUT answer may travel one hop only: a
    container on the instance sits one more hop away (the docker bridge), so it cannot get a token and with
    it the instance role's credentials.
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-v2-how-it-works.html
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-IMDS-new-instances.html"""
    problems: list[str] = []
    for template in stack.of("aws_launch_template"):
        options = (template.get("metadata_options") or [{}])[0]
        if options.get("http_tokens") != "required" or options.get("http_put_response_hop_limit") != 1:
            problems.append(
                f"launch template {template.get('name')}: http_tokens {options.get('http_tokens')}, "
                f"hop limit {options.get('http_put_response_hop_limit')} (required, 1)"
            )
    return problems


def rule_ec2_pool_instances_end(stack: Stack) -> list[str]:
    """An EC2 pool's agent powers its instance off after its one job; only a launch template whose
    `InstanceInitiatedShutdownBehavior` is `terminate` makes that the end of the instance ("Default: stop",
    and a stopped instance keeps its EBS volumes, billed). Its root volume is encrypted (a job's sources,
    images and caches are written there) and deleted with the instance, or it outlives it, billed.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RequestLaunchTemplateData.html
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/terminating-instances.html (shutdown behaviour)
    https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption.html"""
    problems: list[str] = []
    named = {str(p["ec2"].get("launch_template")) for p in stack.pools() if isinstance(p.get("ec2"), dict)}
    for template in stack.of("aws_launch_template"):
        if not named & {str(template.get("id")), str(template.get("name"))}:
            continue
        label = f"launch template {template.get('name')}"
        if template.get("instance_initiated_shutdown_behavior") != "terminate":
            shown = template.get("instance_initiated_shutdown_behavior") or "stop (the default)"
            problems.append(f"{label}: shutdown behaviour {shown}, not terminate")
        for mapping in template.get("block_device_mappings") or []:
            for ebs in mapping.get("ebs") or []:
                if (
                    str(ebs.get("encrypted")).lower() != "true"
                    or str(ebs.get("delete_on_termination")).lower() != "true"
                ):
                    problems.append(f"{label}: volume {mapping.get('device_name')} not encrypted and deleted with it")
    for pool in stack.pools():
        template = pool.get("ec2", {}).get("launch_template") if isinstance(pool.get("ec2"), dict) else None
        known = {str(t.get(k)) for t in stack.of("aws_launch_template") for k in ("id", "name")}
        if template is not None and str(template) not in known:
            problems.append(f"pool {pool.get('name')}: launch template {template} is not in the stack")
    return problems


def rule_s3_gateway_endpoint(stack: Stack) -> list[str]:
    """ECR serves image layers from S3: in a private subnet (default route through a NAT or transit
    gateway) every pull otherwise crosses that gateway, billed per GB. An S3 gateway endpoint, free,
    associated with the subnets' route tables, carries them.
    https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html
    https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-s3.html"""
    subnets = {s["id"]: s for s in stack.of("aws_subnet")}
    associated: dict[str, str] = {
        a["subnet_id"]: a["route_table_id"] for a in stack.of("aws_route_table_association") if a.get("subnet_id")
    }
    covered = {
        table
        for e in stack.of("aws_vpc_endpoint")
        if e.get("vpc_endpoint_type") == "Gateway" and str(e.get("service_name", "")).endswith(".s3")
        for table in e.get("route_table_ids") or []
    }
    covered |= {
        a["route_table_id"]
        for a in stack.of("aws_vpc_endpoint_route_table_association")
        if any(
            e["id"] == a.get("vpc_endpoint_id") and str(e.get("service_name", "")).endswith(".s3")
            for e in stack.of("aws_vpc_endpoint")
        )
    }
    problems: list[str] = []
    for who, subnet_ids, _public, _groups in _consumers_with_subnets(stack):
        for subnet_id in subnet_ids:
            subnet = subnets.get(subnet_id)
            route = _default_route(stack, subnet) if subnet is not None else None
            if route is None or _route_target(route) not in ("nat", "tgw"):
                continue  # public, or brought by the user: outside what this stack decides
            if associated.get(subnet_id) not in covered:
                problems.append(f"{who}: private subnet {subnet_id} has no S3 gateway endpoint on its route table")
    return problems


# Resource types whose `name` is scoped to a parent (a role, an API, a VPC), not to the account.
PARENT_SCOPED = {"aws_iam_role_policy", "aws_apigatewayv2_stage", "aws_default_security_group"}
NAME_ATTRIBUTES = ("name", "function_name", "family", "alarm_name")


def rule_names_prefixed(stack: Stack, prefix: str) -> list[str]:
    """Names are unique per account and region (tables, roles, functions, topics, secrets, log groups,
    schedules, clusters, alarms, parameters...): a second deployment in the account coexists only if every
    name carries its own prefix. Not in RULES: it needs the prefix the stack was deployed with.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html#reference_iam-quotas-names"""
    problems: list[str] = []
    for resource in stack.resources:
        if resource["type"] in PARENT_SCOPED:
            continue
        for attribute in NAME_ATTRIBUTES:
            name = resource["values"].get(attribute)
            if isinstance(name, str) and name and prefix not in name:
                problems.append(
                    f"{resource.get('address', resource['type'])}: {attribute} {name!r} does not carry {prefix!r}"
                )
                break
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
    rule_express_failures_alarmed,
    rule_alarm_topic_key,
    rule_created_after_policy,
    rule_ecr_force_delete,
    rule_secret_recovery_window,
    rule_invocations_scoped,
    rule_http_api_serves,
    rule_public_function_capped,
    rule_parameter_tier,
    rule_schedule_retry_bounded,
    rule_spot_stop_timeout,
    rule_ec2_pool_instances_end,
    rule_imdsv2_one_hop,
    rule_s3_gateway_endpoint,
)


def check(stack: Stack, name_prefix: str | None = None) -> dict[str, list[str]]:
    found = {rule.__name__: problems for rule in RULES if (problems := rule(stack))}
    if name_prefix is not None and (problems := rule_names_prefixed(stack, name_prefix)):
        found[rule_names_prefixed.__name__] = problems
    return found
