# Operations view of one deployment: the pipeline's AWS events kept in a log
# group and counted by metric filters (Batch publishes no job metrics of its
# own), alarms to the alerts topic, a CloudWatch dashboard, and the log groups
# of the Glue converter with retention and encryption.

data "aws_region" "current" {}

locals {
  region    = data.aws_region.current.id
  namespace = "seqflow/${var.name_prefix}"

  # name -> filter pattern over the events below; each becomes a metric
  metrics = {
    BatchJobsFailed    = "{ ($.source = \"aws.batch\") && ($.detail.status = \"FAILED\") }"
    BatchQueueBlocked  = "{ ($.source = \"aws.batch\") && ($.detail-type = \"Batch Job Queue Blocked\") }"
    GlueJobRunsFailed  = "{ ($.source = \"aws.glue\") && (($.detail.state = \"FAILED\") || ($.detail.state = \"TIMEOUT\") || ($.detail.state = \"ERROR\")) }"
    OmicsRunsFailed    = "{ ($.source = \"aws.omics\") && ($.detail.status = \"FAILED\") }"
    DataSyncExecErrors = "{ ($.source = \"aws.datasync\") && ($.detail.State = \"ERROR\") }"
  }

  alarms = merge(
    {
      batch_jobs_failed = {
        description = "Batch jobs of the seqflow queues FAILED (more than ${var.batch_failed_jobs_threshold} in an hour)"
        metric      = "BatchJobsFailed"
        period      = 3600
        threshold   = var.batch_failed_jobs_threshold
      }
      # Batch reports a queue as blocked when the job at its head has stayed
      # RUNNABLE for a while (no capacity, no instance type that fits, the
      # environment at its maximum): the age alarm of RUNNABLE jobs
      batch_runnable_stuck = {
        description = "A Batch job has waited too long in RUNNABLE at the head of a seqflow queue (queue blocked)"
        metric      = "BatchQueueBlocked"
        period      = 900
        threshold   = 0
      }
      glue_job_runs_failed = {
        description = "Runs of the VCF -> Parquet Glue job FAILED, timed out or errored"
        metric      = "GlueJobRunsFailed"
        period      = 900
        threshold   = 0
      }
    },
  )

  pattern_sources = {
    batch = {
      source      = ["aws.batch"]
      detail-type = ["Batch Job State Change"]
      detail      = { status = ["FAILED"], jobQueue = var.batch_job_queue_arns }
    }
    batch_blocked = {
      source      = ["aws.batch"]
      detail-type = ["Batch Job Queue Blocked"]
      resources   = var.batch_job_queue_arns
    }
    glue = {
      source      = ["aws.glue"]
      detail-type = ["Glue Job State Change"]
      detail      = { jobName = var.glue_job_names, state = ["FAILED", "TIMEOUT", "ERROR"] }
    }
    omics = {
      source      = ["aws.omics"]
      detail-type = ["Run Status Change"]
      detail      = { status = ["FAILED"], workflowName = var.omics_workflow_names }
    }
    datasync = {
      source      = ["aws.datasync"]
      detail-type = ["DataSync Task Execution State Change"]
      resources   = [{ prefix = "${var.datasync_task_arn}/execution/" }]
      detail      = { State = ["ERROR"] }
    }
  }
}

# ---------------------------------------------------------------- events -> logs -> metrics

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/events/${var.name_prefix}/pipeline"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

data "aws_iam_policy_document" "events_to_logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "delivery.logs.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [for r in aws_cloudwatch_event_rule.this : r.arn]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "this" {
  policy_name     = "${var.name_prefix}-pipeline-events"
  policy_document = data.aws_iam_policy_document.events_to_logs.json
}

resource "aws_cloudwatch_event_rule" "this" {
  for_each = local.pattern_sources

  name          = "${var.name_prefix}-metrics-${each.key}"
  description   = "seqflow ${var.name_prefix}: ${each.key} events of this deployment, counted by the pipeline metrics"
  event_pattern = jsonencode(each.value)
  state         = "ENABLED"
}

resource "aws_cloudwatch_event_target" "this" {
  for_each = local.pattern_sources

  rule      = aws_cloudwatch_event_rule.this[each.key].name
  target_id = "pipeline-log"
  arn       = aws_cloudwatch_log_group.this.arn

  depends_on = [aws_cloudwatch_log_resource_policy.this]
}

