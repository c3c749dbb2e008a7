output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "IDs of the private subnets, one per AZ."
  value       = aws_subnet.private[*].id
}

output "private_subnet_arns" {
  description = "ARNs of the private subnets, one per AZ."
  value       = aws_subnet.private[*].arn
}

output "private_route_table_ids" {
  description = "IDs of the private route tables."
  value       = aws_route_table.private[*].id
}

output "s3_endpoint_id" {
  description = "ID of the S3 gateway endpoint."
  value       = aws_vpc_endpoint.s3.id
}

output "datasync_endpoint_id" {
  description = "ID of the DataSync interface endpoint (null when not created)."
  value       = local.datasync ? aws_vpc_endpoint.datasync[0].id : null
}

output "datasync_endpoint_private_ip" {
  description = "Private IP of the DataSync endpoint's network interface, the agent's private link endpoint (null when not created)."
  value       = local.datasync ? data.aws_network_interface.datasync[0].private_ip : null
}

output "datasync_endpoint_subnet_arn" {
  description = "ARN of the subnet that holds the DataSync endpoint (null when not created)."
  value       = local.datasync ? aws_subnet.private[0].arn : null
}

output "datasync_security_group_arn" {
  description = "ARN of the DataSync endpoint's security group (null when not created)."
  value       = local.datasync ? aws_security_group.datasync[0].arn : null
}
