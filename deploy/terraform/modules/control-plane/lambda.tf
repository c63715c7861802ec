module "function" {
  source        = "../lambda-function" # one module for every function (deploy/terraform/modules/lambda-function)
  for_each      = local.functions
  function_name = "${var.name}-${replace(each.key, "_", "-")}"
  handler       = each.value
  zip_path      = var.lambda_zip_path
  statements = [
    for action in local.function_actions[each.key] : {
      actions    = [action]
      resources  = local.action_resources[action]
      conditions = lookup(local.action_conditions, action, {})
      # The roles may be passed to ECS tasks (and, with EC2 pools, to instances) only, never to another service.
      string_conditions = lookup(local.action_string_conditions, action, {})
    }
  ]
  kms_key_arn = aws_kms_key.this.arn
  tracing     = var.tracing
  # With enable_hooks the hook function is reachable from the internet: its own small reservation caps what
  # a flood of requests can take, so the workflow's functions always find concurrency left.
  reserved_concurrency = each.key == "hook" && var.enable_hooks ? var.hook_reserved_concurrency : var.reserved_concurrency
  timeout_seconds      = var.function_timeout_seconds
  memory_mb            = var.function_memory_mb
  log_retention_days   = var.log_retention_days
  environment = {
    AZP_URL                    = var.azp_url
    AZP_TOKEN_SECRET_ARN       = aws_secretsmanager_secret.pat.arn
    ADOSCALE_CONFIG_PARAMETER  = aws_ssm_parameter.config.name
    ADOSCALE_METRICS_NAMESPACE = var.metrics_namespace
    ADOSCALE_METRIC_NAME       = var.metric_name
    ADOSCALE_METRICS           = var.metrics
    ADOSCALE_LEASE_TABLE       = aws_dynamodb_table.lease.name
  }
  tags = var.tags
}
