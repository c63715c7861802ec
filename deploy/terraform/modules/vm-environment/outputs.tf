output "autoscaling_group_name" {
  description = "The VMs' Auto Scaling group."
  value       = aws_autoscaling_group.vms.name
}

output "state_table_name" {
  description = "The DynamoDB state table."
  value       = aws_dynamodb_table.state.name
}

output "lifecycle_topic_arn" {
  description = "SNS topic of the lifecycle hooks."
  value       = aws_sns_topic.lifecycle.arn
}

output "launch_template_id" {
  description = "The VMs' launch template."
  value       = aws_launch_template.vm.id
}
