output "ssm_parameter_names" {
  description = "SSM parameter name by configuration key (what Airflow reads)."
  value       = module.seqflow.ssm_parameter_names
}

output "ecr_repository_urls" {
  description = "ECR repository URL by tool."
  value       = module.seqflow.ecr_repository_urls
}

output "ecr_repository_prefix" {
  description = "ECR namespace for containers/_common/push.sh (ECR_PREFIX)."
  value       = module.seqflow.ecr_repository_prefix
}

output "bucket_names" {
  description = "Bucket name by purpose."
  value       = module.seqflow.bucket_names
}

output "datasync_agent_arn" {
  description = "ARN of the activated DataSync agent."
  value       = module.seqflow.datasync_agent_arn
}

output "airflow_execution_role_arn" {
  description = "Role Airflow runs with."
  value       = module.seqflow.airflow_execution_role_arn
}

output "mwaa_webserver_url" {
  description = "Private MWAA UI URL (null without MWAA)."
  value       = module.seqflow.mwaa_webserver_url
}

output "mwaa_dag_bucket" {
  description = "MWAA DAG bucket for mwaa/sync_dags.sh (null without MWAA)."
  value       = module.seqflow.mwaa_dag_bucket
}

output "airflow_secrets_backend_kwargs" {
  description = "The SSM secrets backend's kwargs (JSON): prefixes and lookup patterns of the Variables and connections it reads."
  value       = module.seqflow.airflow_secrets_backend_kwargs
}

output "omics_run_cache" {
  description = "HealthOmics run cache: resource type, S3 location, default behaviour, id (null without it)."
  value       = module.seqflow.omics_run_cache
}

output "airflow_execution_role_actions" {
  description = "IAM actions the Airflow execution role allows."
  value       = module.seqflow.airflow_execution_role_actions
}

output "bucket_security" {
  description = "Per data bucket: encryption, versioning, public access block, bucket policy statements."
  value       = module.seqflow.bucket_security
}

output "batch_job_queue_capacity_order" {
  description = "Per Batch job queue, the capacity types of its compute environments in order (SPOT, EC2)."
  value       = module.seqflow.batch_job_queue_capacity_order
}

output "batch_ecs_agent_config" {
  description = "ECS agent settings of every Batch container instance."
  value       = module.seqflow.batch_ecs_agent_config
}

output "alert_rule_patterns" {
  description = "Event pattern of every alert rule."
  value       = module.seqflow.alert_rule_patterns
}

output "alarm_names" {
  description = "CloudWatch alarm name by purpose."
  value       = module.seqflow.alarm_names
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the deployment."
  value       = module.seqflow.dashboard_name
}

output "run_events_queue_url" {
  description = "The run-flags queue (SEQFLOW_RUN_EVENTS_QUEUE of a self-hosted Airflow)."
  value       = module.seqflow.run_events_queue_url
}

output "run_events_flag_keys" {
  description = "The object keys the run-flags rule matches."
  value       = module.seqflow.run_events_flag_keys
}

output "launch_queue_url" {
  description = "The launch-files queue (SEQFLOW_LAUNCH_QUEUE of a self-hosted Airflow)."
  value       = module.seqflow.launch_queue_url
}

output "launch_uri" {
  description = "Where to upload a launch file (docs/aws.md, Launch by upload)."
  value       = module.seqflow.launch_uri
}

output "launch_prefix" {
  description = "The key prefix of launch files in the raw bucket."
  value       = module.seqflow.launch_prefix
}
