variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name, e.g. seqflow-prod."
}

variable "database_name" {
  type        = string
  description = "Glue Data Catalog database of the lake (lower case, digits and underscores)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,254}$", var.database_name))
    error_message = "database_name must be lower case letters, digits and underscores, starting with a letter."
  }
}

variable "manage_catalog_encryption" {
  type        = bool
  description = "Manage the account-and-region-wide Glue Data Catalog encryption settings here (disable where another stack owns them)."
  default     = true
}

variable "lake_bucket_name" {
  type        = string
  description = "Bucket of the Iceberg lake."
}

variable "lake_bucket_arn" {
  type        = string
  description = "ARN of the lake bucket."
}

variable "lake_prefix" {
  type        = string
  description = "Key prefix of the lake in the lake bucket, ending in a slash; the Iceberg tables live under <prefix>iceberg/<table>/, the converter's manifests and results under <prefix>_manifests/."
  default     = "lake/"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/$", var.lake_prefix))
    error_message = "lake_prefix must be a non-empty key prefix ending in a slash, e.g. lake/."
  }
}

variable "input_bucket_arns" {
  type        = list(string)
  description = "Buckets the converter reads VCFs from (results)."
}

variable "artifacts_bucket_name" {
  type        = string
  description = "Bucket that holds the job script and its extra files."
}

variable "artifacts_bucket_arn" {
  type        = string
  description = "ARN of the artifacts bucket."
}

variable "temp_bucket_name" {
  type        = string
  description = "Bucket for Glue's temporary directory (scratch)."
}

variable "temp_bucket_arn" {
  type        = string
  description = "ARN of the temporary-directory bucket."
}

variable "kms_key_arn" {
  type        = string
  description = "Data KMS key (buckets, catalog, job bookmarks, Athena results)."
}

variable "logs_kms_key_arn" {
  type        = string
  description = "KMS key for the job's CloudWatch logs."
}

variable "script_file" {
  type        = string
  description = "Local path of the Glue job script (include/seqflow/glue/vcf_to_parquet_job.py)."
}

variable "wheel_files" {
  type        = list(string)
  description = "Local paths of the job's Python files: the slim package zip built by `python -m seqflow.glue.package` (a .zip: uploaded under a content-hashed key, passed as --extra-py-files) and any wheels (.whl: added to --additional-python-modules). Never the seqflow wheel: it pulls in Airflow, the provider, pysam and duckdb."
  default     = []

  validation {
    condition     = alltrue([for f in var.wheel_files : endswith(f, ".zip") || endswith(f, ".whl")])
    error_message = "wheel_files takes .zip packages and .whl wheels only."
  }

  validation {
    condition     = !anytrue([for f in var.wheel_files : startswith(basename(f), "seqflow-") && endswith(f, ".whl")])
    error_message = "The seqflow wheel must not be installed on Glue (it depends on Airflow, the provider, pysam and duckdb): ship dist/glue/seqflow-glue.zip (python -m seqflow.glue.package)."
  }
}

variable "bcftools_archive_file" {
  type        = string
  description = "Local path of a tarball with bin/bcftools and libhts built for Amazon Linux 2023 x86_64; uploaded and passed as --bcftools_uri. Null passes \"-\" (bcftools on PATH)."
  default     = null
}

variable "job_name_suffix" {
  type        = string
  description = "Job name after the prefix; also the artifact key folder."
  default     = "vcf-to-parquet"
}

variable "glue_version" {
  type        = string
  description = "Glue version of the converter job."
  default     = "5.0"

  validation {
    condition     = contains(["4.0", "5.0"], var.glue_version)
    error_message = "glue_version must be 4.0 or 5.0."
  }
}

variable "worker_type" {
  type        = string
  description = "Glue worker type (G.1X: 4 vCPU, 16 GB)."
  default     = "G.1X"
}

variable "number_of_workers" {
  type        = number
  description = "Glue workers per job run."
  default     = 2
}

variable "timeout_minutes" {
  type        = number
  description = "Timeout of one job run in minutes."
  default     = 120
}

variable "max_concurrent_runs" {
  type        = number
  description = "Concurrent runs of the job: one run converts a whole analysis, so this many analyses convert at once."
  default     = 20
}

variable "conversions_per_run" {
  type        = number
  description = "VCFs one job run converts at once (--parallel; G.1X has 4 vCPUs)."
  default     = 2

  validation {
    condition     = var.conversions_per_run >= 1 && var.conversions_per_run <= 8
    error_message = "conversions_per_run must be 1 to 8."
  }
}

variable "additional_python_modules" {
  type        = list(string)
  description = "Pinned pip requirements for --additional-python-modules: the `requirements` of dist/glue/seqflow-glue.zip.json (seqflow.glue.package); uploaded wheels are appended."
  default     = []
}

variable "extra_job_arguments" {
  type        = map(string)
  description = "Further default arguments of the job (\"--name\" -> value)."
  default     = {}
}

variable "athena_results_bucket_name" {
  type        = string
  description = "Bucket of Athena query results."
}

variable "bytes_scanned_cutoff_per_query" {
  type        = number
  description = "Athena cancels a query of the workgroup once it scans this many bytes (minimum 10 MB)."
  default     = 107374182400

  validation {
    condition     = var.bytes_scanned_cutoff_per_query >= 10485760
    error_message = "bytes_scanned_cutoff_per_query must be at least 10485760 (10 MB)."
  }
}

variable "sql_dir" {
  type        = string
  description = "Directory of the project's SQL files (include/seqflow/sql); each *.sql becomes a named query."
}
