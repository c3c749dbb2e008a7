variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name, e.g. seqflow-prod."
}

variable "workflow_name" {
  type        = string
  description = "Short name of the workflow (part of resource names and the artifact key)."
  default     = "germline"
}

variable "workflow_dir" {
  type        = string
  description = "Directory with the WDL definition (include/seqflow/workflows/germline), main file at its root; the bundle must have been built from it."
}

variable "workflow_bundle_file" {
  type        = string
  description = "Zip of workflow_dir built by terraform/scripts/build_workflow_bundle.py (beside it, <file>.json lists the MD5 of every file it holds)."
}

variable "main_file" {
  type        = string
  description = "Path of the main WDL file inside the zip."
  default     = "main.wdl"
}

variable "parameter_template_file" {
  type        = string
  description = "JSON parameter template of the workflow (name -> {description, optional}); excluded from the zip."
}

variable "pipeline_version" {
  type        = string
  description = "seqflow pipeline version the workflow implements (tag and description)."
}

variable "storage_type" {
  type        = string
  description = "Run storage of the workflow: DYNAMIC (grows with the run, billed as used) or STATIC (fixed size, storage_capacity_gib)."
  default     = "DYNAMIC"

  validation {
    condition     = contains(["DYNAMIC", "STATIC"], var.storage_type)
    error_message = "storage_type must be DYNAMIC or STATIC."
  }
}

variable "storage_capacity_gib" {
  type        = number
  description = "Static run storage in GiB (FASTQs, BAM, temporaries of one sample); used only with storage_type STATIC."
  default     = 1200
}

variable "run_group_max_cpus" {
  type        = number
  description = "Maximum vCPUs all runs of the run group use at once."
  default     = 1024
}

variable "run_group_max_duration_minutes" {
  type        = number
  description = "Maximum duration of one run in minutes (seqflow.aws.omics.inputs.run_group_limits)."
  default     = 2280
}

variable "run_group_max_runs" {
  type        = number
  description = "Maximum number of concurrent runs in the run group."
  default     = 50
}

variable "run_cache" {
  type        = bool
  description = "Create a HealthOmics run cache (call caching) in the output bucket; the DAGs use it through the SSM parameter seqflow_omics_run_cache_id."
  default     = true
}

variable "run_cache_prefix" {
  type        = string
  description = "Key prefix of the run cache in the output bucket, ending in a slash."
  default     = "omics-cache/"
}

variable "run_cache_behavior" {
  type        = string
  description = "Default behaviour of the run cache: the one the DAGs start runs with (seqflow.aws.analysis.OMICS_CACHE_BEHAVIOR)."
  default     = "CACHE_ON_FAILURE"

  validation {
    condition     = contains(["CACHE_ON_FAILURE", "CACHE_ALWAYS"], var.run_cache_behavior)
    error_message = "run_cache_behavior must be CACHE_ON_FAILURE or CACHE_ALWAYS."
  }
}

variable "artifacts_bucket_name" {
  type        = string
  description = "Bucket that holds the zipped workflow definition."
}

variable "kms_key_arn" {
  type        = string
  description = "Data KMS key of the buckets."
}

variable "input_bucket_arns" {
  type        = list(string)
  description = "Buckets runs read inputs from (raw runs, references, results of earlier steps)."
}

variable "output_bucket_arn" {
  type        = string
  description = "Bucket runs write outputs to."
}

variable "output_bucket_name" {
  type        = string
  description = "Name of the output bucket (the run cache's S3 location is in it)."
}

variable "output_prefix" {
  type        = string
  description = "Key prefix under which runs write outputs, ending in a slash."
  default     = "omics/"
}

variable "ecr_repository_arns" {
  type        = list(string)
  description = "ECR repositories of the task images."
}

variable "logs_kms_key_arn" {
  type        = string
  description = "KMS key ARN for the HealthOmics log group."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the HealthOmics log group in days."
  default     = 365
}

variable "tags" {
  type        = map(string)
  description = "Extra tags of the workflow and run group (the provider's default_tags reach them through the CloudFormation stack's tags)."
  default     = {}
}
