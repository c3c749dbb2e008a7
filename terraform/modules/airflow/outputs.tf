output "execution_role_arn" {
  description = "ARN of the Airflow execution role (MWAA or self-hosted)."
  value       = aws_iam_role.this.arn
}

output "ssm_parameter_names" {
  description = "SSM parameter name by configuration key (include/seqflow/aws/config_keys.py: AWS_CONFIG_KEYS, and the OPTIONAL_CONFIG_KEYS whose feature is on)."
  value       = merge({ for k, p in aws_ssm_parameter.config : k => p.name }, { for k, p in aws_ssm_parameter.optional_config : k => p.name })
}

output "secrets_backend_kwargs" {
  description = "The SSM secrets backend's kwargs (prefixes and lookup patterns) as MWAA's secrets.backend_kwargs gets them."
  value       = local.mwaa_secrets_options["secrets.backend_kwargs"]
}

output "registry_table_name" {
  description = "DynamoDB table of the run registry."
  value       = aws_dynamodb_table.registry.name
}

output "mwaa_webserver_url" {
  description = "Private URL of the MWAA Airflow UI (null without MWAA)."
  value       = var.enable_mwaa ? aws_mwaa_environment.this[0].webserver_url : null
}

output "mwaa_dag_bucket" {
  description = "S3 URI of the MWAA DAG bucket, the argument of mwaa/sync_dags.sh (null without MWAA)."
  value       = var.enable_mwaa ? "s3://${aws_s3_bucket.dags[0].id}" : null
}

output "mwaa_environment_name" {
  description = "Name of the MWAA environment (null without MWAA)."
  value       = var.enable_mwaa ? aws_mwaa_environment.this[0].name : null
}

output "execution_role_actions" {
  description = "Every IAM action the execution role's pipeline policy allows: the AWS calls the DAGs make (tests compare it with the code's calls)."
  value       = sort(distinct(flatten([for s in data.aws_iam_policy_document.pipeline.statement : s.actions])))
}
