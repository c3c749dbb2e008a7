output "ssm_parameter_names" {
  description = "SSM parameter name by configuration key: how Airflow finds every resource below."
  value       = module.airflow.ssm_parameter_names
}

output "bucket_names" {
  description = "Bucket name by purpose."
  value       = module.storage.bucket_names
}

output "ecr_repository_urls" {
  description = "ECR repository URL by tool (push target of containers/_common/push.sh)."
  value       = module.ecr.repository_urls
}

output "ecr_repository_prefix" {
  description = "ECR namespace of the tool images (ECR_PREFIX of containers/_common/push.sh)."
  value       = module.ecr.repository_prefix
}

output "datasync_task_arn" {
  description = "ARN of the DataSync task."
  value       = module.datasync.task_arn
}

output "datasync_agent_arn" {
  description = "ARN of the DataSync agent."
  value       = module.datasync.agent_arn
}

output "batch_job_queue_names" {
  description = "Default and priority Batch job queues."
  value = {
    default  = module.batch.job_queue_name
    priority = module.batch.priority_job_queue_name
  }
}

output "batch_job_definition_names" {
  description = "Batch job definition name by pipeline step."
  value       = module.batch.job_definition_names
}

output "omics_run_cache" {
  description = "HealthOmics run cache: resource type, S3 location, default behaviour, id (null without var.omics_run_cache)."
  value       = module.omics.run_cache
}

output "omics_workflow_id" {
  description = "HealthOmics workflow id."
  value       = module.omics.workflow_id
}

output "glue_job_name" {
  description = "Glue converter job."
  value       = module.glue_athena.job_name
}

output "athena_workgroup" {
  description = "Athena workgroup."
  value       = module.glue_athena.workgroup_name
}

output "alerts_topic_arn" {
  description = "SNS alerts topic."
  value       = module.events.topic_arn
}

output "airflow_execution_role_arn" {
  description = "Role Airflow runs with (MWAA execution role or the role a self-hosted Airflow assumes)."
  value       = module.airflow.execution_role_arn
}

output "mwaa_webserver_url" {
  description = "Private MWAA UI URL (null without MWAA)."
  value       = module.airflow.mwaa_webserver_url
}

output "mwaa_dag_bucket" {
  description = "MWAA DAG bucket URI for mwaa/sync_dags.sh (null without MWAA)."
  value       = module.airflow.mwaa_dag_bucket
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the deployment."
  value       = module.monitoring.dashboard_name
}

output "alarm_names" {
  description = "CloudWatch alarm name by purpose."
  value       = module.monitoring.alarm_names
}

output "alerts_dead_letter_queue_url" {
  description = "SQS queue holding alert events the SNS topic did not take."
  value       = module.events.dead_letter_queue_url
}

output "airflow_secrets_backend_kwargs" {
  description = "The SSM secrets backend's kwargs (JSON): prefixes and lookup patterns of the Variables and connections it reads."
  value       = module.airflow.secrets_backend_kwargs
}

output "airflow_execution_role_actions" {
  description = "IAM actions the Airflow execution role allows."
  value       = module.airflow.execution_role_actions
}

output "bucket_security" {
  description = "Per data bucket: encryption, versioning, public access block, bucket policy statements."
  value       = module.storage.bucket_security
}

output "batch_job_queue_capacity_order" {
  description = "Per Batch job queue, the capacity types of its compute environments in order (SPOT, EC2)."
  value       = module.batch.job_queue_capacity_order
}

output "batch_ecs_agent_config" {
  description = "ECS agent settings of every Batch container instance."
  value       = module.batch.ecs_agent_config
}

output "alert_rule_patterns" {
  description = "Event pattern of every alert rule."
  value       = module.events.rule_patterns
}

output "run_events_queue_url" {
  description = "The run-flags queue: SEQFLOW_RUN_EVENTS_QUEUE of a self-hosted Airflow (MWAA gets it as the seqflow.run_events_queue option when run_events_enabled)."
  value       = module.run_events.queue_url
}

output "run_events_flag_keys" {
  description = "The object keys the run-flags rule matches (tests check its flag names against the code's)."
  value       = module.run_events.flag_keys
}

output "launch_queue_url" {
  description = "The launch-files queue: SEQFLOW_LAUNCH_QUEUE of a self-hosted Airflow (MWAA gets it as the seqflow.launch_queue option when launch_uploads_enabled)."
  value       = module.run_events.launch_queue_url
}

output "launch_uri" {
  description = "Where to upload a launch file (docs/aws.md, Launch by upload)."
  value       = "s3://${local.bucket.raw.name}/${module.run_events.launch_prefix}"
}

output "launch_prefix" {
  description = "The key prefix of launch files in the raw bucket (the launch rule's and the execution role's)."
  value       = module.run_events.launch_prefix
}
