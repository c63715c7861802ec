output "vpc_id" {
  description = "The VPC."
  value       = aws_vpc.this.id
}

output "subnet_ids" {
  description = "The agents' subnets (the pool's ecs.subnets)."
  value       = aws_subnet.agents[*].id
}

output "assign_public_ip" {
  description = "Whether agents need a public IP (mode = public): the pool's ecs.assign_public_ip."
  value       = var.mode == "public"
}

output "nat_gateway_ids" {
  description = "NAT gateways (mode = nat)."
  value       = aws_nat_gateway.this[*].id
}

output "endpoint_security_group_id" {
  description = "Security group of the interface endpoints (mode = endpoints), null otherwise."
  value       = var.mode == "endpoints" ? aws_security_group.endpoints[0].id : null
}
