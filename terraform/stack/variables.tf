# ---------------------------------------------------------------- identity

variable "project" {
  type        = string
  description = "Project name: resource name prefix, ECR namespace and the project cost-allocation tag."
  default     = "seqflow"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,15}$", var.project))
    error_message = "project must be 2-16 lower-case letters or digits, starting with a letter."
  }
}

variable "environment" {
  type        = string
  description = "Environment name (dev, prod, ...), part of every resource name."

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment must be 2-10 lower-case letters or digits."
  }
}

variable "repo_root" {
  type        = string
  description = "Path of the repository root, from which the workflow, SQL, Glue script and MWAA files are read."
}

variable "pipeline_version" {
  type        = string
  description = "seqflow pipeline version (seqflow.config.PIPELINE_VERSION) the deployed workflow implements."
}

variable "tags" {
  type        = map(string)
  description = "Extra tags of the HealthOmics workflow and run group (every resource gets the provider's default_tags)."
  default     = {}
}

# ---------------------------------------------------------------- network

variable "vpc_cidr" {
  type        = string
  description = "IPv4 CIDR block of the VPC."
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zone names with a private subnet each (at least 2)."
}

variable "enable_nat_gateway" {
  type        = bool
  description = "Create NAT gateways for internet egress (MWAA requirement installs from PyPI; Batch needs none: ECR, ECS, Logs, STS and S3 are reached through VPC endpoints)."
  default     = true
}

variable "single_nat_gateway" {
  type        = bool
  description = "One shared NAT gateway instead of one per AZ."
  default     = false
}

variable "onprem_cidrs" {
  type        = list(string)
  description = "On-prem networks the DataSync agent connects from (over VPN or Direct Connect)."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of every CloudWatch log group in days."
  default     = 365
}

# ---------------------------------------------------------------- storage

variable "raw_prefix" {
  type        = string
  description = "Key prefix of run folders in the raw bucket."
  default     = "runs/"
}

variable "raw_glacier_after_days" {
  type        = number
  description = "Age in days after which raw runs move to S3 Glacier Flexible Retrieval."
  default     = 90
}

variable "raw_deep_archive_after_days" {
  type        = number
  description = "Age in days after which raw runs move to S3 Glacier Deep Archive."
  default     = 365
}

variable "scratch_expiration_days" {
  type        = number
  description = "Days after which scratch objects expire."
  default     = 14
}

variable "noncurrent_version_expiration_days" {
  type        = number
  description = "Days after which noncurrent object versions expire."
  default     = 30
}

# ---------------------------------------------------------------- DataSync

variable "datasync_agent_activation_key" {
  type        = string
  description = "Activation key of the on-prem DataSync agent (from its local console); null to activate by IP."
  default     = null
  sensitive   = true
}

variable "datasync_agent_ip_address" {
  type        = string
  description = "IP of the on-prem DataSync agent, when Terraform can reach it on port 80 to fetch the activation key."
  default     = null
}

variable "share_protocol" {
  type        = string
  description = "Protocol of the instrument share: NFS or SMB."
  default     = "NFS"
}

variable "share_server_hostname" {
  type        = string
  description = "File server of the instrument share, as the agent resolves it."
}

variable "share_subdirectory" {
  type        = string
  description = "Export (NFS) or share path (SMB) that holds the run folders."
}

variable "datasync_bytes_per_second" {
  type        = number
  description = "Bandwidth cap of DataSync in bytes per second; -1 for none."
  default     = -1
}

# ---------------------------------------------------------------- compute

variable "image_tags" {
  type        = map(string)
  description = "Image tag (<tool version>-<image revision>, containers/_common/build.sh) by tool."
  default = {
    fastp     = "0.23.2-1"
    bwa       = "0.7.17-1"
    minimap2  = "2.24-1"
    samtools  = "1.16.1-1"
    bcftools  = "1.16-1"
    freebayes = "1.3.6-1"
  }
}

variable "batch_instance_types" {
  type        = list(string)
  description = "Instance types or families of the Batch compute environments; null: the batch module's default for batch_scratch_storage."
  default     = null
}

variable "batch_scratch_storage" {
  type        = string
  description = "Where Batch job scratch lives: ebs (a gp3 volume of batch_scratch_volume_size_gib per instance) or instance_store (the local NVMe disks of the d families)."
  default     = "ebs"
}

variable "batch_spot_max_vcpus" {
  type        = number
  description = "Maximum vCPUs of the Spot compute environment."
  default     = 512
}

variable "batch_on_demand_max_vcpus" {
  type        = number
  description = "Maximum vCPUs of the On-Demand compute environment."
  default     = 128
}

variable "batch_scratch_volume_size_gib" {
  type        = number
  description = "Encrypted gp3 scratch volume size of each Batch instance in GiB (shared by the jobs the instance runs at once; each job's scratch is removed when it ends)."
  default     = 500
}

variable "batch_job_definitions" {
  type = map(object({
    vcpus           = optional(number)
    memory_mib      = optional(number)
    timeout_seconds = optional(number)
    attempts        = optional(number)
  }))
  description = "Per step implementation id (fastp, align_bwa, align_minimap2, call_variants_bcftools, call_variants_freebayes, bam_qc, vcf_stats), resources that replace the step catalogue's (containers/*/steps.yaml)."
  default     = {}
}

