output "cluster_name" {
  description = "ECS cluster of the agents."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ECS cluster ARN."
  value       = aws_ecs_cluster.this.arn
}

output "task_definition_family" {
  description = "Agent task definition family (the pool's ecs.task_definition)."
  value       = aws_ecs_task_definition.agent.family
}

output "task_definition_arn" {
  description = "Agent task definition ARN."
  value       = aws_ecs_task_definition.agent.arn
}

output "ecr_repository_url" {
  description = "Push the agent image here."
  value       = aws_ecr_repository.agent.repository_url
}

output "security_group_id" {
  description = "Egress-only security group for the tasks (the pool's ecs.security_groups)."
  value       = aws_security_group.agents.id
}

output "task_role_arn" {
  description = "The tasks' role (adoscale's act function may pass it)."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "The tasks' execution role (adoscale's act function may pass it)."
  value       = aws_iam_role.execution.arn
}

output "log_group_name" {
  description = "The agents' log group."
  value       = aws_cloudwatch_log_group.agents.name
}

output "image" {
  description = "The image the task definition runs (push it with scripts/build-agent-image.sh)."
  value       = local.image
}
