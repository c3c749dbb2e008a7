# Run events: the raw bucket's S3 "Object Created" events for the runs' flag
# files, through EventBridge, to an SQS queue that the seqflow_run_events DAG's
# AssetWatcher reads (include/seqflow/aws/events.py). Airflow listens only when
# the deployment turns it on (var.run_events_enabled in the stack sets the
# seqflow.run_events_queue Airflow option); the queue and the rule cost nothing
# while idle, and the execution role's permissions are the same either way.

locals {
  # one wildcard per flag: <raw prefix><run folder>/<flag>
  flag_keys = [for flag in var.flag_names : { wildcard = "${var.raw_prefix}*/${flag}" }]
}

resource "aws_s3_bucket_notification" "raw" {
  bucket      = var.raw_bucket_name
  eventbridge = true
}

resource "aws_sqs_queue" "dead_letter" {
  name                              = "${var.name_prefix}-run-flags-dead-letter"
  message_retention_seconds         = 1209600 # 14 days, the SQS maximum
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 3600
}

resource "aws_sqs_queue" "this" {
  name = "${var.name_prefix}-run-flags"
  # a run whose event waits longer is found by the ingest's scheduled scan anyway
  message_retention_seconds         = 172800 # 2 days
  visibility_timeout_seconds        = 60
  receive_wait_time_seconds         = 20 # long polling, as the watcher asks
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 3600
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = 5
  })
}

resource "aws_cloudwatch_event_rule" "run_flags" {
  name        = "${var.name_prefix}-run-flags"
  description = "A run's flag file written to the raw bucket (seqflow_run_events starts its ingest)"
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created"]
    detail = {
      bucket = { name = [var.raw_bucket_name] }
      object = { key = local.flag_keys }
    }
  })
}

resource "aws_cloudwatch_event_target" "run_flags" {
  rule      = aws_cloudwatch_event_rule.run_flags.name
  target_id = "sqs"
  arn       = aws_sqs_queue.this.arn

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letter.arn
  }
}

data "aws_iam_policy_document" "queues" {
  for_each = {
    run_flags   = aws_sqs_queue.this.arn
    dead_letter = aws_sqs_queue.dead_letter.arn
  }

  statement {
    sid       = "EventBridgeRule"
    actions   = ["sqs:SendMessage"]
    resources = [each.value]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.run_flags.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "this" {
  queue_url = aws_sqs_queue.this.id
  policy    = data.aws_iam_policy_document.queues["run_flags"].json
}

resource "aws_sqs_queue_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id
  policy    = data.aws_iam_policy_document.queues["dead_letter"].json
}
