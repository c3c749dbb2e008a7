# DataSync from the instrument share (NFS or SMB, through an on-prem agent)
# into the raw bucket. The task carries no include filter: Airflow passes one
# per execution (the run folders of a date), so one task serves every run.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.id
  partition  = data.aws_partition.current.partition
  source_arn = var.share_protocol == "NFS" ? aws_datasync_location_nfs.this[0].arn : aws_datasync_location_smb.this[0].arn
}

# Activation: either a key obtained from the agent's local console (works when
# Terraform cannot reach the agent) or the agent's IP, from which Terraform
# fetches the key over HTTP port 80. With a VPC endpoint the agent talks to
# AWS only through the endpoint's private IP.
resource "aws_datasync_agent" "this" {
  name                  = "${var.name_prefix}-agent"
  activation_key        = var.agent_activation_key
  ip_address            = var.agent_activation_key == null ? var.agent_ip_address : null
  vpc_endpoint_id       = var.vpc_endpoint_id
  private_link_endpoint = var.vpc_endpoint_private_ip
  subnet_arns           = var.vpc_endpoint_id == null ? null : var.subnet_arns
  security_group_arns   = var.vpc_endpoint_id == null ? null : var.security_group_arns

  lifecycle {
    precondition {
      condition     = var.agent_activation_key != null || var.agent_ip_address != null
      error_message = "Set agent_activation_key or agent_ip_address to activate the DataSync agent."
    }
  }
}

resource "aws_datasync_location_nfs" "this" {
  count = var.share_protocol == "NFS" ? 1 : 0

  server_hostname = var.share_server_hostname
  subdirectory    = var.share_subdirectory

  on_prem_config {
    agent_arns = [aws_datasync_agent.this.arn]
  }

  mount_options {
    version = var.nfs_version
  }
}

resource "aws_datasync_location_smb" "this" {
  count = var.share_protocol == "SMB" ? 1 : 0

  server_hostname = var.share_server_hostname
  subdirectory    = var.share_subdirectory
  user            = var.smb_user
  password        = var.smb_password
  domain          = var.smb_domain
  agent_arns      = [aws_datasync_agent.this.arn]

  mount_options {
    version = "AUTOMATIC"
  }
}

# ---------------------------------------------------------------- S3 side

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["datasync.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:datasync:${local.region}:${local.account_id}:*"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name_prefix}-datasync"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "this" {
  statement {
    sid = "RawBucket"
    actions = [
      "s3:GetBucketLocation",
      "s3:ListBucket",
      "s3:ListBucketMultipartUploads",
    ]
    resources = [var.raw_bucket_arn]
  }

  # the object actions DataSync documents for an S3 destination, on the run prefix only
  statement {
    sid = "RunFolders"
    actions = [
      "s3:AbortMultipartUpload",
      "s3:DeleteObject",
      "s3:GetObject",
      "s3:GetObjectTagging",
      "s3:ListMultipartUploadParts",
      "s3:PutObject",
      "s3:PutObjectTagging",
    ]
    resources = ["${var.raw_bucket_arn}/${var.raw_prefix}*"]
  }

  statement {
    sid = "TaskReportBucket"
    actions = [
      "s3:GetBucketLocation",
      "s3:ListBucket",
    ]
    resources = [var.report_bucket_arn]
  }

  statement {
    sid       = "TaskReports"
    actions   = ["s3:PutObject"]
    resources = ["${var.report_bucket_arn}/${var.report_prefix}*"]
  }

  statement {
    sid = "RawBucketKey"
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
}

resource "aws_iam_role_policy" "this" {
  name   = "raw-bucket-and-reports"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_datasync_location_s3" "this" {
  s3_bucket_arn = var.raw_bucket_arn
  subdirectory  = "/${var.raw_prefix}"
  # lifecycle rules archive runs later; DataSync always writes Standard
  s3_storage_class = "STANDARD"

  s3_config {
    bucket_access_role_arn = aws_iam_role.this.arn
  }

  depends_on = [aws_iam_role_policy.this]
}

# ---------------------------------------------------------------- task

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/datasync/${var.name_prefix}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

data "aws_iam_policy_document" "logs" {
  statement {
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
    principals {
      type        = "Service"
      identifiers = ["datasync.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:datasync:${local.region}:${local.account_id}:task/*"]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "this" {
  policy_name     = "${var.name_prefix}-datasync"
  policy_document = data.aws_iam_policy_document.logs.json
}

resource "aws_datasync_task" "this" {
  name                     = "${var.name_prefix}-landing-to-raw"
  source_location_arn      = local.source_arn
  destination_location_arn = aws_datasync_location_s3.this.arn
  cloudwatch_log_group_arn = aws_cloudwatch_log_group.this.arn

  # Options that work with a per-execution include filter: only the filtered
  # files are compared and checksum-verified (a full point-in-time check would
  # scan the whole share), and files outside the filter are never deleted.
  options {
    verify_mode            = "ONLY_FILES_TRANSFERRED"
    transfer_mode          = "CHANGED"
    preserve_deleted_files = "PRESERVE"
    overwrite_mode         = "ALWAYS"
    task_queueing          = "ENABLED"
    log_level              = "TRANSFER"
    bytes_per_second       = var.bytes_per_second
    posix_permissions      = "NONE"
    uid                    = "NONE"
    gid                    = "NONE"
    atime                  = "BEST_EFFORT"
    mtime                  = "PRESERVE"
  }

  dynamic "excludes" {
    for_each = length(var.exclude_patterns) > 0 ? [1] : []
    content {
      filter_type = "SIMPLE_PATTERN"
      value       = join("|", var.exclude_patterns)
    }
  }

  task_report_config {
    output_type          = "STANDARD"
    report_level         = "ERRORS_ONLY"
    s3_object_versioning = "INCLUDE"

    s3_destination {
      bucket_access_role_arn = aws_iam_role.this.arn
      s3_bucket_arn          = var.report_bucket_arn
      subdirectory           = var.report_prefix
    }
  }

  depends_on = [aws_cloudwatch_log_resource_policy.this]
}
