output "job_queue_arn" {
  description = "ARN of the default job queue (Spot first, On-Demand fallback)."
  value       = aws_batch_job_queue.this.arn
}

output "job_queue_name" {
  description = "Name of the default job queue."
  value       = aws_batch_job_queue.this.name
}

output "priority_job_queue_arn" {
  description = "ARN of the On-Demand priority job queue."
  value       = aws_batch_job_queue.priority.arn
}

output "priority_job_queue_name" {
  description = "Name of the On-Demand priority job queue."
  value       = aws_batch_job_queue.priority.name
}

output "job_definition_names" {
  description = "Job definition name (without revision) by step implementation id (fastp, align_bwa, ...); SubmitJob with the name runs the latest active revision."
  value       = { for k, d in aws_batch_job_definition.this : k => d.name }
}

output "job_definition_arns" {
  description = "Job definition ARN (with revision) by step implementation id."
  value       = { for k, d in aws_batch_job_definition.this : k => d.arn }
}

output "job_definition_arn_prefixes" {
  description = "Job definition ARN without revision by step implementation id (for IAM resources)."
  value       = { for k, d in aws_batch_job_definition.this : k => d.arn_prefix }
}

output "job_role_arn" {
  description = "IAM role the job containers run with."
  value       = aws_iam_role.job.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the job containers."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group_arn" {
  description = "ARN of the job containers' log group."
  value       = aws_cloudwatch_log_group.this.arn
}

output "job_queue_capacity_order" {
  description = "Per job queue (default, priority), the capacity types of its compute environments in the order Batch tries them (SPOT, EC2 = On-Demand)."
  value = {
    for name, queue in { default = aws_batch_job_queue.this, priority = aws_batch_job_queue.priority } : name => [
      for o in sort([for o in queue.compute_environment_order : format("%04d %s", o.order, local.compute_environment_types[o.compute_environment])]) : split(" ", o)[1]
    ]
  }
}

output "ecs_agent_config" {
  description = "Settings the launch template's user data writes to /etc/ecs/ecs.config on every container instance."
  value       = local.ecs_agent_config
}
