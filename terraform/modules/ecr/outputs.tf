output "repository_urls" {
  description = "Repository URL (without tag) by tool."
  value       = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}

output "repository_arns" {
  description = "Repository ARN by tool."
  value       = { for k, r in aws_ecr_repository.this : k => r.arn }
}

output "repository_prefix" {
  description = "Namespace of the repositories (ECR_PREFIX of containers/_common/push.sh)."
  value       = var.repository_prefix
}
