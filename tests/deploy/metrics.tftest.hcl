mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  # "Applied" against the mocks: every ARN another resource checks must look like one.
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-east-1:123456789012:key/k" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:123456789012:alerts" }
  }
  mock_resource "aws_sfn_state_machine" {
    defaults = { arn = "arn:aws:states:us-east-1:123456789012:stateMachine:adoscale" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/r" }
  }
  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:us-east-1:123456789012:function:f" }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:s" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:g" }
  }
  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:us-east-1:123456789012:table/t" }
  }
  mock_resource "aws_ssm_parameter" {
    defaults = { arn = "arn:aws:ssm:us-east-1:123456789012:parameter/p" }
  }
  mock_resource "aws_apigatewayv2_api" {
    defaults = { arn = "arn:aws:apigateway:us-east-1::/apis/a", execution_arn = "arn:aws:execute-api:us-east-1:123456789012:a" }
  }
  mock_resource "aws_scheduler_schedule" {
    defaults = { arn = "arn:aws:scheduler:us-east-1:123456789012:schedule/default/s" }
  }
}

variables {
  lambda_zip_path        = "ZIP"
  azp_url                = "https://dev.azure.com/acme"
  config_json            = "{}"
  cluster_arn            = "arn:aws:ecs:us-east-1:123456789012:cluster/ado"
  task_definition_family = "ado-agent"
  pass_role_arns         = ["arn:aws:iam::123456789012:role/task"]
  alarm_pools            = { linux = 10, windows = 4 }
  metric_name            = "queue_depth"
}

run "full" {
  assert {
    condition     = keys(aws_cloudwatch_metric_alarm.queue_wait) == ["linux", "windows"] && keys(aws_cloudwatch_metric_alarm.launch_failures) == ["linux", "windows"] && keys(aws_cloudwatch_metric_alarm.pass_errors) == ["linux", "windows"]
    error_message = "full: every alarm for every pool"
  }
  assert {
    condition     = toset(flatten([for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : [for row in w.properties.metrics : row[1] if row[0] == "adoscale"]])) == toset(FULL)
    error_message = "full: the dashboard draws every metric it used to"
  }
  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets) == 9
    error_message = "full: four widgets a pool and the workflow's"
  }
}

run "essential" {
  variables {
    metrics = "essential"
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.queue_wait) == 0 && length(aws_cloudwatch_metric_alarm.launch_failures) == 0
    error_message = "essential: no alarm on a metric that is not published"
  }
  assert {
    condition     = keys(aws_cloudwatch_metric_alarm.pass_errors) == ["linux", "windows"] && aws_cloudwatch_metric_alarm.pass_errors["linux"].metric_name == "PassErrors"
    error_message = "essential: the pass-errors alarm for every pool"
  }
  assert {
    condition     = toset(flatten([for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : [for row in w.properties.metrics : row[1] if row[0] == "adoscale"]])) == toset(ESSENTIAL)
    error_message = "essential: the dashboard draws the published metrics only"
  }
  assert {
    condition     = [for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : w.x if w.y == 0] == [0, 6]
    error_message = "essential: a pool's two widgets side by side"
  }
}

run "no_dashboard" {
  variables {
    metrics          = "essential"
    create_dashboard = false
  }
  assert {
    condition     = length(aws_cloudwatch_dashboard.this) == 0 && output.dashboard_name == null
    error_message = "create_dashboard = false: no dashboard"
  }
}

# The pass-errors alarm for each cadence (observability.tf): the settings adoscale_lab.alarms.pass_errors_alarm
# gives, whose bounds tests/deploy/test_pass_errors_alarm.py checks against CloudWatch's documented rules.
# Each "EXPECT window alarm_minutes" line becomes the assertions for that alarm (test_observability.py).
run "every_minute" {
  # EXPECT 1 5
}

run "backoff" {
  variables {
    enable_hooks = true
  }
  # EXPECT 10 5
}

run "backoff_essential" {
  variables {
    enable_hooks = true
    metrics      = "essential"
  }
  # EXPECT 10 5
}

run "backoff_every_5_minutes" {
  variables {
    enable_hooks             = true
    idle_observe_minutes     = 5
    alarm_pass_error_minutes = 12
  }
  # EXPECT 5 12
}

run "backoff_alarm_on_one_failing_window" {
  variables {
    enable_hooks             = true
    alarm_pass_error_minutes = 1
  }
  # EXPECT 10 1
}

run "hooks_without_backoff" {
  variables {
    enable_hooks         = true
    idle_observe_minutes = 1
  }
  # EXPECT 1 5
}

run "the_seeds_interval" {
  variables {
    schedule_expression = "rate(2 minutes)"
  }
  # EXPECT 2 5
}

run "backoff_needs_a_tick_every_minute" {
  command = plan
  variables {
    enable_hooks        = true
    schedule_expression = "rate(2 minutes)"
  }
  expect_failures = [aws_scheduler_schedule.tick]
}
