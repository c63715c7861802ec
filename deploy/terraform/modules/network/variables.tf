variable "name" {
  description = "Name prefix for every resource."
  type        = string
  default     = "adoscale"
  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,30}$", var.name))
    error_message = "name: 2 to 31 letters, digits or dashes, starting with a letter."
  }
}

variable "mode" {
  description = "How agents reach Azure DevOps and AWS: nat (private subnets, one NAT gateway), public (public subnets, tasks get public IPs, no NAT) or endpoints (private subnets, interface endpoints for AWS, a transit gateway to your egress VPC)."
  type        = string
  default     = "nat"
  validation {
    condition     = contains(["nat", "public", "endpoints"], var.mode)
    error_message = "mode must be nat, public or endpoints."
  }
}

variable "cidr_block" {
  description = "CIDR of the VPC."
  type        = string
  default     = "10.60.0.0/16"
}

variable "az_count" {
  description = "Availability zones for the agents' subnets (one subnet each)."
  type        = number
  default     = 2
  validation {
    condition     = var.az_count >= 1 && var.az_count <= 6
    error_message = "az_count must be between 1 and 6."
  }
}

variable "transit_gateway_id" {
  description = "mode = endpoints: the transit gateway towards your egress (shared-services) VPC; the default route goes there."
  type        = string
  default     = null
}

variable "interface_endpoints" {
  description = "mode = endpoints: AWS services reached through interface endpoints (the S3 gateway endpoint is always added)."
  type        = list(string)
  default     = ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm", "sts"]
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow log group."
  type        = number
  default     = 365
}

variable "kms_key_arn" {
  description = "KMS key of the flow log group; null: CloudWatch Logs' own encryption."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
