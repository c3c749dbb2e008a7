variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name, e.g. seqflow-prod."
}

variable "alert_emails" {
  type        = list(string)
  description = "E-mail addresses subscribed to the alerts topic (each must confirm)."
  default     = []
}

variable "batch_job_queue_arns" {
  type        = list(string)
  description = "Batch job queues whose FAILED jobs raise an alert."
}

variable "datasync_task_arn" {
  type        = string
  description = "DataSync task whose executions in ERROR raise an alert."
}

variable "glue_job_names" {
  type        = list(string)
  description = "Glue jobs whose FAILED or TIMEOUT runs raise an alert."
}

variable "omics_workflow_names" {
  type        = list(string)
  description = "HealthOmics workflows whose FAILED runs raise an alert (runs of other workflows in the account do not)."
}
