data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition
  # The functions this module deploys, each with its handler and the actions it calls: one machine-readable
  # list, also read by the packager (every handler must import from the zip) and the least-privilege tests.
  function_specs = jsondecode(file("${path.module}/functions.json"))
  functions      = { for name, spec in local.function_specs : name => spec.handler }
  # EC2 pools' actions (`ec2_actions`) are granted only when some pool launches from a template here.
  ec2_pools = length(var.ec2_launch_template_arns) > 0
  function_actions = {
    for name, spec in local.function_specs : name => concat(
      spec.actions,
      local.ec2_pools ? lookup(spec, "ec2_actions", []) : [],
      local.backoff ? lookup(spec, "backoff_actions", []) : [],
    )
  }
  # With hooks the schedule backs off (workflow.tf): it invokes the pass function's tick, which starts the
  # workflow only when a pool is due (`backoff_actions`).
  backoff = var.enable_hooks && var.idle_observe_minutes > 1
  # The state machine's ARN from its name: a reference to the resource would be a cycle (the machine's
  # definition names the pass function).
  state_machine_arn = "arn:${local.partition}:states:${local.region}:${local.account}:stateMachine:${var.name}"
  ec2_arn           = "arn:${local.partition}:ec2:${local.region}:${local.account}"
  template_ids      = [for arn in var.ec2_launch_template_arns : element(split("/", arn), length(split("/", arn)) - 1)]
  cluster_name      = element(split("/", var.cluster_arn), length(split("/", var.cluster_arn)) - 1)
  task_arns         = "arn:${local.partition}:ecs:${local.region}:${local.account}:task/${local.cluster_name}/*"
  action_resources = {
    "secretsmanager:GetSecretValue" = [aws_secretsmanager_secret.pat.arn]
    "ssm:GetParameter"              = [aws_ssm_parameter.config.arn]
    "ecs:ListTasks"                 = ["*"] # ListTasks takes no task resource; scoped by the cluster condition
    "ecs:DescribeTasks"             = [local.task_arns]
    "ecs:RunTask"                   = ["arn:${local.partition}:ecs:${local.region}:${local.account}:task-definition/${var.task_definition_family}:*"]
    "ecs:StopTask"                  = [local.task_arns]
    "ecs:TagResource"               = [local.task_arns]
    "iam:PassRole"                  = var.pass_role_arns
    "dynamodb:PutItem"              = [aws_dynamodb_table.lease.arn]
    "dynamodb:DeleteItem"           = [aws_dynamodb_table.lease.arn]
    "dynamodb:GetItem"              = [aws_dynamodb_table.lease.arn]
    "states:StartExecution"         = [local.state_machine_arn]
    # The hook function queues a pool's pass as an asynchronous invocation of itself (adoscale.hooks.requests):
    # its own ARN, built from its name (a reference to the module's output would be a cycle).
    "lambda:InvokeFunction" = ["arn:${local.partition}:lambda:${local.region}:${local.account}:function:${var.name}-hook"]
    # EC2 pools (docs/ec2.md): CreateFleet names no resource of its own that can be scoped before it exists;
    # the instances it starts are authorised as RunInstances, allowed from the pools' launch templates only.
    "ec2:CreateFleet"        = ["*"]
    "ec2:RunInstances"       = ["*"]
    "ec2:CreateTags"         = ["${local.ec2_arn}:instance/*", "${local.ec2_arn}:volume/*", "${local.ec2_arn}:fleet/*"]
    "ec2:DescribeInstances"  = ["*"] # Describe* actions take no resource
    "ec2:TerminateInstances" = ["${local.ec2_arn}:instance/*"]
  }
  # ArnEquals conditions by action: ECS calls stay in the cluster; instances come from the pools' templates.
  action_conditions = {
    "ecs:ListTasks"     = { "ecs:cluster" = [var.cluster_arn] }
    "ecs:DescribeTasks" = { "ecs:cluster" = [var.cluster_arn] }
    "ecs:RunTask"       = { "ecs:cluster" = [var.cluster_arn] }
    "ecs:StopTask"      = { "ecs:cluster" = [var.cluster_arn] }
    "ec2:RunInstances"  = { "ec2:LaunchTemplate" = var.ec2_launch_template_arns }
  }
  # StringEquals conditions by action: EC2 tags every instance launched from a template with the template's
  # id (`aws:ec2launchtemplate:id`), so the controller terminates only instances of the pools' templates.
  action_string_conditions = {
    "iam:PassRole"           = { "iam:PassedToService" = local.ec2_pools ? ["ecs-tasks.amazonaws.com", "ec2.amazonaws.com"] : ["ecs-tasks.amazonaws.com"] }
    "ec2:TerminateInstances" = { "ec2:ResourceTag/aws:ec2launchtemplate:id" = local.template_ids }
  }
}

resource "aws_kms_key" "this" {
  description         = "${var.name}: PAT secret, configuration, logs and alerts"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.kms.json
  tags                = var.tags
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:a key policy's "*" resource means this key only; the account root delegates to IAM
  #checkov:skip=CKV_AWS_111:a key policy's "*" resource means this key only; the account root delegates to IAM
  #checkov:skip=CKV_AWS_356:a key policy's "*" resource means this key only; the account root delegates to IAM
  statement {
    sid       = "Account"
    actions   = ["kms:*"]
    resources = ["*"] # a key policy's resource is the key itself
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account}:root"]
    }
  }
  statement {
    sid       = "Services"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"] # a key policy's resource is the key itself
    principals {
      type = "Service"
      # cloudwatch: the workflow's alarms publish to the encrypted alert topic with this key.
      identifiers = ["logs.${local.region}.amazonaws.com", "sns.amazonaws.com", "states.amazonaws.com", "cloudwatch.amazonaws.com"]
    }
  }
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_secretsmanager_secret" "pat" {
  #checkov:skip=CKV2_AWS_57:a PAT is issued and rotated in Azure DevOps, not by a Secrets Manager rotation Lambda
  name                    = "${var.name}/ado-pat"
  description             = "Azure DevOps PAT for adoscale (Agent Pools and Environment: read & manage)"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.secret_recovery_window_days # 0: a redeploy can reuse the name at once
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "pat" {
  count         = var.ado_pat == null ? 0 : 1
  secret_id     = aws_secretsmanager_secret.pat.id
  secret_string = var.ado_pat
}

resource "aws_ssm_parameter" "config" {
  name   = "/${var.name}/config"
  type   = "SecureString"
  key_id = aws_kms_key.this.arn
  value  = var.config_json
  # SSM picks Standard or Advanced by size: a parameter that grows past 4 KB (config push) becomes
  # Advanced and can never go back to Standard, so Terraform must not try.
  tier = "Intelligent-Tiering"
  tags = var.tags
  lifecycle {
    ignore_changes = [tier, value] # `adoscale config push` owns the value (and so the tier) after the first apply
  }
}

resource "aws_sns_topic" "alerts" {
  name              = "${var.name}-alerts"
  kms_master_key_id = aws_kms_key.this.id
  tags              = var.tags
}

# Single flight per pool: a pass takes its pool's lease with a conditional write and gives it back at the
# end; `expires_at` is also the TTL attribute, so an abandoned lease item disappears by itself.
resource "aws_dynamodb_table" "lease" {
  name         = "${var.name}-leases"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pool"
  attribute {
    name = "pool"
    type = "S"
  }
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }
  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }
  tags = var.tags
}
