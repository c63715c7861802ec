variable "function_name" {
  description = "The function's name (also names its role and log group)."
  type        = string
}

variable "handler" {
  description = "Python handler, e.g. adoscale.handlers.pass_.handler."
  type        = string
}

variable "zip_path" {
  description = "The package built by `adoscale package`."
  type        = string
}

variable "statements" {
  description = "The function's IAM statements: actions, resources, optional ArnEquals conditions and optional StringEquals conditions."
  type = list(object({
    actions           = list(string)
    resources         = list(string)
    conditions        = optional(map(list(string)), {})
    string_conditions = optional(map(list(string)), {})
  }))
}

variable "environment" {
  description = "Environment variables."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "KMS key for the environment variables and the log group."
  type        = string
}

variable "timeout_seconds" {
  description = "Lambda timeout."
  type        = number
  default     = 60
}

variable "memory_mb" {
  description = "Lambda memory."
  type        = number
  default     = 256
}

variable "dead_letter_arn" {
  description = "SQS queue for asynchronous invocations that failed every retry; null for none."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "tracing" {
  description = "X-Ray active tracing (the role then gets X-Ray's write actions)."
  type        = bool
  default     = true
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions; null: none reserved."
  type        = number
  default     = null
}
