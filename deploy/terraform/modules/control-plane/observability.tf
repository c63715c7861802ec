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

# A pool's passes keep failing (ADO down for the pool's reads, ECS refusing launches, tasks failing to
# start, the lease table): not a blip the next pass repairs. A refused PAT publishes no PassErrors at all: the
# round fails before any pool's pass, and the workflow's ExecutionsFailed alarm reports it (workflow.tf).
#
# The alarm's windows are as long as the longest time between two observations of a pool: one minute
# without the back-off, idle_observe_minutes with it (an idle pool is observed once every that many minutes,
# on the minutes divisible by it: any window of that length holds exactly one). With one-minute windows and
# an idle pool's data point every 10 minutes, the alarm that needed 5 failing minutes never fired:
# CloudWatch fills the missing minutes as not breaching whenever fewer than N real data points are in its
# evaluation range (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html),
# so an idle pool gave one breaching point in five. With windows that always hold an observation, nothing is
# missing and the plain M-of-N rule applies
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html).
#
# A long window holds many passes of a pool observed every minute (and their retries) and one of an idle
# pool: it breaches when most of its passes failed (p50 > 0; the percentile is evaluated on the one sample of
# an idle window only with evaluate_low_sample_count_percentiles = "evaluate": below 20 samples CloudWatch
# otherwise leaves the alarm as it is; alarm-evaluation.html above, "Percentile-based alarms and low data
# samples"). A failure in each window (Maximum) would make two transient failures
# ten minutes apart an alarm, and ADO's retried 503s publish one each. One-minute windows keep the
# alarm as it was: a failing pass in each minute (Sum > 0).
#
# The windows needed: enough to cover alarm_pass_error_minutes from a first failing pass at a window's end,
# so at least two (one failing observation, a transient, is one window) when that is 2 or more. Bounds (from
# the first failing observation; adoscale_lab.alarms evaluates CloudWatch's documented rules over every onset,
# tests/deploy/test_pass_errors_alarm.py): one-minute windows, alarm_pass_error_minutes; at the defaults with
# the back-off (10-minute windows, two), 11 minutes for an idle pool, 16 for a pool observed every minute
# (docs/operations.md).
locals {
  # The schedule's interval from a rate() expression; anything else (cron, at) is taken as one minute.
  schedule_rate    = try(regex("^rate\\((\\d+) (minute|minutes|hour|hours)\\)$", var.schedule_expression), null)
  schedule_minutes = local.schedule_rate == null ? 1 : tonumber(local.schedule_rate[0]) * (startswith(local.schedule_rate[1], "hour") ? 60 : 1)
  pass_errors = {
    window_minutes = local.backoff ? var.idle_observe_minutes : local.schedule_minutes
    windows        = ceil((var.alarm_pass_error_minutes - 1) / (local.backoff ? var.idle_observe_minutes : local.schedule_minutes)) + 1
    percentile     = (local.backoff ? var.idle_observe_minutes : local.schedule_minutes) > 1
  }
}

resource "aws_cloudwatch_metric_alarm" "pass_errors" {
  for_each            = local.alarmed.pass_errors ? local.pool_limits : {}
  alarm_name          = "${var.name}-${each.key}-pass-errors"
  alarm_description   = "${var.name}: pool ${each.key}'s passes failed in ${local.pass_errors.windows} consecutive ${local.pass_errors.window_minutes}-minute windows (${local.pass_errors.percentile ? "most of each window's passes" : "a pass each minute"}; docs/operations.md)"
  namespace           = var.metrics_namespace
  metric_name         = local.metric.pass_errors
  dimensions          = { Pool = each.key }
  statistic           = local.pass_errors.percentile ? null : "Sum"
  extended_statistic  = local.pass_errors.percentile ? "p50" : null
  period              = local.pass_errors.window_minutes * 60
  evaluation_periods  = local.pass_errors.windows
  datapoints_to_alarm = local.pass_errors.windows
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching" # no pass in a window (a lost tick, a failed round): not a failing pass
  # An idle pool's window holds one sample; p50 needs 20 before CloudWatch evaluates it otherwise.
  evaluate_low_sample_count_percentiles = local.pass_errors.percentile ? "evaluate" : null
  alarm_actions                         = [aws_sns_topic.alerts.arn]
  tags                                  = var.tags

  lifecycle {
    precondition {
      # PutMetricAlarm: for a period under an hour, period x evaluation periods at most one day.
      condition     = local.pass_errors.window_minutes * 60 * local.pass_errors.windows <= (local.pass_errors.window_minutes >= 60 ? 604800 : 86400)
      error_message = "The pass-errors alarm would span ${local.pass_errors.windows} windows of ${local.pass_errors.window_minutes} minutes, longer than CloudWatch allows: lower alarm_pass_error_minutes."
    }
  }
}
