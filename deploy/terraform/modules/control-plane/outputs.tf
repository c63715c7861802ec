output "workflow_arn" {
  description = "The Step Functions state machine."
  value       = aws_sfn_state_machine.this.arn
}

output "pat_secret_arn" {
  description = "Put the PAT here (see README: without Terraform state)."
  value       = aws_secretsmanager_secret.pat.arn
}

output "config_parameter_name" {
  description = "Target of `adoscale config push`."
  value       = aws_ssm_parameter.config.name
}

output "alert_topic_arn" {
  description = "Subscribe to failures here."
  value       = aws_sns_topic.alerts.arn
}

output "function_role_arns" {
  description = "IAM role of each function."
  value       = { for k, f in module.function : k => f.role_arn }
}

output "kms_key_arn" {
  description = "The key for the secret, parameter, logs and alerts."
  value       = aws_kms_key.this.arn
}

output "lease_table_name" {
  description = "The DynamoDB table that makes passes single-flight per pool (`lease_table` in the configuration)."
  value       = aws_dynamodb_table.lease.name
}

output "hook_url" {
  description = "The endpoint for `adoscale hooks install --url`: the HTTP API's POST /hooks route (null unless enable_hooks)."
  value       = var.enable_hooks ? "${trimsuffix(aws_apigatewayv2_stage.hook[0].invoke_url, "/")}/hooks" : null
}

output "hook_secret_name" {
  description = "Put the hook secret here and name it in the configuration as hooks.secret_name (null unless enable_hooks)."
  value       = var.enable_hooks ? aws_secretsmanager_secret.hook[0].name : null
}

output "dashboard_name" {
  description = "The CloudWatch dashboard of the deployment (null without create_dashboard): per pool, the published metrics (with metrics = full: queue, oldest wait, job wait and agent start-up p50/p95, agents by state, launches, failures and pass errors); the workflow's executions."
  value       = one(aws_cloudwatch_dashboard.this[*].dashboard_name) # null with create_dashboard = false
}
