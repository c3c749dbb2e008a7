output "task_arn" {
  description = "ARN of the DataSync task from the instrument share to the raw bucket."
  value       = aws_datasync_task.this.arn
}

output "agent_arn" {
  description = "ARN of the activated DataSync agent."
  value       = aws_datasync_agent.this.arn
}

output "source_location_arn" {
  description = "ARN of the on-prem (NFS or SMB) location."
  value       = local.source_arn
}

output "destination_location_arn" {
  description = "ARN of the raw-bucket S3 location."
  value       = aws_datasync_location_s3.this.arn
}

output "log_group_name" {
  description = "CloudWatch log group of task executions."
  value       = aws_cloudwatch_log_group.this.name
}
