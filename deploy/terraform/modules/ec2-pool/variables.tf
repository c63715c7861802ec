variable "name" {
  description = "Name prefix for every resource."
  type        = string
  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,30}$", var.name))
    error_message = "name: 2 to 31 letters, digits or dashes, starting with a letter."
  }
}

variable "pool_name" {
  description = "The Azure DevOps agent pool the instances join (the pool's `name` in adoscale's configuration)."
  type        = string
  # boot.sh holds it in a double-quoted bash string: these characters would end or expand it.
  validation {
    condition     = !can(regex("[\"$`\\\\\n]", var.pool_name))
    error_message = "pool_name must not hold a double quote, a dollar sign, a backquote, a backslash or a line break (the boot script quotes it for bash)."
  }
}

variable "azp_url" {
  description = "Azure DevOps organization URL."
  type        = string
  # boot.sh holds it in a double-quoted bash string: these characters would end or expand it.
  validation {
    condition     = !can(regex("[\"$`\\\\\n]", var.azp_url))
    error_message = "azp_url must not hold a double quote, a dollar sign, a backquote, a backslash or a line break (the boot script quotes it for bash)."
  }
}

variable "pat_secret_arn" {
  description = "Secrets Manager secret holding the PAT, read by the instance at boot with its role."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the PAT secret (the instances decrypt with it)."
  type        = string
}

variable "image_id" {
  description = "AMI of the agents: an image with the agent pre-extracted in /opt/azagent, the entrypoint at /opt/adoscale/entrypoint.sh, Docker, the AWS CLI v2 and iptables (Linux), or AWS Tools for PowerShell and the agent in C:\\azagent (Windows); see docs/ec2.md."
  type        = string
}

variable "os" {
  description = "linux or windows: picks the boot script (boot.sh or boot.ps1 in this module)."
  type        = string
  default     = "linux"
  validation {
    condition     = contains(["linux", "windows"], var.os)
    error_message = "os must be linux or windows."
  }
}

variable "instance_type" {
  description = "The launch template's instance type; the pool's `ec2.instance_types` override it at each launch."
  type        = string
  default     = "m7i.large"
}

variable "root_volume_gb" {
  description = "Root volume size (GiB): gp3, encrypted with the account's EBS key, deleted with the instance."
  type        = number
  default     = 50
  validation {
    condition     = var.root_volume_gb >= 8 && var.root_volume_gb <= 16384
    error_message = "root_volume_gb must be 8-16384."
  }
}

variable "root_device_name" {
  description = "The image's root device: /dev/xvda on Amazon Linux, /dev/sda1 on Windows and Ubuntu."
  type        = string
  default     = "/dev/xvda"
}

variable "agent_name_prefix" {
  description = "Prefix of the agents' names (the pool's `agent_name_prefix`); the name is prefix + instance id."
  type        = string
  default     = ""
  # boot.sh holds it in a double-quoted bash string: these characters would end or expand it.
  validation {
    condition     = !can(regex("[\"$`\\\\\n]", var.agent_name_prefix))
    error_message = "agent_name_prefix must not hold a double quote, a dollar sign, a backquote, a backslash or a line break (the boot script quotes it for bash)."
  }
}

variable "vpc_id" {
  description = "VPC of the pool's subnets (for the security group)."
  type        = string
}

variable "egress_ports" {
  description = "TCP ports the instances may open to anywhere; 443 is needed (Azure DevOps, AWS APIs, registries), 80 for package mirrors."
  type        = list(number)
  default     = [443, 80]
  validation {
    condition     = contains(var.egress_ports, 443)
    error_message = "egress_ports must include 443."
  }
}

variable "associate_public_ip" {
  description = "Give the instances public IPs (subnets that route to an internet gateway, no NAT). Nothing inbound is allowed either way."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource (and the instances and their volumes)."
  type        = map(string)
  default     = {}
}
