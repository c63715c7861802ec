variable "name_prefix" {
  description = "Prefix of every name (tables, roles, functions, topics, secrets, log groups, schedules, the cluster): a second deployment in the same account and region needs another one."
  type        = string
  default     = "adoscale"
  validation {
    # The VM module is named "<prefix>-vms", and the modules accept names of at most 31 characters.
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,26}$", var.name_prefix))
    error_message = "name_prefix: 2 to 27 letters, digits or dashes, starting with a letter."
  }
}

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
  description = "The package built by `adoscale package`; null: dist/adoscale-lambda.zip at the repository's root, where that command writes."
  type        = string
  default     = null
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

variable "network_mode" {
  description = "nat (default: private subnets, one NAT gateway), public (public subnets and public IPs, no NAT: cheapest) or endpoints (private subnets, interface endpoints, transit_gateway_id for dev.azure.com). See docs/deploy.md for what each costs."
  type        = string
  default     = "nat"
  validation {
    condition     = contains(["nat", "public", "endpoints"], var.network_mode)
    error_message = "network_mode must be nat, public or endpoints."
  }
}

variable "transit_gateway_id" {
  description = "network_mode = endpoints: the transit gateway to your shared egress VPC."
  type        = string
  default     = null
}

variable "vpc_id" {
  description = "Bring your own VPC (with subnet_ids); its routes must already reach the internet as network_mode says (nat/endpoints: private subnets; public: subnets routing to an internet gateway)."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Your own subnets for the agents (with vpc_id)."
  type        = list(string)
  default     = []
}

variable "agent_image_tag" {
  description = "Agent image tag pushed by scripts/build-agent-image.sh (the agent version)."
  type        = string
  default     = "4.258.1"
}

variable "cpu_architecture" {
  description = "Fargate CPU architecture: X86_64 or ARM64 (Graviton, cheaper; push an arm64 image)."
  type        = string
  default     = "X86_64"
}

variable "egress_ports" {
  description = "TCP ports agents may open to anywhere (443 needed; add 80 or 22 if jobs need them)."
  type        = list(number)
  default     = [443]
}

variable "vpc_cidr" {
  description = "CIDR of the example's VPC."
  type        = string
  default     = "10.60.0.0/16"
}

variable "enable_vm_environment" {
  description = "Also deploy the Environment-VM part (needs vm_project and vm_environment)."
  type        = bool
  default     = false
}

variable "vm_image_id" {
  description = "AMI for the Environment VMs; null: the current Amazon Linux 2023 (AWS's public SSM parameter)."
  type        = string
  default     = null
}

variable "vm_project" {
  description = "enable_vm_environment: the Azure DevOps project of the Environment."
  type        = string
  default     = null
}

variable "vm_environment" {
  description = "enable_vm_environment: the Azure DevOps Environment the VMs register in."
  type        = string
  default     = null
}

variable "enable_hooks" {
  description = "Scale out on Azure DevOps service hooks as well as on the schedule (docs/hooks.md)."
  type        = bool
  default     = false
}

variable "hook_reserved_concurrency" {
  description = "enable_hooks: concurrent executions reserved for (and capping) the hook function; null for none, which accounts with the initial concurrency quota of 10 need."
  type        = number
  default     = 5
}

variable "secret_recovery_window_days" {
  description = "Days the PAT and hook secrets stay recoverable after `terraform destroy` (0, or 7 to 30); 0 lets a deployment of the same name_prefix follow at once."
  type        = number
  default     = 7
}

variable "enable_docker_pool" {
  description = "Also deploy an EC2 pool (one instance per job, docs/ec2.md) for jobs Fargate cannot run: Docker builds. Needs docker_image_id."
  type        = bool
  default     = false
}

variable "docker_pool_name" {
  description = "The ADO agent pool the EC2 (Docker) agents serve."
  type        = string
  default     = "linux-docker"
}

variable "docker_image_id" {
  description = "enable_docker_pool: the baked agent image (Docker, the agent pre-extracted, the entrypoint; docs/ec2.md)."
  type        = string
  default     = null
}

variable "docker_instance_types" {
  description = "enable_docker_pool: instance types the fleet may choose from."
  type        = list(string)
  default     = ["m7i.large", "m6i.large", "m5.large"]
}

variable "docker_spot" {
  description = "enable_docker_pool: launch Spot instances (on demand when Spot has no capacity)."
  type        = bool
  default     = true
}

variable "metrics" {
  description = "Per-pool metrics the pass function publishes: full (17 a pool: every alarm and dashboard widget) or essential (the queued jobs and the pass errors, the seed's two: only the pass-errors alarm). See docs/operations.md (Choosing the metrics)."
  type        = string
  default     = "full"
}

variable "create_dashboard" {
  description = "Create the CloudWatch dashboard ($3 a month beyond an account's first three); the alarms do not need it."
  type        = bool
  default     = true
}

variable "idle_observe_minutes" {
  description = "enable_hooks: the schedule observes a pool with nothing running every this many minutes (a lost hook is caught within it, and the pass-errors alarm's windows are this long); 1 observes every minute."
  type        = number
  default     = 10
}

variable "alert_reminder_hours" {
  description = "While an alert's incident stays open (a pool's passes, the rounds, or a pool's wait for its launched tasks keep failing), remind every this many hours (1 to 720); 0: the first alert only. The control-plane module checks the value."
  type        = number
  default     = 24
}
