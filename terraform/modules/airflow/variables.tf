variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name, e.g. seqflow-prod."
}

variable "project" {
  type        = string
  description = "Project name (SSM key project; the cost-allocation tag value)."
}

variable "buckets" {
  type = object({
    raw            = object({ name = string, arn = string })
    results        = object({ name = string, arn = string })
    lake           = object({ name = string, arn = string })
    athena_results = object({ name = string, arn = string })
    scratch        = object({ name = string, arn = string })
  })
  description = "Name and ARN of each bucket the DAGs use (storage module)."
}

variable "raw_prefix" {
  type        = string
  description = "Key prefix of run folders in the raw bucket, ending in a slash."
}

variable "kms_key_arn" {
  type        = string
  description = "Data KMS key (buckets, catalog, registry table)."
}

variable "datasync_task_arn" {
  type        = string
  description = "ARN of the DataSync task the ingest DAG starts."
}

variable "batch" {
  type = object({
    job_queue_name              = string
    job_queue_arn               = string
    priority_job_queue_name     = string
    priority_job_queue_arn      = string
    job_definition_names        = map(string)
    job_definition_arn_prefixes = map(string)
    log_group_arn               = string
  })
  description = "Batch queues, job definitions (by step implementation id of the step catalogue: fastp, align_bwa, ...) and the job log group (batch module)."

  validation {
    condition = alltrue([for s in ["fastp", "align_bwa", "align_minimap2", "call_variants_bcftools", "call_variants_freebayes", "bam_qc", "vcf_stats"] :
    contains(keys(var.batch.job_definition_names), s)])
    error_message = "batch.job_definition_names must have the step implementations fastp, align_bwa, align_minimap2, call_variants_bcftools, call_variants_freebayes, bam_qc and vcf_stats."
  }
}

variable "omics" {
  type = object({
    workflow_id   = string
    workflow_arn  = string
    run_group_id  = string
    run_group_arn = string
    role_arn      = string
    output_uri    = string
    # the run cache (null id and ARN without it); the flag must be known at plan
    run_cache_enabled = optional(bool, false)
    run_cache_id      = optional(string)
    run_cache_arn     = optional(string)
  })
  description = "HealthOmics workflow, run group, service role, output URI and run cache (omics module)."
}

variable "glue" {
  type = object({
    job_name      = string
    job_arn       = string
    database_name = string
    database_arn  = string
    table_arns    = list(string)
  })
  description = "Converter job and lake catalog (glue_athena module)."
}

variable "athena_workgroup_name" {
  type        = string
  description = "Athena workgroup of the catalog queries."
}

variable "athena_workgroup_arn" {
  type        = string
  description = "ARN of the Athena workgroup."
}

variable "alerts_topic_arn" {
  type        = string
  description = "SNS topic the DAGs' failure notifier publishes to."
}

variable "alerts_kms_key_arn" {
  type        = string
  description = "KMS key of the alerts topic."
}

variable "default_engine" {
  type        = string
  description = "Default analysis engine of the aws profile."
  default     = "batch"

  validation {
    condition     = contains(["batch", "omics"], var.default_engine)
    error_message = "default_engine must be batch or omics."
  }
}

variable "restore_tier" {
  type        = string
  description = "S3 Glacier restore tier backfills use for archived runs (Expedited does not apply to Deep Archive)."
  default     = "Standard"

  validation {
    condition     = contains(["Expedited", "Standard", "Bulk"], var.restore_tier)
    error_message = "restore_tier must be Expedited, Standard or Bulk."
  }
}

variable "registry_deletion_protection" {
  type        = bool
  description = "Protect the run registry table from deletion."
  default     = true
}

variable "trusted_service_principals" {
  type        = list(string)
  description = "Services that assume the execution role: MWAA's by default; add ecs-tasks.amazonaws.com for a self-hosted Airflow on ECS."
  default     = ["airflow.amazonaws.com", "airflow-env.amazonaws.com"]
}

variable "trusted_role_arns" {
  type        = list(string)
  description = "IAM roles that may assume the execution role (e.g. an EKS pod identity or IRSA role of a self-hosted Airflow)."
  default     = []
}

variable "enable_mwaa" {
  type        = bool
  description = "Create an Amazon MWAA environment (with its DAG bucket and KMS key) that runs the DAGs with the execution role."
  default     = false
}

variable "mwaa_airflow_version" {
  type        = string
  description = "Airflow version of the MWAA environment: 3.0.6 is the newest 3.x MWAA offers (MWAA has no 3.3.x); keep mwaa/requirements.txt's constraints URL in step."
  default     = "3.0.6"
}

variable "mwaa_environment_class" {
  type        = string
  description = "MWAA environment class (mw1.micro, mw1.small, mw1.medium, mw1.large, ...)."
  default     = "mw1.small"
}

variable "mwaa_min_workers" {
  type        = number
  description = "Minimum MWAA workers."
  default     = 1
}

variable "mwaa_max_workers" {
  type        = number
  description = "Maximum MWAA workers."
  default     = 5
}

variable "mwaa_log_level" {
  type        = string
  description = "Log level of every MWAA log stream sent to CloudWatch."
  default     = "INFO"

  validation {
    condition     = contains(["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"], var.mwaa_log_level)
    error_message = "mwaa_log_level must be CRITICAL, ERROR, WARNING, INFO or DEBUG."
  }
}

variable "mwaa_maintenance_window" {
  type        = string
  description = "Weekly MWAA maintenance window start (DAY:HH:MM, UTC)."
  default     = "SUN:03:00"
}

variable "mwaa_requirements_file" {
  type        = string
  description = "Local path of the MWAA requirements file (mwaa/requirements.txt)."
  default     = null
}

variable "mwaa_startup_script_file" {
  type        = string
  description = "Local path of the MWAA startup script (mwaa/startup.sh)."
  default     = null
}

variable "vpc_id" {
  type        = string
  description = "VPC of the MWAA environment."
  default     = null
}

variable "vpc_cidr" {
  type        = string
  description = "CIDR of the VPC (MWAA's metadata database endpoint lives in it)."
  default     = null
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets of the MWAA environment (the first two, in different AZs, are used)."
  default     = []
}

variable "access_logs_bucket_name" {
  type        = string
  description = "Bucket that receives the DAG bucket's access logs."
  default     = null
}

variable "log_retention_days" {
  type        = number
  description = "Retention in days of the MWAA log groups (airflow-<environment>-<log type>)."
  default     = 365
}

variable "run_events" {
  description = "The run-flags and launch-files queues (modules/run_events) and whether Airflow listens to them: enabled sets the seqflow.run_events_queue option, which defines the seqflow_run_events DAG; launch_enabled sets seqflow.launch_queue, which defines the seqflow_launch_uploads DAG (it reads the files under launch_prefix of the raw bucket)."
  type = object({
    enabled          = bool
    queue_url        = string
    queue_arn        = string
    kms_key_arn      = string
    launch_enabled   = bool
    launch_queue_url = string
    launch_queue_arn = string
    launch_prefix    = string
  })
}
