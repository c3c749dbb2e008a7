# Run events: the raw bucket's S3 "Object Created" events for the runs' flag
# files, through EventBridge, to an SQS queue that the seqflow_run_events DAG's
# AssetWatcher reads (include/seqflow/aws/events.py). Airflow listens only when
# the deployment turns it on (var.run_events_enabled in the stack sets the
# seqflow.run_events_queue Airflow option); the queue and the rule cost nothing
# while idle, and the execution role's permissions are the same either way.
#
# Launch uploads, the same way: the events of files put under the launch
# prefix of the raw bucket go to a queue of their own, read by the
# seqflow_launch_uploads DAG's AssetWatcher (include/seqflow/aws/launch_uploads.py;
# var.launch_uploads_enabled in the stack sets seqflow.launch_queue). One
# bucket notification (EventBridge on) serves both rules.

locals {
  # one wildcard per flag: <raw prefix><run folder>/<flag>
  flag_keys = [for flag in var.flag_names : { wildcard = "${var.raw_prefix}*/${flag}" }]
  # every object under the launch prefix
  launch_key = { prefix = var.launch_prefix }
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

# ---------------------------------------------------------------- launch uploads

resource "aws_sqs_queue" "launch_dead_letter" {
  name                              = "${var.name_prefix}-launch-files-dead-letter"
  message_retention_seconds         = 1209600 # 14 days, the SQS maximum
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 3600
}

resource "aws_sqs_queue" "launch" {
  name = "${var.name_prefix}-launch-files"
  # an upload nobody launched within 4 days is launched by hand (the DAG's "uploads" conf)
  message_retention_seconds         = 345600 # 4 days
  visibility_timeout_seconds        = 60
  receive_wait_time_seconds         = 20 # long polling, as the watcher asks
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 3600
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.launch_dead_letter.arn
    maxReceiveCount     = 5
  })
}

resource "aws_cloudwatch_event_rule" "launch_files" {
  name        = "${var.name_prefix}-launch-files"
  description = "A launch file uploaded to the launch prefix of the raw bucket (seqflow_launch_uploads starts its runs)"
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created"]
    detail = {
      bucket = { name = [var.raw_bucket_name] }
      object = { key = [local.launch_key] }
    }
  })
}

resource "aws_cloudwatch_event_target" "launch_files" {
  rule      = aws_cloudwatch_event_rule.launch_files.name
  target_id = "sqs"
  arn       = aws_sqs_queue.launch.arn

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }

  dead_letter_config {
    arn = aws_sqs_queue.launch_dead_letter.arn
  }
}

# ---------------------------------------------------------------- queue policies

data "aws_iam_policy_document" "queues" {
  for_each = {
    run_flags          = { queue = aws_sqs_queue.this.arn, rule = aws_cloudwatch_event_rule.run_flags.arn }
    dead_letter        = { queue = aws_sqs_queue.dead_letter.arn, rule = aws_cloudwatch_event_rule.run_flags.arn }
    launch_files       = { queue = aws_sqs_queue.launch.arn, rule = aws_cloudwatch_event_rule.launch_files.arn }
    launch_dead_letter = { queue = aws_sqs_queue.launch_dead_letter.arn, rule = aws_cloudwatch_event_rule.launch_files.arn }
  }

  statement {
    sid       = "EventBridgeRule"
    actions   = ["sqs:SendMessage"]
    resources = [each.value.queue]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [each.value.rule]
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

resource "aws_sqs_queue_policy" "launch" {
  queue_url = aws_sqs_queue.launch.id
  policy    = data.aws_iam_policy_document.queues["launch_files"].json
}

resource "aws_sqs_queue_policy" "launch_dead_letter" {
  queue_url = aws_sqs_queue.launch_dead_letter.id
  policy    = data.aws_iam_policy_document.queues["launch_dead_letter"].json
}
