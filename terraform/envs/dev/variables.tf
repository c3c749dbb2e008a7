variable "region" {
  type        = string
  description = "AWS region of the environment."
}

variable "account_id" {
  type        = string
  description = "AWS account of the environment; the provider refuses any other."

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account id."
  }
}

variable "project" {
  type        = string
  description = "Project name (resource prefix, ECR namespace, project tag)."
  default     = "seqflow"
}

variable "environment" {
  type        = string
  description = "Environment name."
}

variable "pipeline_version" {
  type        = string
  description = "seqflow pipeline version deployed (seqflow.config.PIPELINE_VERSION)."
}

variable "vpc_cidr" {
  type        = string
  description = "IPv4 CIDR of the VPC."
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones of the private subnets (at least 2)."
}

variable "single_nat_gateway" {
  type        = bool
  description = "Share one NAT gateway across AZs."
}

variable "onprem_cidrs" {
  type        = list(string)
  description = "On-prem networks the DataSync agent connects from."
}

variable "datasync_agent_activation_key" {
  type        = string
  description = "DataSync agent activation key; pass as TF_VAR_datasync_agent_activation_key, never in tfvars."
  default     = null
  sensitive   = true
}

variable "datasync_agent_ip_address" {
  type        = string
  description = "IP of the DataSync agent VM (activation by IP when no key is given)."
  default     = null
}

variable "share_server_hostname" {
  type        = string
  description = "NFS server of the instrument share."
}

variable "share_subdirectory" {
  type        = string
  description = "NFS export holding the run folders."
}

variable "image_tags" {
  type        = map(string)
  description = "Tool image tag by tool (containers/_common/build.sh)."
}

variable "batch_spot_max_vcpus" {
  type        = number
  description = "Maximum vCPUs of the Spot compute environment."
}

variable "batch_on_demand_max_vcpus" {
  type        = number
  description = "Maximum vCPUs of the On-Demand compute environment."
}

variable "batch_scratch_volume_size_gib" {
  type        = number
  description = "Scratch volume size of each Batch instance in GiB."
}

variable "omics_max_cpus" {
  type        = number
  description = "Maximum vCPUs of all HealthOmics runs at once."
}

variable "omics_max_runs" {
  type        = number
  description = "Maximum concurrent HealthOmics runs."
}

variable "glue_additional_python_modules" {
  type        = list(string)
  description = "Pinned pip requirements of the Glue converter job."
  default     = []
}

variable "glue_wheel_files" {
  type        = list(string)
  description = "Wheels of the Glue converter job, relative to the repository root."
  default     = []
}

variable "glue_bcftools_archive_file" {
  type        = string
  description = "bcftools + libhts tarball for the Glue workers, relative to the repository root."
  default     = null
}

variable "default_engine" {
  type        = string
  description = "Default analysis engine: batch or omics."
}

variable "restore_tier" {
  type        = string
  description = "Glacier restore tier of backfills."
}

variable "registry_deletion_protection" {
  type        = bool
  description = "Protect the run registry table from deletion."
}

variable "enable_mwaa" {
  type        = bool
  description = "Create the MWAA environment."
}

variable "mwaa_environment_class" {
  type        = string
  description = "MWAA environment class."
  default     = "mw1.small"
}

variable "alert_emails" {
  type        = list(string)
  description = "Addresses of failure and budget alerts."
}

variable "monthly_budget_usd" {
  type        = number
  description = "Monthly budget in USD."
}

variable "activate_cost_allocation_tags" {
  type        = bool
  description = "Activate the cost-allocation tags (after Billing has seen them)."
  default     = false
}

variable "run_events_enabled" {
  description = "Event-driven start: Airflow listens to the raw bucket's flag events (docs/aws.md, Event-driven start)."
  type        = bool
  default     = false
}

variable "launch_uploads_enabled" {
  description = "Launch by upload: Airflow starts the runs of a launch file put under launch/ in the raw bucket (docs/aws.md, Launch by upload)."
  type        = bool
  default     = false
}
