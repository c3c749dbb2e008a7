variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name, e.g. seqflow-prod."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the compute environments."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (in at least two AZs) the container instances launch in."

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must span at least two subnets (AZs)."
  }
}

variable "instance_types" {
  type        = list(string)
  description = "Instance types or families the compute environments may launch; several families widen the Spot pools. null: m6i, m7i, r6i, r7i, c6i, c7i, or with instance-store scratch m6id, c6id, r6id, m5d, c5d, r5d."
  default     = null
}

variable "scratch_storage" {
  type        = string
  description = "Where job scratch (Docker's storage, so every container's /scratch) lives: \"ebs\" (a gp3 volume of scratch_volume_size_gib per instance) or \"instance_store\" (the local NVMe disks of the d families, sized with the instance)."
  default     = "ebs"

  validation {
    condition     = contains(["ebs", "instance_store"], var.scratch_storage)
    error_message = "scratch_storage must be ebs or instance_store."
  }
}

variable "root_volume_size_gib" {
  type        = number
  description = "Size in GiB of each instance's encrypted gp3 root volume (OS, ECS agent, logs; job scratch is on its own volume)."
  default     = 30
}

variable "ecs_task_cleanup_wait" {
  type        = string
  description = "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION: how long a stopped job container (and the scratch in its layer) stays on the instance (ECS default 3h)."
  default     = "5m"
}

variable "ecs_image_cleanup_interval" {
  type        = string
  description = "ECS_IMAGE_CLEANUP_INTERVAL: how often the ECS agent removes unused images."
  default     = "30m"
}

variable "create_service_linked_role" {
  type        = bool
  description = "Create the AWSServiceRoleForBatch service-linked role (once per account; leave false where it exists or Batch may create it on first use)."
  default     = false
}

variable "spot_max_vcpus" {
  type        = number
  description = "Maximum vCPUs of the Spot compute environment."
  default     = 512
}

variable "on_demand_max_vcpus" {
  type        = number
  description = "Maximum vCPUs of the On-Demand compute environment (fallback and priority queue)."
  default     = 128
}

variable "scratch_volume_size_gib" {
  type        = number
  description = "Size in GiB of each instance's encrypted gp3 scratch volume (Docker's storage: every job container's /scratch with staged inputs, sort temporaries, outputs); with scratch_storage = \"ebs\"."
  default     = 500

  validation {
    condition     = var.scratch_volume_size_gib >= 30 && var.scratch_volume_size_gib <= 16384
    error_message = "scratch_volume_size_gib must be between 30 and 16384."
  }
}

variable "scratch_volume_iops" {
  type        = number
  description = "Provisioned IOPS of the gp3 scratch volume (3000 is the gp3 baseline)."
  default     = 3000
}

variable "scratch_volume_throughput" {
  type        = number
  description = "Provisioned throughput of the gp3 scratch volume in MiB/s (125 is the gp3 baseline)."
  default     = 250
}

variable "ebs_kms_key_arn" {
  type        = string
  description = "Customer managed KMS key for the scratch volumes; null uses the account's aws/ebs key. A customer key must grant the EC2 Auto Scaling / Spot service-linked roles use of the key."
  default     = null
}

variable "enable_ssm_session_manager" {
  type        = bool
  description = "Let operators open SSM sessions on container instances for debugging."
  default     = false
}

variable "images" {
  type        = map(string)
  description = "Full image reference (repository URL:tag) by tool: fastp, bwa, minimap2, samtools, bcftools."
}

variable "read_bucket_arns" {
  type        = list(string)
  description = "Buckets jobs read inputs from (raw runs, references)."
}

variable "write_bucket_arns" {
  type        = list(string)
  description = "Buckets jobs write outputs to (results, scratch); also readable, since steps read earlier steps' outputs."
}

variable "kms_key_arn" {
  type        = string
  description = "Data KMS key of the buckets (used through S3 only)."
}

variable "logs_kms_key_arn" {
  type        = string
  description = "KMS key ARN for the job log group."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the job log group in days."
  default     = 365
}

variable "containers_dir" {
  type        = string
  description = "Folder of the tool images with the step catalogue (<tool>/steps.yaml); null: the repository's containers/ beside terraform/."
  default     = null
}

variable "job_definitions" {
  type = map(object({
    vcpus           = optional(number)
    memory_mib      = optional(number)
    timeout_seconds = optional(number)
    attempts        = optional(number)
  }))
  nullable    = false
  description = <<-EOT
    Per job definition id, resources that replace the step catalogue's. The job
    definitions themselves (one per per-sample step implementation: fastp,
    align_bwa, align_minimap2, call_variants_bcftools, bam_qc, vcf_stats), their
    images and commands come from containers/<tool>/steps.yaml. attempts counts
    Spot-reclaim retries (default 3; the retry strategy exits on any other failure).
  EOT
  default     = {}

  validation {
    condition = alltrue([
      for k, d in var.job_definitions :
      coalesce(d.vcpus, 1) >= 1 && coalesce(d.memory_mib, 512) >= 512 && coalesce(d.timeout_seconds, 60) >= 60 &&
      coalesce(d.attempts, 3) >= 1 && coalesce(d.attempts, 3) <= 10
    ])
    error_message = "Each job definition needs vcpus >= 1, memory_mib >= 512, timeout_seconds >= 60 and 1 <= attempts <= 10."
  }
}

variable "write_object_arns" {
  type        = list(string)
  description = "Object ARN patterns (arn:aws:s3:::bucket/prefix/*) jobs may also write, beyond write_bucket_arns: the reference index jobs write s3://<raw>/references/*."
  default     = []
}

variable "insufficient_capacity_timeout_seconds" {
  type        = number
  description = "How long a job may stay RUNNABLE because no compute environment of its queue gets EC2 capacity before Batch cancels it (it would otherwise block the queue)."
  default     = 14400

  validation {
    condition     = var.insufficient_capacity_timeout_seconds >= 600 && var.insufficient_capacity_timeout_seconds <= 86400
    error_message = "insufficient_capacity_timeout_seconds must be between 600 and 86400."
  }
}
