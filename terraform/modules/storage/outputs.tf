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

output "bucket_security" {
  description = "Per data bucket: default encryption, versioning, public access block and the bucket policy's statements (sid, effect, actions, conditions)."
  value = {
    for k, _ in local.buckets : k => {
      sse_algorithm      = one(aws_s3_bucket_server_side_encryption_configuration.this[k].rule).apply_server_side_encryption_by_default[0].sse_algorithm
      kms_master_key_id  = one(aws_s3_bucket_server_side_encryption_configuration.this[k].rule).apply_server_side_encryption_by_default[0].kms_master_key_id
      bucket_key_enabled = one(aws_s3_bucket_server_side_encryption_configuration.this[k].rule).bucket_key_enabled
      versioning         = aws_s3_bucket_versioning.this[k].versioning_configuration[0].status
      public_access_blocked = alltrue([
        aws_s3_bucket_public_access_block.this[k].block_public_acls,
        aws_s3_bucket_public_access_block.this[k].block_public_policy,
        aws_s3_bucket_public_access_block.this[k].ignore_public_acls,
        aws_s3_bucket_public_access_block.this[k].restrict_public_buckets,
      ])
      policy_statements = [
        for s in data.aws_iam_policy_document.bucket[k].statement : {
          sid        = s.sid
          effect     = s.effect
          actions    = sort(s.actions)
          conditions = [for c in s.condition : { test = c.test, variable = c.variable, values = c.values }]
        }
      ]
    }
  }
}
