# The deployment's dashboard and per-pool alarms, from the metrics the pass Lambda publishes (EMF, dimension
# Pool; their one list is src/adoscale/metrics.py, and tests/deploy/test_observability.py checks that every
# name used here is in it). The pools are var.alarm_pools (names and max_agents known at plan time; config_json
# may hold values known only after apply); a pool added later with `adoscale config push` gets its widgets
# and alarms once added there and applied. What each alarm means: docs/operations.md.
#
# var.metrics chooses which metrics are published (ADOSCALE_METRICS); nothing here uses one that is not. An
# alarm on a metric that never gets a data point would never fire: with treat_missing_data = "notBreaching"
# (every alarm below) CloudWatch counts each missing point as good and the alarm sits in OK for ever; with
# the default "missing" it would sit in INSUFFICIENT_DATA
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html). Either way
# it looks like cover and is none, and still costs its alarm metrics; so such an alarm is not created, and a
# widget draws only published metrics.

locals {
  pool_limits = var.alarm_pools
  # Every adoscale metric this file uses, by role (the queued-jobs metric may be renamed: var.metric_name).
  metric = {
    queued       = var.metric_name
    oldest_wait  = "OldestQueuedSeconds"
    unservable   = "UnservableJobs"
    busy         = "BusyAgents"
    idle         = "IdleAgents"
    starting     = "StartingTasks"
    warm         = "WarmTarget"
    launched     = "LaunchedTasks"
    launch_fails = "LaunchFailures"
    pass_errors  = "PassErrors"
    duration     = "PassDuration"
    job_wait     = "JobWaitSeconds"      # one value per job, when first seen assigned
    startup      = "AgentStartupSeconds" # one value per agent, when first seen online
  }
  # The roles `essential` publishes (adoscale.metrics.PUBLISHED["essential"]: the queue and the pass errors).
  essential_roles = ["queued", "pass_errors"]
  published       = toset([for role, name in local.metric : name if var.metrics == "full" || contains(local.essential_roles, role)])
  # Each alarm exists only when every metric it reads is published.
  alarm_metrics = {
    queue_wait      = [local.metric.oldest_wait, local.metric.busy, local.metric.idle, local.metric.starting]
    launch_failures = [local.metric.launch_fails]
    pass_errors     = [local.metric.pass_errors]
  }
  alarmed = { for alarm, names in local.alarm_metrics : alarm => alltrue([for name in names : contains(local.published, name)]) }
  # The per-event metrics are drawn as percentiles over their values (no value: no job assigned, no agent
  # started in the period; the line has a gap rather than a zero).
  percentiles = ["p50", "p95"]
  # Per pool, each widget's rows of published metrics (row[1] is the metric's name); a widget with none is
  # left out and the others close up.
  pool_widget_specs = {
    for pool in keys(local.pool_limits) : pool => [
      for spec in [
        {
          properties = { title = "${pool}: queue and oldest wait", stat = "Maximum", period = 60 }
          rows = [
            [var.metrics_namespace, local.metric.queued, "Pool", pool],
            [var.metrics_namespace, local.metric.unservable, "Pool", pool],
            [var.metrics_namespace, local.metric.oldest_wait, "Pool", pool, { yAxis = "right" }],
          ]
        },
        {
          properties = { title = "${pool}: job wait and agent start-up", period = 300 }
          rows = concat(
            [for stat in local.percentiles : [var.metrics_namespace, local.metric.job_wait, "Pool", pool, { stat = stat, label = "job wait ${stat}" }]],
            [for stat in local.percentiles : [var.metrics_namespace, local.metric.startup, "Pool", pool, { stat = stat, label = "agent start-up ${stat}" }]],
          )
        },
        {
          properties = { title = "${pool}: agents by state (max ${local.pool_limits[pool]})", stat = "Maximum", period = 60, view = "timeSeries", stacked = true }
          rows = [
            [var.metrics_namespace, local.metric.busy, "Pool", pool],
            [var.metrics_namespace, local.metric.idle, "Pool", pool],
            [var.metrics_namespace, local.metric.starting, "Pool", pool],
            [var.metrics_namespace, local.metric.warm, "Pool", pool, { stacked = false }],
          ]
        },
        {
          properties = { title = "${pool}: launches, failures, pass errors", stat = "Sum", period = 300 }
          rows = [
            [var.metrics_namespace, local.metric.launched, "Pool", pool],
            [var.metrics_namespace, local.metric.launch_fails, "Pool", pool],
            [var.metrics_namespace, local.metric.pass_errors, "Pool", pool],
            [var.metrics_namespace, local.metric.duration, "Pool", pool, { stat = "p95", yAxis = "right" }],
          ]
        },
      ] : { properties = spec.properties, rows = [for row in spec.rows : row if contains(local.published, row[1])] }
    ]
  }
  pool_widgets = flatten([
    for index, pool in keys(local.pool_limits) : [
      for position, spec in [for spec in local.pool_widget_specs[pool] : spec if length(spec.rows) > 0] : {
        type       = "metric", x = position * 6, y = index * 6, width = 6, height = 6
        properties = merge(spec.properties, { region = local.region, metrics = spec.rows })
      }
    ]
  ])
  workflow_widget = {
    type = "metric", x = 0, y = length(local.pool_limits) * 6, width = 24, height = 6
    properties = {
      title   = "workflow executions", region = local.region, stat = "Sum", period = 300
      metrics = [for name in ["ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut", "ExecutionThrottled"] : ["AWS/States", name, "StateMachineArn", aws_sfn_state_machine.this.arn]]
    }
  }
}

