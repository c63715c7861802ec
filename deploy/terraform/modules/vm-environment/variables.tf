variable "name" {
  description = "Name prefix for every resource."
  type        = string
  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,30}$", var.name))
    error_message = "name: 2 to 31 letters, digits or dashes, starting with a letter."
  }
}

variable "lambda_zip_path" {
  description = "The package built by `adoscale package`."
  type        = string
}

variable "azp_url" {
  description = "Azure DevOps organization URL."
  type        = string
}

variable "pat_secret_arn" {
  description = "Secrets Manager secret holding the PAT (read by the Lambdas and by the VMs at boot)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the PAT secret (the VMs and Lambdas decrypt with it); also encrypts the table."
  type        = string
}

variable "project" {
  description = "ADO project; empty: the instances' adoscale:project tag decides."
  type        = string
  default     = ""
}

variable "environment_name" {
  description = "ADO Environment; empty: the instances' adoscale:environment tag decides."
  type        = string
  default     = ""
}

variable "vm_tags" {
  description = "Comma-separated VM resource tags; empty: the adoscale:vm-tags tag decides."
  type        = string
  default     = ""
}

variable "agent_version" {
  description = "Azure Pipelines agent version the VMs install."
  type        = string
  default     = "4.258.1"
}

variable "image_id" {
  description = "AMI of the VMs (with the AWS CLI)."
  type        = string
}

variable "instance_type" {
  description = "EC2 instance type."
  type        = string
  default     = "t3.small"
}

variable "subnet_ids" {
  description = "Subnets of the Auto Scaling group."
  type        = list(string)
}

variable "min_size" {
  description = "ASG minimum."
  type        = number
  default     = 0
}

variable "max_size" {
  description = "ASG maximum."
  type        = number
  default     = 2
}

variable "desired_capacity" {
  description = "ASG desired capacity."
  type        = number
  default     = 0
}

variable "heartbeat_timeout_seconds" {
  description = "Lifecycle hooks' heartbeat timeout: how long a VM waits for (re)registration work per heartbeat."
  type        = number
  default     = 300
  validation {
    condition     = var.heartbeat_timeout_seconds >= 30 && var.heartbeat_timeout_seconds <= 7200
    error_message = "heartbeat_timeout_seconds must be between 30 and 7200."
  }
}

variable "delivery" {
  description = "How lifecycle events reach the Lambda: sns (the seed's path) or eventbridge."
  type        = string
  default     = "sns"
  validation {
    condition     = contains(["sns", "eventbridge"], var.delivery)
    error_message = "delivery must be sns or eventbridge."
  }
}

variable "sweep_environments" {
  description = "Environments the sweeper keeps clean: list of {project, name, grace_seconds}."
  type        = list(object({ project = string, name = string, grace_seconds = number }))
  default     = []
}

variable "alert_topic_arn" {
  description = "SNS topic for the 'still registered' alert."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the Lambdas' log groups."
  type        = number
  default     = 365
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
