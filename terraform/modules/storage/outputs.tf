output "kms_key_arn" {
  description = "ARN of the data KMS key (S3 buckets, Glue, Athena, DynamoDB, ECR)."
  value       = aws_kms_key.this.arn
}

output "kms_alias_name" {
  description = "Alias of the data KMS key."
  value       = aws_kms_alias.this.name
}

output "logs_kms_key_arn" {
  description = "ARN of the KMS key CloudWatch log groups are encrypted with."
  value       = aws_kms_key.logs.arn
}

output "bucket_names" {
  description = "Bucket name by purpose: raw, results, lake, athena_results, scratch, artifacts."
  value       = { for k, b in aws_s3_bucket.this : k => b.id }
}

output "bucket_arns" {
  description = "Bucket ARN by purpose: raw, results, lake, athena_results, scratch, artifacts."
  value       = { for k, b in aws_s3_bucket.this : k => b.arn }
}

output "logs_bucket_name" {
  description = "Name of the access-log bucket (also holds DataSync task reports)."
  value       = aws_s3_bucket.logs.id
}

output "logs_bucket_arn" {
  description = "ARN of the access-log bucket."
  value       = aws_s3_bucket.logs.arn
}

output "raw_prefix" {
  description = "Key prefix of run folders in the raw bucket."
  value       = var.raw_prefix
}
