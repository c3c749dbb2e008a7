output "workflow_id" {
  description = "HealthOmics workflow id of the germline pipeline."
  value       = awscc_omics_workflow.this.workflow_id
}

output "workflow_arn" {
  description = "HealthOmics workflow ARN."
  value       = awscc_omics_workflow.this.arn
}

output "run_group_id" {
  description = "HealthOmics run group id."
  value       = awscc_omics_run_group.this.run_group_id
}

output "run_group_arn" {
  description = "HealthOmics run group ARN."
  value       = awscc_omics_run_group.this.arn
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
