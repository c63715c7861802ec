variable "ado_org_name" {
  description = "Azure DevOps organization name (https://dev.azure.com/<name>)."
  type        = string
}

variable "ado_org_url" {
  description = "Organization URL; null: https://dev.azure.com/<ado_org_name>."
  type        = string
  default     = null
}

variable "ado_pat" {
  description = "The PAT (lands in Terraform state; prefer null and set the secret with the AWS CLI)."
  type        = string
  default     = null
  sensitive   = true
}

variable "agent_cw_namespace" {
  description = "CloudWatch namespace of the queue metrics."
  type        = string
  default     = "adoscale"
}

variable "agent_cw_metric" {
  description = "Name of the queued-jobs metric."
  type        = string
  default     = "QueuedJobs"
}

variable "function_timeout_seconds" {
  description = "Lambda timeout."
  type        = number
  default     = 60
}

variable "lambda_zip_path" {
  description = "The package built by `adoscale package`."
  type        = string
}

variable "pool_name" {
  description = "The ADO agent pool the container agents serve."
  type        = string
  default     = "linux-fargate"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "vpc_cidr" {
  description = "CIDR of the example's VPC."
  type        = string
  default     = "10.60.0.0/16"
}

variable "enable_vm_environment" {
  description = "Also deploy the Environment-VM part (second seed)."
  type        = bool
  default     = true
}

variable "vm_image_id" {
  description = "AMI for the Environment VMs."
  type        = string
  default     = "ami-12c6146b"
}

variable "aws_endpoint" {
  description = "Tests only: send every AWS call to this URL (an AWS emulator on 127.0.0.1)."
  type        = string
  default     = null
}
