# One adoscale Lambda function: arm64, its own role with only the given statements, its own log group.

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = var.function_name
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "this" {
  dynamic "statement" {
    for_each = var.statements
    content {
      actions   = statement.value.actions
      resources = statement.value.resources
      dynamic "condition" {
        for_each = statement.value.conditions
        content {
          test     = "ArnEquals"
          variable = condition.key
          values   = condition.value
        }
      }
      dynamic "condition" {
        for_each = statement.value.string_conditions
        content {
          test     = "StringEquals"
          variable = condition.key
          values   = condition.value
        }
      }
    }
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }
  statement {
    sid       = "Decrypt"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
  dynamic "statement" {
    for_each = var.tracing ? [1] : []
    content {
      sid       = "Tracing"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"] # X-Ray's write actions support no resource-level permissions
    }
  }
  dynamic "statement" {
    for_each = var.dead_letter_arn == null ? [] : [var.dead_letter_arn]
    content {
      sid       = "DeadLetters"
      actions   = ["sqs:SendMessage"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:calls Azure DevOps on the internet; a VPC would only add a NAT gateway's cost
  #checkov:skip=CKV_AWS_272:code signing needs a signing profile outside this module; the zip is reproducible and hashed
  #checkov:skip=CKV_AWS_115:reserved concurrency is optional (reserved_concurrency); a default reservation fails on new accounts' low quota
  #checkov:skip=CKV_AWS_116:a dead-letter queue is set where invocations are asynchronous (dead_letter_arn); the workflow's are synchronous
  function_name                  = var.function_name
  role                           = aws_iam_role.this.arn
  handler                        = var.handler
  runtime                        = "python3.12"
  architectures                  = ["arm64"]
  filename                       = var.zip_path
  source_code_hash               = filebase64sha256(var.zip_path)
  timeout                        = var.timeout_seconds
  memory_size                    = var.memory_mb
  reserved_concurrent_executions = var.reserved_concurrency # null: unreserved (accounts start with a low quota)
  kms_key_arn                    = var.kms_key_arn
  dynamic "dead_letter_config" {
    for_each = var.dead_letter_arn == null ? [] : [var.dead_letter_arn]
    content {
      target_arn = dead_letter_config.value
    }
  }
  tracing_config {
    mode = var.tracing ? "Active" : "PassThrough"
  }
  environment {
    variables = merge({ POWERTOOLS_SERVICE_NAME = "adoscale" }, var.environment)
  }
  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
  tags       = var.tags
}
