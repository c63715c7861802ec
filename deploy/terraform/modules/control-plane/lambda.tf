data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each           = local.functions
  name               = "${var.name}-${replace(each.key, "_", "-")}"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "function" {
  for_each = local.functions
  dynamic "statement" {
    for_each = local.function_actions[each.key]
    content {
      actions   = [statement.value]
      resources = local.action_resources[statement.value]
      dynamic "condition" {
        for_each = contains(local.cluster_scoped, statement.value) ? [1] : []
        content {
          test     = "ArnEquals"
          variable = "ecs:cluster"
          values   = [var.cluster_arn]
        }
      }
    }
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }
  statement {
    sid       = "Decrypt"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions
  name     = "least-privilege"
  role     = aws_iam_role.function[each.key].id
  policy   = data.aws_iam_policy_document.function[each.key].json
}

resource "aws_cloudwatch_log_group" "function" {
  for_each          = local.functions
  name              = "/aws/lambda/${var.name}-${replace(each.key, "_", "-")}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:invoked synchronously by Step Functions or a schedule; failures go to the workflow's Catch and alert
  #checkov:skip=CKV_AWS_117:calls Azure DevOps on the internet; a VPC would only add a NAT gateway's cost
  #checkov:skip=CKV_AWS_272:code signing needs a signing profile outside this module; the zip is reproducible and hashed
  for_each                       = local.functions
  function_name                  = "${var.name}-${replace(each.key, "_", "-")}"
  role                           = aws_iam_role.function[each.key].arn
  handler                        = each.value
  runtime                        = "python3.12"
  architectures                  = ["arm64"]
  filename                       = var.lambda_zip_path
  source_code_hash               = filebase64sha256(var.lambda_zip_path)
  timeout                        = var.function_timeout_seconds
  memory_size                    = var.function_memory_mb
  reserved_concurrent_executions = 10
  kms_key_arn                    = aws_kms_key.this.arn
  tracing_config {
    mode = "Active"
  }
  environment {
    variables = {
      POWERTOOLS_SERVICE_NAME    = "adoscale"
      AZP_URL                    = var.azp_url
      AZP_TOKEN_SECRET_ARN       = aws_secretsmanager_secret.pat.arn
      ADOSCALE_CONFIG_PARAMETER  = aws_ssm_parameter.config.name
      ADOSCALE_METRICS_NAMESPACE = var.metrics_namespace
      ADOSCALE_METRIC_NAME       = var.metric_name
    }
  }
  depends_on = [aws_cloudwatch_log_group.function, aws_iam_role_policy.function]
  tags       = var.tags
}
