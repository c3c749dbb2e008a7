# The per-sample germline pipeline on AWS HealthOmics: the WDL workflow from
# include/seqflow/workflows/germline (as a zip bundle uploaded to S3), a run
# group that caps CPUs, duration and concurrency, the run cache (call caching,
# optional), the service role runs assume, and the log group HealthOmics
# writes to.
#
# The aws provider (5.x and 6.x) has no HealthOmics workflow, run group or
# run cache resource, so they are declared in a CloudFormation stack
# (AWS::Omics::Workflow, AWS::Omics::RunGroup, AWS::Omics::RunCache) managed
# by the aws provider; the stack's tags (the provider's default_tags)
# propagate to them.
#
# Terraform cannot build a zip without the archive provider: the bundle is
# built by terraform/scripts/build_workflow_bundle.py (deterministic, with a
# manifest of the MD5 of every file it holds), and the plan fails when the
# bundle is missing or older than the WDL it was built from.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.id
  partition  = data.aws_partition.current.partition
  tags       = merge(var.tags, { pipeline = var.workflow_name })

  # what the bundle must hold: every file of the workflow folder but the parameter template
  bundle_sources  = { for f in fileset(var.workflow_dir, "**") : f => filemd5("${var.workflow_dir}/${f}") if f != basename(var.parameter_template_file) }
  bundle_manifest = jsondecode(file("${var.workflow_bundle_file}.json"))
  bundle_md5      = filemd5(var.workflow_bundle_file)
  bundle_is_fresh = local.bundle_manifest.files == local.bundle_sources

  # HealthOmics' parameter template spelling (CloudFormation WorkflowParameter)
  parameter_template = {
    for name, p in jsondecode(file(var.parameter_template_file)) : name => {
      Description = p.description
      Optional    = try(p.optional, false)
    }
  }

  # the run cache: task outputs of completed tasks under s3://<output bucket>/<run_cache_prefix>
  run_cache_resources = var.run_cache ? {
    RunCache = {
      Type = "AWS::Omics::RunCache"
      Properties = {
        Name            = "${var.name_prefix}-${var.workflow_name}"
        Description     = "seqflow ${var.name_prefix}: call cache of the ${var.workflow_name} workflow's tasks"
        CacheS3Location = "s3://${var.output_bucket_name}/${var.run_cache_prefix}"
        CacheBehavior   = var.run_cache_behavior
        Tags            = local.tags
      }
    }
  } : {}
  run_cache_outputs = var.run_cache ? {
    RunCacheId  = { Value = { "Fn::GetAtt" = ["RunCache", "Id"] } }
    RunCacheArn = { Value = { "Fn::GetAtt" = ["RunCache", "Arn"] } }
  } : {}

  cloudformation_template = {
    AWSTemplateFormatVersion = "2010-09-09"
    Description              = "seqflow ${var.name_prefix}: HealthOmics workflow ${var.workflow_name}, its run group and run cache (managed by Terraform)"
    Resources = {
      Workflow = {
        Type = "AWS::Omics::Workflow"
        # Workflows are immutable: a new bundle replaces the workflow, and the
        # replaced one is kept so past runs still name the definition they ran.
        DeletionPolicy      = "Retain"
        UpdateReplacePolicy = "Retain"
        Properties = merge(
          {
            Name              = "${var.name_prefix}-${var.workflow_name}"
            Description       = "seqflow per-sample germline pipeline (${var.pipeline_version}): fastp, bwa/minimap2 + samtools, bcftools"
            Engine            = "WDL"
            Main              = var.main_file
            DefinitionUri     = "s3://${aws_s3_object.workflow.bucket}/${aws_s3_object.workflow.key}"
            ParameterTemplate = local.parameter_template
            StorageType       = var.storage_type
            Tags              = merge(local.tags, { pipeline_version = var.pipeline_version })
          },
          var.storage_type == "STATIC" ? { StorageCapacity = var.storage_capacity_gib } : {},
        )
      }
      RunGroup = {
        Type = "AWS::Omics::RunGroup"
        Properties = {
          Name        = "${var.name_prefix}-${var.workflow_name}"
          MaxCpus     = var.run_group_max_cpus
          MaxDuration = var.run_group_max_duration_minutes
          MaxRuns     = var.run_group_max_runs
          Tags        = local.tags
        }
      }
    }
    Outputs = {
      WorkflowId  = { Value = { "Fn::GetAtt" = ["Workflow", "Id"] } }
      WorkflowArn = { Value = { "Fn::GetAtt" = ["Workflow", "Arn"] } }
      RunGroupId  = { Value = { "Fn::GetAtt" = ["RunGroup", "Id"] } }
      RunGroupArn = { Value = { "Fn::GetAtt" = ["RunGroup", "Arn"] } }
    }
  }

  # the template the stack gets: the workflow and run group, and the run cache when it is on
  stack_template = merge(local.cloudformation_template, {
    Resources = merge(local.cloudformation_template.Resources, local.run_cache_resources)
    Outputs   = merge(local.cloudformation_template.Outputs, local.run_cache_outputs)
  })
}

# keyed by content: a changed definition is a new object and a new workflow,
# past runs keep their exact definition
resource "aws_s3_object" "workflow" {
  bucket                 = var.artifacts_bucket_name
  key                    = "omics/${var.workflow_name}/${local.bundle_md5}.zip"
  source                 = var.workflow_bundle_file
  source_hash            = local.bundle_md5
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  content_type           = "application/zip"

  lifecycle {
    precondition {
      condition     = local.bundle_is_fresh
      error_message = "${var.workflow_bundle_file} was not built from the WDL in ${var.workflow_dir}: run terraform/scripts/build_workflow_bundle.py again."
    }
  }
}

resource "aws_cloudformation_stack" "this" {
  # checkov:skip=CKV_AWS_124:Only Terraform changes this stack, and terraform apply waits for and reports every stack event; SNS mail of stack events adds nothing.
  name          = "${var.name_prefix}-omics-${var.workflow_name}"
  template_body = jsonencode(local.stack_template)
  on_failure    = "ROLLBACK"

  timeouts {
    create = "30m"
    update = "30m"
  }
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

  # call caching: the run reads cached task outputs and writes new ones with this role
  dynamic "statement" {
    for_each = var.run_cache ? [1] : []
    content {
      sid       = "RunCache"
      actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
      resources = ["${var.output_bucket_arn}/${var.run_cache_prefix}*"]
    }
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
