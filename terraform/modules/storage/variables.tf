variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name, e.g. seqflow-prod (lower case, digits and hyphens)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name_prefix))
    error_message = "name_prefix must be 3-31 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "raw_prefix" {
  type        = string
  description = "Key prefix of run folders in the raw bucket (DataSync writes under it; the archive rule applies to it)."
  default     = "runs/"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+/$", var.raw_prefix))
    error_message = "raw_prefix must be one path segment ending in a slash, e.g. runs/."
  }
}

variable "raw_glacier_after_days" {
  type        = number
  description = "Age in days after which raw run objects move to S3 Glacier Flexible Retrieval."
  default     = 90

  validation {
    condition     = var.raw_glacier_after_days >= 1
    error_message = "raw_glacier_after_days must be at least 1."
  }
}

variable "raw_deep_archive_after_days" {
  type        = number
  description = "Age in days after which raw run objects move to S3 Glacier Deep Archive (at least 90 days after the Glacier transition)."
  default     = 365

  # Glacier Flexible Retrieval bills 90 days minimum; S3 rejects shorter gaps
  validation {
    condition     = var.raw_deep_archive_after_days >= var.raw_glacier_after_days + 90
    error_message = "raw_deep_archive_after_days must be at least raw_glacier_after_days + 90."
  }
}

variable "scratch_expiration_days" {
  type        = number
  description = "Days after which objects in the scratch bucket expire."
  default     = 14
}

variable "athena_results_expiration_days" {
  type        = number
  description = "Days after which Athena query results expire."
  default     = 30
}

variable "noncurrent_version_expiration_days" {
  type        = number
  description = "Days after which noncurrent object versions expire, in every bucket."
  default     = 30
}

variable "access_log_retention_days" {
  type        = number
  description = "Days S3 server access logs are kept."
  default     = 365
}

variable "kms_deletion_window_days" {
  type        = number
  description = "Waiting period in days before a deleted KMS key is destroyed."
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}
