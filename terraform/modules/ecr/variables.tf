variable "repository_prefix" {
  type        = string
  description = "Namespace of the repositories: images are <registry>/<repository_prefix>/<tool>."
  default     = "seqflow"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._/-]*[a-z0-9]$", var.repository_prefix))
    error_message = "repository_prefix must be a valid ECR namespace (lower case)."
  }
}

variable "tools" {
  type        = list(string)
  description = "Tool images, one repository each; the names of the folders under containers/ that have a Dockerfile."
  default     = ["fastp", "bwa", "minimap2", "samtools", "bcftools", "freebayes"]
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key ARN the repositories are encrypted with."
}

variable "untagged_image_expiry_days" {
  type        = number
  description = "Days after which untagged images expire."
  default     = 7
}

variable "tagged_images_to_keep" {
  type        = number
  description = "Number of tagged images kept per repository; older ones expire. Keep it above the number of tool versions any job definition or rerun may still reference."
  default     = 50
}

variable "allow_healthomics_pull" {
  type        = bool
  description = "Attach the repository policy that lets HealthOmics pull the images."
  default     = true
}
