# Cost control: a monthly budget with alerts, and activation of the
# cost-allocation tags that Batch jobs and HealthOmics runs carry.

locals {
  # project comes from the provider's default_tags; run_id, sample_id and
  # pipeline_version from Airflow on every SubmitJob / StartRun
  cost_allocation_tags = ["project", "run_id", "sample_id", "pipeline_version"]
}

# Activation fails for a tag key AWS Billing has not seen yet (up to 24 h
# after the first tagged resource): enable after the first runs.
resource "aws_ce_cost_allocation_tag" "this" {
  for_each = var.activate_cost_allocation_tags ? toset(local.cost_allocation_tags) : toset([])

  tag_key = each.key
  status  = "Active"
}

resource "aws_budgets_budget" "this" {
  name         = "${var.name_prefix}-monthly"
  budget_type  = "COST"
  limit_amount = tostring(var.monthly_budget_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  # only this project's spend, once the project tag is a cost-allocation tag
  dynamic "cost_filter" {
    for_each = var.activate_cost_allocation_tags ? [1] : []
    content {
      name = "TagKeyValue"
      # the API's spelling is user:<tag key>$<tag value>, e.g. user:project$seqflow
      values = [format("user:project$%s", var.project)]
    }
  }

  notification {
    comparison_operator        = "GREATER_THAN"
    notification_type          = "ACTUAL"
    threshold                  = var.alert_threshold_percent
    threshold_type             = "PERCENTAGE"
    subscriber_email_addresses = var.alert_emails
    subscriber_sns_topic_arns  = var.alert_topic_arns
  }

  notification {
    comparison_operator        = "GREATER_THAN"
    notification_type          = "FORECASTED"
    threshold                  = 100
    threshold_type             = "PERCENTAGE"
    subscriber_email_addresses = var.alert_emails
    subscriber_sns_topic_arns  = var.alert_topic_arns
  }
}