variable "omics_workflow_bundle_file" {
  type        = string
  description = "HealthOmics workflow bundle relative to the repository root, built by terraform/scripts/build_workflow_bundle.py (a plan fails while it is missing or stale)."
  default     = "dist/omics/germline.zip"
}

variable "omics_max_cpus" {
  type        = number
  description = "Maximum vCPUs of all HealthOmics runs at once."
  default     = 1024
}

variable "omics_max_duration_minutes" {
  type        = number
  description = "Maximum duration of one HealthOmics run in minutes: the longest chain of the step catalogue's timeouts plus task starts (seqflow.aws.omics.inputs.run_group_limits; 38 h with the timeouts bench/genome_cost.py derived for a 30x genome)."
  default     = 2280
}

variable "omics_run_cache" {
  type        = bool
  description = "Create a HealthOmics run cache and write its id to the SSM parameter seqflow_omics_run_cache_id (runs then cache task outputs on failure); false: runs without a cache."
  default     = true
}

variable "omics_max_runs" {
  type        = number
  description = "Maximum concurrent HealthOmics runs."
  default     = 50
}

# ---------------------------------------------------------------- lake

variable "glue_version" {
  type        = string
  description = "Glue version of the converter job."
  default     = "5.0"
}

variable "glue_additional_python_modules" {
  type        = list(string)
  description = "Pinned pip requirements of the converter job (include/seqflow/glue/README.md)."
  default     = []
}

variable "glue_wheel_files" {
  type        = list(string)
  description = "Wheels for the converter job, relative to the repository root (the seqflow wheel from `pip wheel --no-deps -w dist .`)."
  default     = []
}

variable "glue_bcftools_archive_file" {
  type        = string
  description = "Tarball with bin/bcftools and libhts for Amazon Linux 2023 x86_64, relative to the repository root; the converter job needs it."
  default     = null
}

variable "manage_glue_catalog_encryption" {
  type        = bool
  description = "Manage the account-wide Glue Data Catalog encryption settings in this environment."
  default     = true
}

variable "athena_bytes_scanned_cutoff" {
  type        = number
  description = "Athena per-query bytes-scanned cutoff of the workgroup."
  default     = 107374182400
}

# ---------------------------------------------------------------- Airflow

variable "default_engine" {
  type        = string
  description = "Default analysis engine of the aws profile: batch or omics."
  default     = "batch"
}

variable "restore_tier" {
  type        = string
  description = "S3 Glacier restore tier of backfills: Expedited, Standard or Bulk."
  default     = "Standard"
}

variable "registry_deletion_protection" {
  type        = bool
  description = "Protect the run registry table from deletion."
  default     = true
}

variable "airflow_trusted_service_principals" {
  type        = list(string)
  description = "Services that assume the Airflow execution role."
  default     = ["airflow.amazonaws.com", "airflow-env.amazonaws.com"]
}

variable "airflow_trusted_role_arns" {
  type        = list(string)
  description = "Roles that assume the Airflow execution role (self-hosted Airflow)."
  default     = []
}

variable "enable_mwaa" {
  type        = bool
  description = "Create an MWAA environment."
  default     = false
}

variable "mwaa_airflow_version" {
  type        = string
  description = "Airflow version of MWAA (3.0.6, the newest 3.x MWAA offers)."
  default     = "3.0.6"
}

variable "mwaa_environment_class" {
  type        = string
  description = "MWAA environment class."
  default     = "mw1.small"
}

variable "mwaa_max_workers" {
  type        = number
  description = "Maximum MWAA workers."
  default     = 5
}

# ---------------------------------------------------------------- alerts and cost

variable "alert_emails" {
  type        = list(string)
  description = "E-mail addresses for failure and budget alerts."
  default     = []
}

variable "batch_failed_jobs_alarm_threshold" {
  type        = number
  description = "Failed Batch jobs in an hour above which the failed-jobs alarm fires."
  default     = 10
}

variable "monthly_budget_usd" {
  type        = number
  description = "Monthly cost budget in USD."
}

variable "activate_cost_allocation_tags" {
  type        = bool
  description = "Activate the project, run_id, sample_id and pipeline_version cost-allocation tags (once Billing has seen them)."
  default     = false
}

variable "completion_flags" {
  description = "The files an instrument writes last into a run folder (seqflow.config.DEFAULT_COMPLETION_FLAGS; a test keeps them equal): their arrival in the raw bucket is a run event."
  type        = list(string)
  default     = ["CopyComplete.txt", "RTAComplete.txt"]
}

variable "qa_flag" {
  description = "File name of the technician's QA-pass flag, if the ingest is triggered with one (its arrival is a run event too); null: none."
  type        = string
  default     = null
}

variable "run_events_enabled" {
  description = "Event-driven start: Airflow listens to the run-flags queue (the seqflow_run_events DAG starts a run's ingest within minutes of its flag reaching raw storage). Off: the ingest's schedule alone finds runs."
  type        = bool
  default     = false
}

variable "launch_uploads_enabled" {
  description = "Launch by upload: Airflow listens to the launch-files queue (the seqflow_launch_uploads DAG starts the runs of a launch file put under launch_prefix in the raw bucket). Off: launch with seqflow launch or the REST API only."
  type        = bool
  default     = false
}

variable "launch_prefix" {
  description = "Key prefix of launch files in the raw bucket (seqflow.aws.launch_uploads.DEFAULT_LAUNCH_PREFIX; a test keeps them equal)."
  type        = string
  default     = "launch/"
}
