variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name, e.g. seqflow-prod."
}

variable "project" {
  type        = string
  description = "Value of the project cost-allocation tag the budget filters on."
}

variable "monthly_budget_usd" {
  type        = number
  description = "Monthly cost budget in USD."
}

variable "alert_threshold_percent" {
  type        = number
  description = "Percentage of the budget at which actual spend raises an alert."
  default     = 80
}

variable "alert_emails" {
  type        = list(string)
  description = "E-mail addresses that receive budget alerts."
  default     = []
}

variable "alert_topic_arns" {
  type        = list(string)
  description = "SNS topics that receive budget alerts."
  default     = []
}

variable "activate_cost_allocation_tags" {
  type        = bool
  description = "Activate project, run_id, sample_id and pipeline_version as cost-allocation tags and filter the budget on the project tag (only once AWS Billing has seen the tags)."
  default     = false
}
