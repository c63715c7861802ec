output "launch_template_id" {
  description = "The launch template: the pool's `ec2.launch_template`."
  value       = aws_launch_template.agent.id
}

output "launch_template_arn" {
  description = "The launch template's ARN (the control plane's `ec2_launch_template_arns`)."
  value       = aws_launch_template.agent.arn
}

output "instance_role_arn" {
  description = "The instances' role (the control plane's `pass_role_arns`: CreateFleet passes it)."
  value       = aws_iam_role.agent.arn
}

output "security_group_id" {
  description = "The instances' egress-only security group."
  value       = aws_security_group.agent.id
}
