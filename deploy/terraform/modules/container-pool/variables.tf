variable "name" {
  description = "Name prefix for every resource of this agent pool."
  type        = string
  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,30}$", var.name))
    error_message = "name: 2 to 31 letters, digits or dashes, starting with a letter."
  }
}

variable "vpc_id" {
  description = "VPC of the agents' security group."
  type        = string
}

variable "cpu" {
  description = "Task CPU units (256 = 0.25 vCPU)."
  type        = number
  default     = 256
  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be a Fargate size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "memory" {
  description = "Task memory in MiB, valid for the chosen cpu."
  type        = number
  default     = 512
}

variable "cpu_architecture" {
  description = "CPU architecture of the tasks: X86_64 or ARM64 (Graviton: about 20% cheaper per vCPU-hour; the image must be built for it, see scripts/build-agent-image.sh)."
  type        = string
  default     = "X86_64"
  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "image" {
  description = "Agent image; null uses this module's ECR repository with image_tag."
  type        = string
  default     = null
}

variable "image_tag" {
  description = "Tag of the agent image in this module's ECR repository: the version scripts/build-agent-image.sh pushed (the repository is IMMUTABLE, so never a moving tag like latest)."
  type        = string
  default     = "4.258.1"
  validation {
    condition     = var.image_tag != "latest" && length(var.image_tag) > 0
    error_message = "image_tag must be a version tag: the repository is IMMUTABLE, latest cannot follow new builds."
  }
}

variable "azp_url" {
  description = "Azure DevOps organization URL (AZP_URL in the container)."
  type        = string
}

variable "pat_secret_arn" {
  description = "Secrets Manager secret holding the PAT; injected as AZP_TOKEN by the execution role."
  type        = string
}

variable "agent_name_prefix" {
  description = "AZP_AGENT_NAME_PREFIX: must equal the pool's agent_name_prefix in adoscale's configuration."
  type        = string
  default     = ""
}

variable "environment" {
  description = "Extra container environment (the seed's configurable template). Never secrets."
  type        = map(string)
  default     = {}
}

variable "secrets" {
  description = "Extra container secrets: environment variable name to Secrets Manager or SSM ARN."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Retention of the agents' log group."
  type        = number
  default     = 365
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts."
  }
}

variable "egress_ports" {
  description = "TCP ports the agents may open to anywhere; 443 (Azure DevOps, ECR, AWS APIs) is needed, add e.g. 80 or 22 for jobs."
  type        = list(number)
  default     = [443]
  validation {
    condition     = contains(var.egress_ports, 443)
    error_message = "egress_ports must include 443: the agent reaches Azure DevOps, ECR and AWS over HTTPS."
  }
}

variable "secrets_kms_key_arn" {
  description = "Customer key of the PAT secret (and of `secrets`); null: kms_key_arn. The execution role may decrypt with it."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "KMS key for the log group and ECR; null uses AWS-managed keys."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
