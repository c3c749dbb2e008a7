# Failure alerts: an SNS topic (KMS) with e-mail subscriptions, and EventBridge
# rules for what fails outside Airflow's sight or needs a human anyway. The
# rules match failures only, and only of this deployment's queues, workflow,
# task and job; an event SNS does not take (throttling, a key problem) ends in
# a dead-letter queue instead of being dropped.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.id
  partition  = data.aws_partition.current.partition

  rules = {
    batch_job_failed = {
      description = "A seqflow Batch job FAILED"
      pattern = {
        source      = ["aws.batch"]
        detail-type = ["Batch Job State Change"]
        detail = {
          status   = ["FAILED"]
          jobQueue = var.batch_job_queue_arns
        }
      }
    }
    # this deployment's workflow only (every version of it: replaced workflows are kept)
    omics_run_failed = {
      description = "A HealthOmics run of the seqflow workflow FAILED"
      pattern = {
        source      = ["aws.omics"]
        detail-type = ["Run Status Change"]
        detail = {
          status       = ["FAILED"]
          workflowName = var.omics_workflow_names
        }
      }
    }
    datasync_execution_error = {
      description = "A DataSync task execution of the landing share ended in ERROR"
      pattern = {
        source      = ["aws.datasync"]
        detail-type = ["DataSync Task Execution State Change"]
        resources   = [{ prefix = "${var.datasync_task_arn}/execution/" }]
        detail = {
          State = ["ERROR"]
        }
      }
    }
    glue_job_failed = {
      description = "The VCF -> Parquet Glue job FAILED (or timed out)"
      pattern = {
        source      = ["aws.glue"]
        detail-type = ["Glue Job State Change"]
        detail = {
          jobName = var.glue_job_names
          state   = ["FAILED", "TIMEOUT", "ERROR"]
        }
      }
    }
  }
}

# A key of its own: its policy lets EventBridge and AWS Budgets publish to the
# encrypted topic, which the data key should not allow.
data "aws_iam_policy_document" "key" {
  # checkov:skip=CKV_AWS_109:A key policy's Resource is always "*" (the key itself); administration stays with the account root.
  # checkov:skip=CKV_AWS_111:A key policy's Resource is always "*" (the key itself).
  # checkov:skip=CKV_AWS_356:A key policy's Resource is always "*" (the key itself).
  statement {
    sid       = "AccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "PublishingServices"
    actions = [
      "kms:Decrypt",
      "kms:GenerateDataKey*",
    ]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "budgets.amazonaws.com", "cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name_prefix}: alerts topic encryption"
  deletion_window_in_days = 30
  enable_key_rotation     = true
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name_prefix}-alerts"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_sns_topic" "this" {
  name              = "${var.name_prefix}-alerts"
  display_name      = "seqflow alerts (${var.name_prefix})"
  kms_master_key_id = aws_kms_key.this.arn
}

data "aws_iam_policy_document" "topic" {
  statement {
    sid       = "AccountOwner"
    actions   = ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:ListSubscriptionsByTopic"]
    resources = [aws_sns_topic.this.arn]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "EventBridgeRules"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${var.name_prefix}-*"]
    }
  }

  statement {
    sid       = "CloudWatchAlarms"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${var.name_prefix}-*"]
    }
  }

  statement {
    sid       = "Budgets"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]
    principals {
      type        = "Service"
      identifiers = ["budgets.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "this" {
  arn    = aws_sns_topic.this.arn
  policy = data.aws_iam_policy_document.topic.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alert_emails)

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = each.key
}

resource "aws_cloudwatch_event_rule" "this" {
  for_each = local.rules

  name          = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  description   = each.value.description
  event_pattern = jsonencode(each.value.pattern)
  state         = "ENABLED"
}

# ---------------------------------------------------------------- dead letters

resource "aws_sqs_queue" "dead_letter" {
  name                              = "${var.name_prefix}-alerts-dead-letter"
  message_retention_seconds         = 1209600 # 14 days, the SQS maximum
  kms_master_key_id                 = aws_kms_key.this.arn
  kms_data_key_reuse_period_seconds = 3600
}

data "aws_iam_policy_document" "dead_letter" {
  statement {
    sid       = "EventBridgeRules"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [for r in aws_cloudwatch_event_rule.this : r.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id
  policy    = data.aws_iam_policy_document.dead_letter.json
}

resource "aws_cloudwatch_event_target" "this" {
  for_each = local.rules

  rule      = aws_cloudwatch_event_rule.this[each.key].name
  target_id = "sns"
  arn       = aws_sns_topic.this.arn

  # retried for a day, then kept 14 days in the dead-letter queue
  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letter.arn
  }

  # a readable summary first, the event's own fields for whoever digs in
  input_transformer {
    input_paths = {
      detail_type = "$.detail-type"
      resources   = "$.resources"
      time        = "$.time"
      detail      = "$.detail"
    }
    input_template = <<-EOT
      {
        "alert": "${var.name_prefix}: ${each.value.description}",
        "detail_type": <detail_type>,
        "time": <time>,
        "resources": <resources>,
        "detail": <detail>
      }
    EOT
  }
}
