data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition
  functions = {
    queue_data = "adoscale.handlers.queue_data.handler"
    decide     = "adoscale.handlers.decide.handler"
    act        = "adoscale.handlers.act.handler"
    waiter     = "adoscale.handlers.waiter.handler"
    deregister = "adoscale.handlers.deregister.handler"
  }
  # The actions each function calls: one machine-readable list, checked against recorded calls in tests.
  function_actions = jsondecode(file("${path.module}/policies/actions.json"))
  cluster_name     = element(split("/", var.cluster_arn), length(split("/", var.cluster_arn)) - 1)
  task_arns        = "arn:${local.partition}:ecs:${local.region}:${local.account}:task/${local.cluster_name}/*"
  action_resources = {
    "secretsmanager:GetSecretValue" = [aws_secretsmanager_secret.pat.arn]
    "ssm:GetParameter"              = [aws_ssm_parameter.config.arn]
    "ecs:ListTasks"                 = ["*"] # ListTasks takes no task resource; scoped by the cluster condition
    "ecs:DescribeTasks"             = [local.task_arns]
    "ecs:RunTask"                   = ["arn:${local.partition}:ecs:${local.region}:${local.account}:task-definition/${var.task_definition_family}:*"]
    "ecs:StopTask"                  = [local.task_arns]
    "ecs:TagResource"               = [local.task_arns]
    "iam:PassRole"                  = var.pass_role_arns
  }
  cluster_scoped = ["ecs:ListTasks", "ecs:DescribeTasks", "ecs:RunTask", "ecs:StopTask"]
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
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com", "sns.amazonaws.com", "states.amazonaws.com"]
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
  recovery_window_in_days = 7
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
  tier   = length(var.config_json) > 4096 ? "Advanced" : "Standard"
  tags   = var.tags
  lifecycle {
    ignore_changes = [value] # `adoscale config push` owns the value after the first apply
  }
}

resource "aws_sns_topic" "alerts" {
  name              = "${var.name}-alerts"
  kms_master_key_id = aws_kms_key.this.id
  tags              = var.tags
}
