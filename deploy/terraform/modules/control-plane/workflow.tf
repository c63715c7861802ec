data "aws_iam_policy_document" "states_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "workflow" {
  name               = "${var.name}-workflow"
  assume_role_policy = data.aws_iam_policy_document.states_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "workflow" {
  statement {
    sid       = "Invoke"
    actions   = ["lambda:InvokeFunction"]
    resources = [for k in ["pass", "waiter"] : module.function[k].arn]
  }
  statement {
    sid       = "Alert"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }
  statement {
    sid       = "AlertKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
  }
  dynamic "statement" {
    for_each = var.tracing ? [1] : []
    content {
      sid       = "Tracing"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
      resources = ["*"] # X-Ray supports no resource-level permissions for these
    }
  }
  statement {
    sid = "Logs"
    actions = [
      "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    ]
    resources = ["*"] # CloudWatch Logs delivery actions do not support resource-level permissions
  }
}

resource "aws_iam_role_policy" "workflow" {
  name   = "workflow"
  role   = aws_iam_role.workflow.id
  policy = data.aws_iam_policy_document.workflow.json
}

resource "aws_cloudwatch_log_group" "workflow" {
  name              = "/aws/vendedlogs/states/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_sfn_state_machine" "this" {
  name     = var.name
  type     = "EXPRESS"
  role_arn = aws_iam_role.workflow.arn
  definition = templatefile("${path.module}/workflow.asl.json", {
    pass_arn        = module.function["pass"].arn
    waiter_arn      = module.function["waiter"].arn
    alert_topic_arn = aws_sns_topic.alerts.arn
    # A number, rendered bare into the JSON (adoscale.workflow.SETTINGS renders it the same way for the tests).
    alert_reminder_hours = var.alert_reminder_hours
  })
  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.workflow.arn}:*"
    include_execution_data = true # executions carry pool snapshots and plans, never the PAT
    level                  = "ALL"
  }
  tracing_configuration {
    enabled = var.tracing
  }
  tags = var.tags
  # Step Functions checks at creation that the role may deliver logs (CreateStateMachine fails with
  # AccessDeniedException otherwise); the role alone is not enough, its policy must be in place first.
  depends_on = [aws_iam_role_policy.workflow]
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name = "start-workflow"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      # Without hooks the schedule starts the workflow; with the back-off it invokes the pass function's tick.
      local.backoff
      ? { Effect = "Allow", Action = "lambda:InvokeFunction", Resource = module.function["pass"].arn }
      : { Effect = "Allow", Action = "states:StartExecution", Resource = aws_sfn_state_machine.this.arn },
      # The schedule is encrypted with the module's key: Scheduler decrypts it as this role.
      { Effect = "Allow", Action = "kms:Decrypt", Resource = aws_kms_key.this.arn },
    ]
  })
}

locals {
  rounds_per_execution = coalesce(var.rounds_per_execution, var.enable_hooks ? 1 : 4)
  offsets              = [for i in range(local.rounds_per_execution) : i * var.cadence_seconds]
}

resource "aws_scheduler_schedule" "workflow" {
  count               = local.backoff ? 0 : 1
  name                = var.name
  kms_key_arn         = aws_kms_key.this.arn
  schedule_expression = var.schedule_expression
  flexible_time_window {
    mode = "OFF"
  }
  target {
    # A tick is worth nothing once the next one is due: Scheduler's default keeps retrying a missed
    # invocation for 24 h (185 attempts), which would pile old executions onto the new ones.
    retry_policy {
      maximum_event_age_in_seconds = var.schedule_max_event_age_seconds
      maximum_retry_attempts       = 2
    }

    arn      = aws_sfn_state_machine.this.arn
    role_arn = aws_iam_role.scheduler.arn
    # Each execution observes every pool once at each offset (seconds from its start); all rounds run at
    # once, each waiting for its offset, so a round's task wait never delays the next. The same list as
    # adoscale.workflow.schedule_input() (tests/deploy/test_schedule_input.py compares them).
    input = jsonencode({ offsets = local.offsets, task_wait_s = 10 })
  }
}

# The schedule became conditional (count) with the back-off: an existing deployment keeps its schedule.
moved {
  from = aws_scheduler_schedule.workflow
  to   = aws_scheduler_schedule.workflow[0]
}

# With hooks, the schedule backs off (adoscale.workflow.backoff, docs/deploy.md): each minute it invokes the
# pass function's tick, which reads the pools' tasks (no Azure DevOps call) and starts an execution, naming
# the pools and offsets, only when a pool has work or idle pools are due (every idle_observe_minutes). An idle
# minute costs one short Lambda invocation instead of an execution. The input is what
# adoscale.workflow.tick_input() computes; Scheduler fills in the scheduled time.
resource "aws_scheduler_schedule" "tick" {
  count               = local.backoff ? 1 : 0
  name                = "${var.name}-tick" # not the workflow schedule's: switching hooks on creates one, then deletes the other
  kms_key_arn         = aws_kms_key.this.arn
  schedule_expression = var.schedule_expression
  flexible_time_window {
    mode = "OFF"
  }
  target {
    retry_policy {
      maximum_event_age_in_seconds = var.schedule_max_event_age_seconds
      maximum_retry_attempts       = 2
    }
    arn      = module.function["pass"].arn
    role_arn = aws_iam_role.scheduler.arn
    input = jsonencode({
      action             = "tick"
      state_machine_arn  = aws_sfn_state_machine.this.arn
      started            = "<aws.scheduler.scheduled-time>"
      idle_every_minutes = var.idle_observe_minutes
      offsets            = local.offsets
      task_wait_s        = 10
    })
  }
  lifecycle {
    precondition {
      # The tick observes idle pools on the minutes divisible by idle_observe_minutes: a tick every N > 1
      # minutes, started at whatever minute the schedule was created, may never land on one (rate(2 minutes)
      # from an odd minute never does), and idle pools, lost hooks and the pass-errors alarm's windows with them
      # would go unobserved.
      condition     = local.schedule_minutes == 1
      error_message = "With enable_hooks and idle_observe_minutes > 1, schedule_expression must run every minute (rate(1 minute)): the back-off's tick picks which minutes observe the idle pools."
    }
  }
}

# Express workflows emit no "Step Functions Execution Status Change" events to EventBridge (only Standard
# ones do), so a rule on them never fires: failures are watched through the AWS/States metrics Express
# workflows do publish. An execution that times out, fails outside a pool's own Catch (which alerts naming
# the pool) or is throttled at start reaches the alert topic within a minute.
# https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html
# https://docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html
resource "aws_cloudwatch_metric_alarm" "workflow" {
  for_each            = toset(["ExecutionsTimedOut", "ExecutionsFailed", "ExecutionThrottled"])
  alarm_name          = "${var.name}-workflow-${each.value}"
  alarm_description   = "${var.name}: the workflow's ${each.value} above 0 (see docs/deploy.md, Operations)"
  namespace           = "AWS/States"
  metric_name         = each.value
  dimensions          = { StateMachineArn = aws_sfn_state_machine.this.arn }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching" # no executions in a minute is not a failure
  alarm_actions       = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}
