variable "name_prefix" {
  description = "Prefix of every resource name (project-environment)."
  type        = string
}

variable "raw_bucket_name" {
  description = "The raw bucket, whose flag files' Object Created events are sent to the queue."
  type        = string
}

variable "raw_prefix" {
  description = "Key prefix of the run folders in the raw bucket (ends in /)."
  type        = string
}

variable "flag_names" {
  description = "File names whose arrival directly inside a run folder announces the run: the completion flags (seqflow.config.DEFAULT_COMPLETION_FLAGS) and the QA flag if one is used."
  type        = list(string)

  validation {
    condition     = length(var.flag_names) > 0 && alltrue([for f in var.flag_names : can(regex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", f))])
    error_message = "flag_names: one or more plain file names (letters, digits, '.', '_', '-')."
  }
}

variable "kms_key_arn" {
  description = "KMS key of the queues (its key policy must let EventBridge use it, as the alerts key does)."
  type        = string
}