resource "aws_cloudwatch_log_metric_filter" "this" {
  for_each = local.metrics

  name           = "${var.name_prefix}-${each.key}"
  log_group_name = aws_cloudwatch_log_group.this.name
  pattern        = each.value

  metric_transformation {
    name          = each.key
    namespace     = local.namespace
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

# ---------------------------------------------------------------- alarms

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  alarm_description   = each.value.description
  namespace           = local.namespace
  metric_name         = each.value.metric
  statistic           = "Sum"
  period              = each.value.period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]

  depends_on = [aws_cloudwatch_log_metric_filter.this]
}

# The scheduler publishes a heartbeat every few seconds: none for 5 minutes
# means no task is being scheduled (missing data is the failure here).
resource "aws_cloudwatch_metric_alarm" "mwaa_scheduler_heartbeat" {
  count = var.mwaa_environment_name == null ? 0 : 1

  alarm_name          = "${var.name_prefix}-mwaa-scheduler-heartbeat"
  alarm_description   = "The MWAA scheduler of ${var.mwaa_environment_name} sent no heartbeat for 5 minutes"
  namespace           = "AmazonMWAA"
  metric_name         = "SchedulerHeartbeat"
  dimensions          = { Function = "Scheduler", Environment = var.mwaa_environment_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
}

# ---------------------------------------------------------------- dashboard

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name_prefix
  dashboard_body = jsonencode({
    widgets = concat(
      [
        {
          type = "metric", x = 0, y = 0, width = 12, height = 6
          properties = {
            title   = "Batch: failed jobs and blocked queues"
            region  = local.region
            stat    = "Sum"
            period  = 300
            view    = "timeSeries"
            metrics = [[local.namespace, "BatchJobsFailed"], [local.namespace, "BatchQueueBlocked"]]
          }
        },
        {
          type = "metric", x = 12, y = 0, width = 12, height = 6
          properties = {
            title   = "Failures: Glue runs, HealthOmics runs, DataSync executions"
            region  = local.region
            stat    = "Sum"
            period  = 300
            view    = "timeSeries"
            metrics = [[local.namespace, "GlueJobRunsFailed"], [local.namespace, "OmicsRunsFailed"], [local.namespace, "DataSyncExecErrors"]]
          }
        },
        {
          type = "alarm", x = 0, y = 6, width = 24, height = 4
          properties = {
            title  = "Alarms"
            alarms = concat([for a in aws_cloudwatch_metric_alarm.this : a.arn], aws_cloudwatch_metric_alarm.mwaa_scheduler_heartbeat[*].arn)
          }
        },
        {
          type = "log", x = 0, y = 10, width = 24, height = 6
          properties = {
            title  = "Latest pipeline failures"
            region = local.region
            view   = "table"
            query  = "SOURCE '${aws_cloudwatch_log_group.this.name}' | fields @timestamp, source, `detail-type`, detail.jobName, detail.status, detail.state, detail.statusReason | sort @timestamp desc | limit 50"
          }
        },
      ],
      var.mwaa_environment_name == null ? [] : [
        {
          type = "metric", x = 0, y = 16, width = 12, height = 6
          properties = {
            title   = "MWAA scheduler heartbeat"
            region  = local.region
            stat    = "Sum"
            period  = 300
            view    = "timeSeries"
            metrics = [["AmazonMWAA", "SchedulerHeartbeat", "Function", "Scheduler", "Environment", var.mwaa_environment_name]]
          }
        },
      ],
    )
  })
}

# ---------------------------------------------------------------- Glue log groups

# Glue creates the converter's log groups on its first run, without retention.
# With a security configuration that encrypts CloudWatch logs their names are
# /aws-glue/jobs/<configuration>-role/<role>/{output,error} and
# /aws-glue/jobs/logs-v2-<configuration> (continuous logging); creating them
# first sets retention and the logs key.
resource "aws_cloudwatch_log_group" "glue" {
  for_each = var.glue_security_configuration_name == null ? toset([]) : toset([
    "/aws-glue/jobs/${var.glue_security_configuration_name}-role/${var.glue_role_name}/output",
    "/aws-glue/jobs/${var.glue_security_configuration_name}-role/${var.glue_role_name}/error",
    "/aws-glue/jobs/logs-v2-${var.glue_security_configuration_name}",
  ])

  name              = each.key
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}
