variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name, e.g. seqflow-prod."
}

variable "agent_activation_key" {
  type        = string
  description = "Activation key read from the agent's local console; preferred when Terraform cannot reach the agent on port 80. Null to activate by IP."
  default     = null
  sensitive   = true
}

variable "agent_ip_address" {
  type        = string
  description = "IP address of the on-prem agent VM; Terraform fetches the activation key from it over HTTP port 80. Used only without agent_activation_key."
  default     = null
}

variable "vpc_endpoint_id" {
  type        = string
  description = "DataSync interface endpoint the agent uses (private activation and transfer); null for the public service endpoint."
  default     = null
}

variable "vpc_endpoint_private_ip" {
  type        = string
  description = "Private IP of the DataSync endpoint's network interface (the agent's private link endpoint)."
  default     = null
}

variable "subnet_arns" {
  type        = list(string)
  description = "Subnet ARNs of the DataSync endpoint; used with vpc_endpoint_id."
  default     = []
}

variable "security_group_arns" {
  type        = list(string)
  description = "Security group ARNs of the DataSync endpoint; used with vpc_endpoint_id."
  default     = []
}

variable "share_protocol" {
  type        = string
  description = "Protocol of the instrument share: NFS or SMB."
  default     = "NFS"

  validation {
    condition     = contains(["NFS", "SMB"], var.share_protocol)
    error_message = "share_protocol must be NFS or SMB."
  }
}

variable "share_server_hostname" {
  type        = string
  description = "Host name or IP of the on-prem file server, as the agent resolves it."
}

variable "share_subdirectory" {
  type        = string
  description = "Exported path (NFS) or share path (SMB) that holds the run folders, e.g. /export/sequencers."
}

variable "nfs_version" {
  type        = string
  description = "NFS version the agent mounts with: AUTOMATIC, NFS3, NFS4_0 or NFS4_1."
  default     = "AUTOMATIC"

  validation {
    condition     = contains(["AUTOMATIC", "NFS3", "NFS4_0", "NFS4_1"], var.nfs_version)
    error_message = "nfs_version must be AUTOMATIC, NFS3, NFS4_0 or NFS4_1."
  }
}

variable "smb_user" {
  type        = string
  description = "SMB user with read access to the share (SMB only)."
  default     = null
}

variable "smb_password" {
  type        = string
  description = "Password of smb_user (SMB only); supply it from a secret store, never a tfvars file."
  default     = null
  sensitive   = true
}

variable "smb_domain" {
  type        = string
  description = "Windows domain of smb_user (SMB only)."
  default     = null
}

variable "raw_bucket_arn" {
  type        = string
  description = "ARN of the raw bucket (destination)."
}

variable "raw_prefix" {
  type        = string
  description = "Key prefix of run folders in the raw bucket, ending in a slash."
}

variable "kms_key_arn" {
  type        = string
  description = "Data KMS key of the raw bucket."
}

variable "report_bucket_arn" {
  type        = string
  description = "Bucket that receives DataSync task reports."
}

variable "report_prefix" {
  type        = string
  description = "Key prefix of task reports in report_bucket_arn, ending in a slash."
  default     = "datasync-reports/"
}

variable "logs_kms_key_arn" {
  type        = string
  description = "KMS key ARN for the task's log group."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the task's log group in days."
  default     = 365
}

variable "bytes_per_second" {
  type        = number
  description = "Bandwidth cap of the task in bytes per second; -1 for no cap."
  default     = -1
}

variable "exclude_patterns" {
  type        = list(string)
  description = "Simple patterns never transferred, e.g. instrument thumbnails; include filters come per execution from Airflow."
  default     = ["*/Thumbnail_Images", "*/Images", "*.tmp"]
}
