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

variable "launch_prefix" {
  description = "Key prefix of launch files in the raw bucket (ends in /; seqflow.aws.launch_uploads.DEFAULT_LAUNCH_PREFIX): an upload under it is a launch request."
  type        = string
  default     = "launch/"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+/$", var.launch_prefix)) && var.launch_prefix != var.raw_prefix && var.launch_prefix != "references/"
    error_message = "launch_prefix: one path segment ending in a slash (e.g. launch/), neither the run folders' raw_prefix nor references/."
  }
}

variable "kms_key_arn" {
  description = "KMS key of the queues (its key policy must let EventBridge use it, as the alerts key does)."
  type        = string
}
