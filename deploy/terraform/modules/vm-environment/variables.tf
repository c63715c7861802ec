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
  description = "ADO project of the Environment (required: the registration script exits 2 without it)."
  type        = string
  validation {
    condition     = var.project != null && length(var.project) > 0
    error_message = "project is required: the Azure DevOps project holding the Environment."
  }
}

variable "environment_name" {
  description = "ADO Environment the VMs register in (required; it must exist in the project)."
  type        = string
  validation {
    condition     = var.environment_name != null && length(var.environment_name) > 0
    error_message = "environment_name is required: the Azure DevOps Environment the VMs join."
  }
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
  description = "AMI of the VMs; null: the current Amazon Linux 2023 for the instance type's architecture, resolved by EC2 at launch from AWS's public SSM parameter. Another AMI needs bash, curl, tar, the AWS CLI v2 and systemd (see README)."
  type        = string
  default     = null
}

variable "instance_type" {
  description = "EC2 instance type (a Graviton type such as t4g.small needs cpu_architecture = arm64)."
  type        = string
  default     = "t3.small"
}

variable "cpu_architecture" {
  description = "x86_64 or arm64: picks the Amazon Linux 2023 image and the agent build."
  type        = string
  default     = "x86_64"
  validation {
    condition     = contains(["x86_64", "arm64"], var.cpu_architecture)
    error_message = "cpu_architecture must be x86_64 or arm64."
  }
}

variable "vpc_id" {
  description = "VPC of the subnets (for the VMs' security group)."
  type        = string
}

variable "egress_ports" {
  description = "TCP ports the VMs may open to anywhere; 443 is needed (Azure DevOps, AWS APIs), add 80 for package mirrors or 22 for deployments."
  type        = list(number)
  default     = [443, 80]
  validation {
    condition     = contains(var.egress_ports, 443)
    error_message = "egress_ports must include 443."
  }
}

variable "associate_public_ip" {
  description = "Give the VMs public IPs (subnets that route to an internet gateway, no NAT). Nothing inbound is allowed either way."
  type        = bool
  default     = false
}

variable "agent_user" {
  description = "Unprivileged user the agent service (and so every deployment job) runs as; it is denied the instance metadata service, so jobs cannot use the instance's role to read the PAT."
  type        = string
  default     = "azagent"
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
