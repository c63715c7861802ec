variable "name" {
  description = "Name prefix for every resource."
  type        = string
  default     = "adoscale"
  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,30}$", var.name))
    error_message = "name: 2 to 31 letters, digits or dashes, starting with a letter."
  }
}

variable "lambda_zip_path" {
  description = "The package built by `adoscale package` (one zip for every function)."
  type        = string
}

variable "azp_url" {
  description = "Azure DevOps organization URL, e.g. https://dev.azure.com/contoso."
  type        = string
  validation {
    condition     = can(regex("^https?://", var.azp_url))
    error_message = "azp_url must be an http(s) URL."
  }
}

variable "ado_pat" {
  description = "The PAT, for the seed's users. It lands in Terraform state: prefer leaving it null and putting the value into the secret with the AWS CLI (see README)."
  type        = string
  default     = null
  sensitive   = true
}

variable "config_json" {
  description = "adoscale's validated configuration (JSON); `adoscale config push` can replace it later."
  type        = string
}

variable "cluster_arn" {
  description = "ECS cluster the agents run in."
  type        = string
}

variable "task_definition_family" {
  description = "Agent task definition family (any revision may be run)."
  type        = string
}

variable "pass_role_arns" {
  description = "Task and execution roles of the agent task definition (the act function passes them), and the instance roles of EC2 pools (ec2-pool's instance_role_arn: CreateFleet passes them)."
  type        = list(string)
}

variable "ec2_launch_template_arns" {
  description = "Launch templates of the EC2 pools (ec2-pool's launch_template_arn): the controller launches from these only. Empty: no EC2 pool, and no EC2 action is granted."
  type        = list(string)
  default     = []
}

variable "metrics_namespace" {
  description = "CloudWatch namespace for queue metrics (the seed's agent_cw_namespace)."
  type        = string
  default     = "adoscale"
}

variable "metric_name" {
  description = "Name of the queued-jobs metric (the seed's agent_cw_metric)."
  type        = string
  default     = "QueuedJobs"
}

# Which per-pool metrics the pass function publishes (adoscale.metrics.PUBLISHED), and so which alarms and
# dashboard widgets this module creates (observability.tf): never one on a metric that is not published.
variable "metrics" {
  description = "Per-pool metrics the pass function publishes (ADOSCALE_METRICS): full (17 a pool, about $5.10 a month; every alarm and widget) or essential (the queued jobs and the pass errors, about $0.60, the seed's two; only the pass-errors alarm, and the queue and errors on the dashboard). See docs/operations.md."
  type        = string
  default     = "full"
  validation {
    condition     = contains(["full", "essential"], var.metrics)
    error_message = "metrics must be full or essential."
  }
}

variable "create_dashboard" {
  description = "Create the CloudWatch dashboard ($3 a month beyond an account's first three). The alarms do not need it."
  type        = bool
  default     = true
}

variable "function_timeout_seconds" {
  description = "Lambda timeout."
  type        = number
  default     = 60
  validation {
    condition     = var.function_timeout_seconds >= 10 && var.function_timeout_seconds <= 900
    error_message = "function_timeout_seconds must be between 10 and 900."
  }
}

variable "function_memory_mb" {
  description = "Lambda memory."
  type        = number
  default     = 256
}

variable "schedule_expression" {
  description = "EventBridge Scheduler expression that starts the workflow."
  type        = string
  default     = "rate(1 minute)"
}

variable "rounds_per_execution" {
  description = "Observations of each pool per execution. Default (null): 4 (with a 15 s cadence, sub-minute reaction), or 1 with enable_hooks (hooks start a pass for each job within seconds; the schedule is the backstop)."
  type        = number
  default     = null
  validation {
    condition     = var.rounds_per_execution == null || try(var.rounds_per_execution >= 1 && var.rounds_per_execution <= 12, false)
    error_message = "rounds_per_execution must be between 1 and 12."
  }
}

# With hooks, the schedule backs off (adoscale.workflow.backoff, docs/deploy.md): a pool with no live task and
# no kept agents is observed only by the executions that start on a minute divisible by this; a job whose hook
# is lost in such a pool is seen within this many minutes. 1 turns the back-off off. Ignored without hooks.
variable "idle_observe_minutes" {
  description = "With enable_hooks: observe a pool with nothing running every this many minutes (a lost hook is caught within it); 1 observes every minute."
  type        = number
  default     = 10
  validation {
    condition     = var.idle_observe_minutes >= 1 && var.idle_observe_minutes <= 60 && floor(var.idle_observe_minutes) == var.idle_observe_minutes
    error_message = "idle_observe_minutes must be a whole number of minutes between 1 and 60."
  }
}

