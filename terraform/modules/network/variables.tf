variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name, e.g. seqflow-prod."
}

variable "vpc_cidr" {
  type        = string
  description = "IPv4 CIDR block of the VPC."
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be a valid IPv4 CIDR block."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zone names with a private subnet each (at least 2), e.g. [\"eu-west-1a\", \"eu-west-1b\"]."

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 6 && length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "availability_zones must list 2 to 6 distinct zone names."
  }
}

variable "private_subnet_newbits" {
  type        = number
  description = "Bits added to the VPC prefix for each private subnet (4 on a /16 gives /20 subnets, room for large Batch fleets)."
  default     = 4
}

variable "public_subnet_newbits" {
  type        = number
  description = "Bits added to the VPC prefix for each NAT-only public subnet (taken from the top of the VPC range)."
  default     = 12
}

variable "enable_nat_gateway" {
  type        = bool
  description = "Create NAT gateways for egress to the internet (MWAA requirements installs from PyPI). Without it only the VPC endpoints are reachable, which is all Batch needs."
  default     = true
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway shared by all AZs (cheaper, for dev) instead of one per AZ."
  default     = false
}

variable "interface_endpoints" {
  type        = list(string)
  description = "Interface endpoint services (suffix after com.amazonaws.<region>.). The defaults let Batch instances run without a NAT: ECR (api, dkr) for images, ecs, ecs-agent and ecs-telemetry for the ECS agent, logs for awslogs, sts for the job role. \"datasync\" gets its own endpoint for the on-prem agent."
  default     = ["ecr.api", "ecr.dkr", "ecs", "ecs-agent", "ecs-telemetry", "logs", "sts", "datasync"]
}

variable "onprem_cidrs" {
  type        = list(string)
  description = "On-prem networks (reached over VPN or Direct Connect) from which the DataSync agent connects to the DataSync endpoint."
  default     = []

  validation {
    condition     = alltrue([for c in var.onprem_cidrs : can(cidrhost(c, 0))])
    error_message = "onprem_cidrs must be IPv4 CIDR blocks."
  }
}

variable "logs_kms_key_arn" {
  type        = string
  description = "KMS key ARN for the flow-log log group."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the flow-log log group in days."
  default     = 365
}
