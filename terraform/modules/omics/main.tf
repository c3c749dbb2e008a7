# The per-sample germline pipeline on AWS HealthOmics: the WDL workflow from
# include/seqflow/workflows/germline (zipped and uploaded for definition
# upload), a run group that caps CPUs, duration and concurrency, the service
# role runs assume, and the log group HealthOmics writes to. The aws provider
# has no HealthOmics workflow or run group resource, so those come from awscc.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region
  partition  = data.aws_partition.current.partition
  # awscc takes tags as a map for HealthOmics resources and has no default_tags
  tags = merge(var.tags, { pipeline = var.workflow_name })
}

data "archive_file" "workflow" {
  type        = "zip"
  source_dir  = var.workflow_dir
  output_path = "${path.root}/.terraform/seqflow-build/${var.workflow_name}.zip"
  excludes    = [basename(var.parameter_template_file)]
}

# keyed by content: a changed definition is a new object and a new workflow
# (HealthOmics workflows are immutable), past runs keep their exact definition
resource "aws_s3_object" "workflow" {
  bucket                 = var.artifacts_bucket_name
  key                    = "omics/${var.workflow_name}/${data.archive_file.workflow.output_md5}.zip"
  source                 = data.archive_file.workflow.output_path
  source_hash            = data.archive_file.workflow.output_md5
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  content_type           = "application/zip"
}

resource "awscc_omics_workflow" "this" {
  name               = "${var.name_prefix}-${var.workflow_name}"
  description        = "seqflow per-sample germline pipeline (${var.pipeline_version}): fastp, bwa/minimap2 + samtools, bcftools"
  engine             = "WDL"
  main               = var.main_file
  definition_uri     = "s3://${aws_s3_object.workflow.bucket}/${aws_s3_object.workflow.key}"
  parameter_template = jsondecode(file(var.parameter_template_file))
  storage_type       = var.storage_type
  storage_capacity   = var.storage_type == "STATIC" ? var.storage_capacity_gib : null
  tags               = merge(local.tags, { pipeline_version = var.pipeline_version })
}

resource "awscc_omics_run_group" "this" {
  name         = "${var.name_prefix}-${var.workflow_name}"
  max_cpus     = var.run_group_max_cpus
  max_duration = var.run_group_max_duration_minutes
  max_runs     = var.run_group_max_runs
  tags         = local.tags
}

# ---------------------------------------------------------------- service role

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["omics.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:omics:${local.region}:${local.account_id}:run/*"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name_prefix}-omics-run"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "ListInputAndOutputBuckets"
    actions   = ["s3:ListBucket"]
    resources = distinct(concat(var.input_bucket_arns, [var.output_bucket_arn]))
  }

  statement {
    sid       = "ReadInputs"
    actions   = ["s3:GetObject"]
    resources = [for arn in var.input_bucket_arns : "${arn}/*"]
  }

  statement {
    sid = "WriteOutputs"
    actions = [
      "s3:PutObject",
      "s3:AbortMultipartUpload",
    ]
    resources = ["${var.output_bucket_arn}/${var.output_prefix}*"]
  }

  statement {
    sid = "DataKeyThroughS3"
    actions = [
      "kms:Decrypt",
      "kms:GenerateDataKey",
    ]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid = "PullTaskImages"
    actions = [
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
      "ecr:BatchCheckLayerAvailability",
    ]
    resources = var.ecr_repository_arns
  }

  statement {
    sid = "RunLogs"
    actions = [
      "logs:CreateLogStream",
      "logs:DescribeLogStreams",
      "logs:PutLogEvents",
    ]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "run-germline"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

# HealthOmics always logs to this fixed name (one per account and region):
# creating it here sets retention and encryption before the first run does.
resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/omics/WorkflowLog"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}
