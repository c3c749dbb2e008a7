variable "containers_dir" {
  type        = string
  description = "Folder holding containers/<tool>/steps.yaml, the step catalogue."
}

variable "overrides" {
  type = map(object({
    vcpus           = optional(number)
    memory_mib      = optional(number)
    timeout_seconds = optional(number)
    attempts        = optional(number)
  }))
  description = "Per job definition id (fastp, align_bwa, ...), resources that replace the catalogue's."
  default     = {}
  nullable    = false
}

variable "default_attempts" {
  type        = number
  description = "Attempts of every job definition (Spot reclaims are retried) unless overridden."
  default     = 3
}