# Rounds start at 0, cadence_seconds, 2 x cadence_seconds ... after each execution starts, all concurrently.
# (rounds_per_execution - 1) x cadence_seconds must be at most 50: the workflow's TimeoutSeconds (180) is sized
# for a last round at 50 s (adoscale.workflow.MAX_OFFSET_S). Terraform before 1.9 cannot validate one variable
# against another, so only each one's own range is checked here.
variable "cadence_seconds" {
  description = "Seconds between observations within one execution."
  type        = number
  default     = 15
  validation {
    condition     = var.cadence_seconds >= 0 && var.cadence_seconds <= 50 && floor(var.cadence_seconds) == var.cadence_seconds
    error_message = "cadence_seconds must be a whole number of seconds between 0 and 50."
  }
}

variable "log_retention_days" {
  description = "Retention of every log group."
  type        = number
  default     = 365
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts."
  }
}

variable "tracing" {
  description = "X-Ray active tracing of the functions (and the workflow); their roles get X-Ray's write actions."
  type        = bool
  default     = true
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions per function; null (default): none, which new accounts' low quota needs."
  type        = number
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "enable_hooks" {
  description = "Create the hook endpoint (an API Gateway HTTP API in front of the hook function) and its shared secret. Then put a value in the secret and run `adoscale hooks install --url <hook_url>`."
  type        = bool
  default     = false
}

variable "hook_reserved_concurrency" {
  description = "Reserved concurrent executions of the hook function, which the internet can reach: a flood of deliveries takes at most this many and leaves the rest to the workflow. null: none (accounts whose concurrency quota is still 10 cannot reserve any)."
  type        = number
  default     = 5
  validation {
    condition     = var.hook_reserved_concurrency == null || try(var.hook_reserved_concurrency >= 1, false)
    error_message = "hook_reserved_concurrency must be null or at least 1 (0 would throttle every delivery)."
  }
}

variable "secret_recovery_window_days" {
  description = "Days Secrets Manager keeps the PAT and hook secrets after `terraform destroy`; 0 deletes them at once, so a deployment of the same name can follow immediately."
  type        = number
  default     = 7
  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30 (what Secrets Manager accepts)."
  }
}

variable "schedule_max_event_age_seconds" {
  description = "How long EventBridge Scheduler keeps retrying a tick it could not deliver (60 to 86400; keep it near the schedule's interval: a late tick only doubles the next one)."
  type        = number
  default     = 120
  validation {
    condition     = var.schedule_max_event_age_seconds >= 60 && var.schedule_max_event_age_seconds <= 86400
    error_message = "schedule_max_event_age_seconds must be between 60 and 86400."
  }
}

variable "alarm_queue_wait_seconds" {
  description = "Alarm when a pool's oldest queued job has waited longer than this while the pool is below its max_agents (adoscale can and should have started an agent)."
  type        = number
  default     = 600
  validation {
    condition     = var.alarm_queue_wait_seconds >= 60
    error_message = "alarm_queue_wait_seconds must be at least 60 (an agent takes about a minute to start)."
  }
}

variable "alarm_pass_error_minutes" {
  description = "Alarm when a pool's passes have failed for this many minutes (one failed pass is retried by the next round). The alarm's windows are as long as a pool can go unobserved (idle_observe_minutes with the back-off, else the schedule's interval), at least two when this is 2 or more: with the back-off's defaults, two 10-minute windows (docs/operations.md)."
  type        = number
  default     = 5
  validation {
    condition     = var.alarm_pass_error_minutes >= 1 && var.alarm_pass_error_minutes <= 60
    error_message = "alarm_pass_error_minutes must be between 1 and 60."
  }
}

# The workflow's alerts come once per incident (a pool's failing passes, failing rounds, a pool's failing task
# waits: adoscale.control.incidents); while one stays open, a reminder goes out every this many hours. Rendered
# into workflow.asl.json (remind_after_hours of each Record* state) by templatefile(); the pass function accepts
# 0 to 720 (adoscale.handlers.pass_.FailedEvent), so the same bounds are checked here, at plan time.
variable "alert_reminder_hours" {
  description = "While an alert's incident stays open (a pool's passes, the rounds, or a pool's wait for its launched tasks keep failing), remind every this many hours: a whole number from 1 to 720, or 0 for no reminder (the first alert only)."
  type        = number
  default     = 24
  nullable    = false
  validation {
    condition     = var.alert_reminder_hours >= 0 && var.alert_reminder_hours <= 720 && floor(var.alert_reminder_hours) == var.alert_reminder_hours
    error_message = "alert_reminder_hours must be a whole number of hours from 1 to 720 (30 days), or 0 for no reminder."
  }
}

variable "alarm_pools" {
  description = "The pools to draw on the dashboard and alarm on, each with its max_agents (the job-waiting alarm fires only below it): a map known when planning, unlike config_json, which may hold values known only after apply. Empty: no per-pool widget or alarm."
  type        = map(number)
  default     = {}
}
