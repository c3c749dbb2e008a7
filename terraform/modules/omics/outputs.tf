output "workflow_id" {
  description = "HealthOmics workflow id of the germline pipeline."
  value       = aws_cloudformation_stack.this.outputs["WorkflowId"]
}

output "workflow_arn" {
  description = "HealthOmics workflow ARN."
  value       = aws_cloudformation_stack.this.outputs["WorkflowArn"]
}

output "run_group_id" {
  description = "HealthOmics run group id."
  value       = aws_cloudformation_stack.this.outputs["RunGroupId"]
}

output "run_group_arn" {
  description = "HealthOmics run group ARN."
  value       = aws_cloudformation_stack.this.outputs["RunGroupArn"]
}

output "run_cache_id" {
  description = "HealthOmics run cache id (null without the run cache)."
  value       = var.run_cache ? aws_cloudformation_stack.this.outputs["RunCacheId"] : null
}

output "run_cache_arn" {
  description = "HealthOmics run cache ARN (null without the run cache)."
  value       = var.run_cache ? aws_cloudformation_stack.this.outputs["RunCacheArn"] : null
}

output "run_cache" {
  description = "The run cache as the stack declares it: resource type, S3 location, default behaviour, id (null without the run cache)."
  value = var.run_cache ? {
    type        = local.run_cache_resources.RunCache.Type
    s3_location = local.run_cache_resources.RunCache.Properties.CacheS3Location
    behavior    = local.run_cache_resources.RunCache.Properties.CacheBehavior
    id          = aws_cloudformation_stack.this.outputs["RunCacheId"]
  } : null
}

output "role_arn" {
  description = "IAM role HealthOmics runs assume."
  value       = aws_iam_role.this.arn
}

output "output_uri" {
  description = "S3 URI under which runs write outputs."
  value       = "s3://${element(split(":", var.output_bucket_arn), 5)}/${var.output_prefix}"
}

output "log_group_name" {
  description = "HealthOmics log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "workflow_name" {
  description = "HealthOmics workflow name (every version of the workflow carries it)."
  value       = "${var.name_prefix}-${var.workflow_name}"
}
