variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name, e.g. seqflow-prod."
}

variable "alarm_topic_arn" {
  type        = string
  description = "SNS topic the alarms notify (the alerts topic of the events module)."
}

variable "batch_job_queue_arns" {
  type        = list(string)
  description = "Batch job queues whose jobs the metrics count."
}

variable "glue_job_names" {
  type        = list(string)
  description = "Glue jobs whose failed runs the metrics count."
}

variable "omics_workflow_names" {
  type        = list(string)
  description = "HealthOmics workflows whose failed runs the metrics count."
}

variable "datasync_task_arn" {
  type        = string
  description = "DataSync task whose executions in ERROR the metrics count."
}

variable "mwaa_environment_name" {
  type        = string
  description = "MWAA environment whose scheduler heartbeat is watched (null without MWAA)."
  default     = null
}

variable "batch_failed_jobs_threshold" {
  type        = number
  description = "Failed Batch jobs in an hour above which the alarm fires (single failures are alerted per job by the events module)."
  default     = 10
}

variable "glue_security_configuration_name" {
  type        = string
  description = "Security configuration of the Glue converter job (names its log groups); null: create no Glue log groups."
  default     = null
}

variable "glue_role_name" {
  type        = string
  description = "IAM role name of the Glue converter job (names its output and error log groups)."
  default     = null
}

variable "logs_kms_key_arn" {
  type        = string
  description = "KMS key ARN of the log groups."
}

variable "log_retention_days" {
  type        = number
  description = "Retention in days of the pipeline-events and Glue log groups."
  default     = 365
}