resource "aws_cloudwatch_dashboard" "this" {
  count          = var.create_dashboard ? 1 : 0
  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = concat(local.pool_widgets, [local.workflow_widget]) })
}

# Deployments made before create_dashboard keep their dashboard (no destroy and create).
moved {
  from = aws_cloudwatch_dashboard.this
  to   = aws_cloudwatch_dashboard.this[0]
}

# A job has waited longer than alarm_queue_wait_seconds while its pool had room for another agent: adoscale
# should have started one (not at max_agents), so something stops it (launch failures, the PAT, ECS quotas).
# On the oldest queued job's age rather than JobWaitSeconds: that is known only once a job is assigned, so a
# job that never starts would never raise it, and it cannot say whether the pool was below max_agents.
resource "aws_cloudwatch_metric_alarm" "queue_wait" {
  for_each            = local.alarmed.queue_wait ? local.pool_limits : {}
  alarm_name          = "${var.name}-${each.key}-job-waiting"
  alarm_description   = "${var.name}: a job in pool ${each.key} has waited over ${var.alarm_queue_wait_seconds} s while the pool is below its ${each.value} agents (docs/operations.md)"
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  evaluation_periods  = 2
  treat_missing_data  = "notBreaching" # no pass published: the workflow's own alarms say why
  alarm_actions       = [aws_sns_topic.alerts.arn]
  tags                = var.tags

  metric_query {
    id          = "waiting"
    expression  = "IF(oldest > ${var.alarm_queue_wait_seconds} AND (busy + idle + starting) < ${each.value}, 1, 0)"
    label       = "job waiting below max_agents"
    return_data = true
  }
  dynamic "metric_query" {
    for_each = { oldest = local.metric.oldest_wait, busy = local.metric.busy, idle = local.metric.idle, starting = local.metric.starting }
    content {
      id = metric_query.key
      metric {
        namespace   = var.metrics_namespace
        metric_name = metric_query.value
        dimensions  = { Pool = each.key }
        period      = 60
        stat        = "Maximum"
      }
    }
  }
}

# ECS refused launches (capacity, quotas, a wrong subnet or task definition): jobs wait until it stops.
resource "aws_cloudwatch_metric_alarm" "launch_failures" {
  for_each            = local.alarmed.launch_failures ? local.pool_limits : {}
  alarm_name          = "${var.name}-${each.key}-launch-failures"
  alarm_description   = "${var.name}: ECS refused task launches for pool ${each.key} (docs/operations.md)"
  namespace           = var.metrics_namespace
  metric_name         = local.metric.launch_fails
  dimensions          = { Pool = each.key }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

# A pool's pass has failed in every one of alarm_pass_error_minutes consecutive minutes: not a blip the next
# round repairs, but something that keeps failing (ADO down or refusing the PAT, ECS or the lease table).
resource "aws_cloudwatch_metric_alarm" "pass_errors" {
  for_each            = local.alarmed.pass_errors ? local.pool_limits : {}
  alarm_name          = "${var.name}-${each.key}-pass-errors"
  alarm_description   = "${var.name}: pool ${each.key}'s pass failed in ${var.alarm_pass_error_minutes} consecutive minutes (docs/operations.md)"
  namespace           = var.metrics_namespace
  metric_name         = local.metric.pass_errors
  dimensions          = { Pool = each.key }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = var.alarm_pass_error_minutes
  datapoints_to_alarm = var.alarm_pass_error_minutes
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}
