output "workflow_arn" {
  description = "The scaling workflow."
  value       = module.control_plane.workflow_arn
}

output "cluster" {
  description = "ECS cluster of the agents."
  value       = module.container_pool.cluster_name
}

output "ecr_repository_url" {
  description = "Push the agent image here."
  value       = module.container_pool.ecr_repository_url
}

output "pat_secret_arn" {
  description = "Put the PAT here."
  value       = module.control_plane.pat_secret_arn
}

output "alert_topic_arn" {
  description = "Failures and stuck deregistrations are published here."
  value       = module.control_plane.alert_topic_arn
}

output "config_parameter_name" {
  description = "Target of `adoscale config push`."
  value       = module.control_plane.config_parameter_name
}

output "subnet_ids" {
  description = "The agents' subnets."
  value       = local.subnet_ids
}

output "agent_image" {
  description = "The image the task definition runs: push it with scripts/build-agent-image.sh."
  value       = "${module.container_pool.ecr_repository_url}:${var.agent_image_tag}"
}

output "security_group_id" {
  description = "The agents' egress-only security group."
  value       = module.container_pool.security_group_id
}

output "hook_url" {
  description = "The endpoint for `adoscale hooks install --url` (null unless enable_hooks)."
  value       = module.control_plane.hook_url
}

output "lease_table_name" {
  description = "The lease table (already named in the configuration Terraform writes)."
  value       = module.control_plane.lease_table_name
}

output "docker_launch_template_id" {
  description = "enable_docker_pool: the EC2 pool's launch template."
  value       = one(module.docker_pool[*].launch_template_id)
}

output "dashboard_name" {
  description = "The CloudWatch dashboard (null with create_dashboard = false)."
  value       = module.control_plane.dashboard_name
}
