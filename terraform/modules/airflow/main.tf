# Everything Airflow needs on the AWS side: the configuration of the aws
# profile as SSM parameters, the run registry table, the execution role with
# exactly the calls the DAGs make, and (optionally) an MWAA environment.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.id
  partition  = data.aws_partition.current.partition

  # The naming scheme of include/seqflow/aws/config_keys.py: key k is the
  # Airflow Variable seqflow_<k>, read through the SSM secrets backend from
  # /airflow/variables/seqflow_<k>. tests/terraform checks that these keys and
  # descriptions are exactly AWS_CONFIG_KEYS.
  ssm_variables_prefix   = "/airflow/variables"
  ssm_connections_prefix = "/airflow/connections"
  variable_prefix        = "seqflow_"
  connection_prefix      = "seqflow_"

  # The SSM secrets backend's kwargs (config_keys.secrets_backend_kwargs()):
  # it looks up in SSM only the Variables and connections named seqflow_*, so
  # the aws_default connection every AWS hook asks for (MWAA: the execution
  # role) is no GetParameter of /airflow/connections/aws_default per hook.
  secrets_backend_kwargs = {
    variables_prefix           = local.ssm_variables_prefix
    connections_prefix         = local.ssm_connections_prefix
    variables_lookup_pattern   = "^${local.variable_prefix}"
    connections_lookup_pattern = "^${local.connection_prefix}"
  }

  config_descriptions = {
    region                                       = "AWS region of the deployment"
    project                                      = "Project name used in cost-allocation tags"
    raw_bucket                                   = "S3 bucket holding raw sequencer run folders (DataSync destination)"
    raw_prefix                                   = "Key prefix of run folders in the raw bucket"
    results_bucket                               = "S3 bucket for per-sample results (BAM, VCF, QC)"
    lake_bucket                                  = "S3 bucket of the Parquet variant lake"
    athena_results_bucket                        = "S3 bucket for Athena query results"
    scratch_bucket                               = "S3 bucket for short-lived intermediates"
    datasync_task_arn                            = "ARN of the DataSync task from the on-prem share to the raw bucket"
    batch_job_queue                              = "Default AWS Batch job queue (Spot first, On-Demand fallback)"
    batch_priority_job_queue                     = "On-Demand AWS Batch job queue for urgent runs"
    batch_job_definition_fastp                   = "Batch job definition of step fastp"
    batch_job_definition_align_bwa               = "Batch job definition of step align with bwa (+ samtools)"
    batch_job_definition_align_minimap2          = "Batch job definition of step align with minimap2 (+ samtools)"
    batch_job_definition_call_variants_bcftools  = "Batch job definition of step call_variants with bcftools"
    batch_job_definition_call_variants_freebayes = "Batch job definition of step call_variants with freebayes"
    batch_job_definition_bam_qc                  = "Batch job definition of step bam_qc (samtools)"
    batch_job_definition_vcf_stats               = "Batch job definition of step vcf_stats (bcftools stats)"
    batch_job_definition_gather_calls            = "Batch job definition of step gather_calls (bcftools concat of the calling shards)"
    omics_workflow_id                            = "HealthOmics workflow id of the per-sample germline pipeline"
    omics_role_arn                               = "IAM role HealthOmics runs assume"
    omics_run_group_id                           = "HealthOmics run group limiting CPUs, duration and concurrency"
    omics_output_uri                             = "S3 URI under which HealthOmics writes run outputs"
    glue_job_name                                = "Glue job running the VCF to Parquet converter"
    glue_database                                = "Glue Data Catalog database of the variant lake"
    athena_workgroup                             = "Athena workgroup (engine v3) for catalog queries"
    registry_table                               = "DynamoDB table of the run registry"
    alerts_topic_arn                             = "SNS topic for failure alerts"
    default_engine                               = "Default analysis engine of the aws profile: batch or omics"
    restore_tier                                 = "S3 Glacier restore tier for archived runs: Expedited, Standard or Bulk"
  }

  config_values = {
    region                                       = local.region
    project                                      = var.project
    raw_bucket                                   = var.buckets.raw.name
    raw_prefix                                   = var.raw_prefix
    results_bucket                               = var.buckets.results.name
    lake_bucket                                  = var.buckets.lake.name
    athena_results_bucket                        = var.buckets.athena_results.name
    scratch_bucket                               = var.buckets.scratch.name
    datasync_task_arn                            = var.datasync_task_arn
    batch_job_queue                              = var.batch.job_queue_name
    batch_priority_job_queue                     = var.batch.priority_job_queue_name
    batch_job_definition_fastp                   = var.batch.job_definition_names["fastp"]
    batch_job_definition_align_bwa               = var.batch.job_definition_names["align_bwa"]
    batch_job_definition_align_minimap2          = var.batch.job_definition_names["align_minimap2"]
    batch_job_definition_call_variants_bcftools  = var.batch.job_definition_names["call_variants_bcftools"]
    batch_job_definition_call_variants_freebayes = var.batch.job_definition_names["call_variants_freebayes"]
    batch_job_definition_bam_qc                  = var.batch.job_definition_names["bam_qc"]
    batch_job_definition_vcf_stats               = var.batch.job_definition_names["vcf_stats"]
    batch_job_definition_gather_calls            = var.batch.job_definition_names["gather_calls"]
    omics_workflow_id                            = var.omics.workflow_id
    omics_role_arn                               = var.omics.role_arn
    omics_run_group_id                           = var.omics.run_group_id
    omics_output_uri                             = var.omics.output_uri
    glue_job_name                                = var.glue.job_name
    glue_database                                = var.glue.database_name
    athena_workgroup                             = var.athena_workgroup_name
    registry_table                               = aws_dynamodb_table.registry.name
    alerts_topic_arn                             = var.alerts_topic_arn
    default_engine                               = var.default_engine
    restore_tier                                 = var.restore_tier
  }

  # OPTIONAL_CONFIG_KEYS: written when their feature is on (a test keeps the
  # descriptions equal to the package's); without a parameter the DAGs run without it
  optional_config_descriptions = {
    omics_run_cache_id = "HealthOmics run cache id (call caching of the germline workflow's tasks); empty: no cache"
  }
  optional_config_enabled = {
    omics_run_cache_id = var.omics.run_cache_enabled
  }
  optional_config_values = {
    omics_run_cache_id = var.omics.run_cache_id
  }

  mwaa_name      = "${var.name_prefix}-airflow"
  mwaa_log_types = ["DAGProcessing", "Scheduler", "Task", "WebServer", "Worker"]
}

# ---------------------------------------------------------------- configuration

resource "aws_ssm_parameter" "config" {
  # checkov:skip=CKV2_AWS_34:Resource names and ARNs, not secrets; plain String keeps them readable by operators.
  for_each = local.config_descriptions

  name        = "${local.ssm_variables_prefix}/${local.variable_prefix}${each.key}"
  description = each.value
  type        = "String"
  tier        = "Standard"
  value       = local.config_values[each.key]

  lifecycle {
    precondition {
      condition     = toset(keys(local.config_descriptions)) == toset(keys(local.config_values))
      error_message = "Every configuration key needs both a description and a value."
    }
  }
}

resource "aws_ssm_parameter" "optional_config" {
  # checkov:skip=CKV2_AWS_34:Resource ids, not secrets; plain String keeps them readable by operators.
  for_each = { for k, d in local.optional_config_descriptions : k => d if local.optional_config_enabled[k] }

  name        = "${local.ssm_variables_prefix}/${local.variable_prefix}${each.key}"
  description = each.value
  type        = "String"
  tier        = "Standard"
  value       = local.optional_config_values[each.key]
}

# ---------------------------------------------------------------- run registry

# keys as in include/seqflow/registry.py: one item per run and analysis
# (analysis key "<version>/<reference>/<aligner>/<caller>"; the ingest record uses "-")
resource "aws_dynamodb_table" "registry" {
  name                        = "${var.name_prefix}-run-registry"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "run_id"
  range_key                   = "analysis"
  deletion_protection_enabled = var.registry_deletion_protection

  attribute {
    name = "run_id"
    type = "S"
  }

  attribute {
    name = "analysis"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }
}

# ---------------------------------------------------------------- execution role

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = var.trusted_service_principals
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  dynamic "statement" {
    for_each = length(var.trusted_role_arns) > 0 ? [1] : []
    content {
      actions = ["sts:AssumeRole"]
      principals {
        type        = "AWS"
        identifiers = var.trusted_role_arns
      }
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name_prefix}-airflow-execution"
  description        = "seqflow Airflow (MWAA or self-hosted): exactly the AWS calls the DAGs make"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "pipeline" {
  # -- configuration: the SSM secrets backend looks up every Variable and
  # Connection it is asked for under these prefixes
  statement {
    sid     = "ReadConfiguration"
    actions = ["ssm:GetParameter", "ssm:GetParameters"]
    resources = [
      "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${local.ssm_variables_prefix}/*",
      "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${local.ssm_connections_prefix}/*",
    ]
  }

  # -- transfer: DataSyncOperator with the task ARN and a per-run include filter
  statement {
    sid       = "DataSyncTask"
    actions   = ["datasync:DescribeTask", "datasync:StartTaskExecution"]
    resources = [var.datasync_task_arn]
  }

  statement {
    sid       = "DataSyncExecutions"
    actions   = ["datasync:DescribeTaskExecution", "datasync:CancelTaskExecution"]
    resources = ["${var.datasync_task_arn}/execution/*"]
  }

  # -- raw runs: completion-flag sensors, run folder and sample sheet reads,
  # Glacier restores for backfills
  statement {
    sid       = "ListBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [for b in values(var.buckets) : b.arn]
  }

  statement {
    sid       = "ReadRawRuns"
    actions   = ["s3:GetObject", "s3:GetObjectAttributes", "s3:RestoreObject"]
    resources = ["${var.buckets.raw.arn}/${var.raw_prefix}*"]
  }

  # the reference catalogue: plan resolves reference.json, sample.requests cuts the calling
  # intervals from it and <name>.fa.gaps.bed (seqflow.aws.scattered_calling)
  statement {
    sid       = "ReadReferences"
    actions   = ["s3:GetObject"]
    resources = ["${var.buckets.raw.arn}/references/*"]
  }

  # results (run manifests, reports), lake (publishing), scratch, Athena results
  statement {
    sid     = "ReadWriteResultsLakeScratch"
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = [
      "${var.buckets.results.arn}/*",
      "${var.buckets.lake.arn}/*",
      "${var.buckets.scratch.arn}/*",
      "${var.buckets.athena_results.arn}/*",
    ]
  }

  statement {
    sid       = "DataKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values = [
        "s3.${local.region}.amazonaws.com",
        "athena.${local.region}.amazonaws.com",
        "glue.${local.region}.amazonaws.com",
        "dynamodb.${local.region}.amazonaws.com",
      ]
    }
  }

  # -- Batch engine: BatchOperator (deferrable) submits with cost tags,
  # polls, terminates on kill, and fetches the job's awslogs
  statement {
    sid     = "BatchSubmit"
    actions = ["batch:SubmitJob"]
    resources = concat(
      [var.batch.job_queue_arn, var.batch.priority_job_queue_arn],
      [for p in values(var.batch.job_definition_arn_prefixes) : p],
      [for p in values(var.batch.job_definition_arn_prefixes) : "${p}:*"],
    )
  }

  statement {
    sid       = "BatchJobs"
    actions   = ["batch:TagResource", "batch:TerminateJob", "batch:CancelJob"]
    resources = ["arn:${local.partition}:batch:${local.region}:${local.account_id}:job/*"]
  }

  statement {
    # DescribeJobs, DescribeJobDefinitions and ListJobs (a retried submission
    # looks for its live job first) support no resource-level permissions
    sid       = "BatchDescribe"
    actions   = ["batch:DescribeJobs", "batch:DescribeJobDefinitions", "batch:ListJobs"]
    resources = ["*"]
  }

  statement {
    # step costs (seqflow.aws.costs): the instance type of the container
    # instance each Batch attempt ran on, in the compute environments' clusters
    sid       = "EcsInstanceTypes"
    actions   = ["ecs:DescribeContainerInstances"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:cluster/*"]
  }

  statement {
    sid       = "BatchLogs"
    actions   = ["logs:GetLogEvents", "logs:FilterLogEvents"]
    resources = ["${var.batch.log_group_arn}:*"]
  }

  # -- HealthOmics engine: one run per sample, idempotent by requestId
  statement {
    # StartRun with a cacheId is authorised on the run cache as well
    sid     = "OmicsStartRun"
    actions = ["omics:StartRun", "omics:TagResource"]
    resources = concat([
      var.omics.workflow_arn,
      var.omics.run_group_arn,
      "arn:${local.partition}:omics:${local.region}:${local.account_id}:run/*",
    ], var.omics.run_cache_enabled ? [var.omics.run_cache_arn] : [])
  }

  statement {
    sid     = "OmicsRuns"
    actions = ["omics:GetRun", "omics:CancelRun", "omics:ListRunTasks", "omics:GetRunTask", "omics:GetWorkflow", "omics:GetRunGroup"]
    resources = [
      var.omics.workflow_arn,
      var.omics.run_group_arn,
      "arn:${local.partition}:omics:${local.region}:${local.account_id}:run/*",
      "arn:${local.partition}:omics:${local.region}:${local.account_id}:task/*",
    ]
  }

  statement {
    sid       = "OmicsPassRole"
    actions   = ["iam:PassRole"]
    resources = [var.omics.role_arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["omics.amazonaws.com"]
    }
  }

  # -- converter and catalog: GlueJobOperator (deferrable), partition
  # registration, Athena queries over the lake
  statement {
    sid       = "GlueJob"
    actions   = ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun", "glue:GetJob"]
    resources = [var.glue.job_arn]
  }

  statement {
    sid = "GlueCatalog"
    actions = [
      "glue:GetDatabase",
      "glue:GetTable",
      "glue:GetTables",
      "glue:GetPartition",
      "glue:GetPartitions",
      "glue:BatchGetPartition",
      "glue:CreatePartition",
      "glue:BatchCreatePartition",
      "glue:UpdatePartition",
      "glue:DeletePartition",
      "glue:BatchDeletePartition",
    ]
    resources = concat(
      [
        "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog",
        var.glue.database_arn,
      ],
      var.glue.table_arns,
    )
  }

  statement {
    # step costs (seqflow.aws.costs): finalise_run commits an analysis's rows to
    # the step_costs Iceberg table (pyiceberg's Glue catalog swaps its metadata
    # pointer with UpdateTable); the worker updates no other table
    sid       = "GlueStepCostsCommit"
    actions   = ["glue:UpdateTable"]
    resources = [for arn in var.glue.table_arns : arn if endswith(arn, "/step_costs")]
  }

  statement {
    sid       = "GlueJobLogs"
    actions   = ["logs:GetLogEvents", "logs:FilterLogEvents"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws-glue/*"]
  }

  statement {
    sid = "Athena"
    actions = [
      "athena:StartQueryExecution",
      "athena:GetQueryExecution",
      "athena:GetQueryResults",
      "athena:StopQueryExecution",
      "athena:GetWorkGroup",
      "athena:GetNamedQuery",
      "athena:BatchGetNamedQuery",
      "athena:ListNamedQueries",
    ]
    resources = [var.athena_workgroup_arn]
  }

  # -- run registry and alerts
  statement {
    sid       = "Registry"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable"]
    resources = [aws_dynamodb_table.registry.arn]
  }

  statement {
    sid       = "Alerts"
    actions   = ["sns:Publish"]
    resources = [var.alerts_topic_arn]
  }

  # -- run events: the seqflow_run_events DAG's AssetWatcher (the provider's
  # SqsSensorTrigger) receives the raw bucket's flag events and deletes them;
  # the seqflow_launch_uploads DAG's does the same with the launch-file events
  statement {
    sid       = "RunEventsQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [var.run_events.queue_arn, var.run_events.launch_queue_arn]
  }

  # -- launch uploads: the seqflow_launch_uploads DAG reads each uploaded launch file
  statement {
    sid       = "ReadLaunchFiles"
    actions   = ["s3:GetObject"]
    resources = ["${var.buckets.raw.arn}/${var.run_events.launch_prefix}*"]
  }

  statement {
    sid       = "RunEventsKey"
    actions   = ["kms:Decrypt"]
    resources = [var.run_events.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["sqs.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "AlertsKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.alerts_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["sns.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "pipeline" {
  name   = "seqflow-pipeline"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.pipeline.json
}

# ---------------------------------------------------------------- MWAA (optional)

data "aws_iam_policy_document" "mwaa_key" {
  count = var.enable_mwaa ? 1 : 0

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

  # MWAA encrypts its CloudWatch log groups (airflow-<env>-*) with this key
  statement {
    sid       = "CloudWatchLogs"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:airflow-${local.mwaa_name}-*"]
    }
  }
}

resource "aws_kms_key" "mwaa" {
  count = var.enable_mwaa ? 1 : 0

  description             = "${var.name_prefix}: MWAA environment, DAG bucket and Airflow logs"
  deletion_window_in_days = 30
  enable_key_rotation     = true
  policy                  = data.aws_iam_policy_document.mwaa_key[0].json
}

resource "aws_kms_alias" "mwaa" {
  count = var.enable_mwaa ? 1 : 0

  name          = "alias/${var.name_prefix}-mwaa"
  target_key_id = aws_kms_key.mwaa[0].key_id
}

# MWAA requires the source bucket name to start with "airflow-"
resource "aws_s3_bucket" "dags" {
  # checkov:skip=CKV_AWS_144:The DAG bucket is rebuilt from git by mwaa/sync_dags.sh; replication adds nothing.
  # checkov:skip=CKV2_AWS_62:MWAA polls the bucket; no event consumer.
  count = var.enable_mwaa ? 1 : 0

  bucket = "airflow-${var.name_prefix}-${local.account_id}"
}

resource "aws_s3_bucket_public_access_block" "dags" {
  count = var.enable_mwaa ? 1 : 0

  bucket                  = aws_s3_bucket.dags[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "dags" {
  count = var.enable_mwaa ? 1 : 0

  bucket = aws_s3_bucket.dags[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# MWAA pins requirements and the startup script by object version
resource "aws_s3_bucket_versioning" "dags" {
  count = var.enable_mwaa ? 1 : 0

  bucket = aws_s3_bucket.dags[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "dags" {
  count = var.enable_mwaa ? 1 : 0

  bucket = aws_s3_bucket.dags[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.mwaa[0].arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "dags" {
  count = var.enable_mwaa ? 1 : 0

  bucket        = aws_s3_bucket.dags[0].id
  target_bucket = var.access_logs_bucket_name
  target_prefix = "s3/airflow-dags/"
}

resource "aws_s3_bucket_lifecycle_configuration" "dags" {
  count = var.enable_mwaa ? 1 : 0

  bucket = aws_s3_bucket.dags[0].id

  rule {
    id     = "noncurrent-versions-and-multipart"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.dags]
}

data "aws_iam_policy_document" "dags_bucket" {
  count = var.enable_mwaa ? 1 : 0

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.dags[0].arn, "${aws_s3_bucket.dags[0].arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "dags" {
  count = var.enable_mwaa ? 1 : 0

  bucket = aws_s3_bucket.dags[0].id
  policy = data.aws_iam_policy_document.dags_bucket[0].json

  depends_on = [aws_s3_bucket_public_access_block.dags]
}

resource "aws_s3_object" "requirements" {
  count = var.enable_mwaa ? 1 : 0

  bucket                 = aws_s3_bucket.dags[0].id
  key                    = "requirements.txt"
  source                 = var.mwaa_requirements_file
  source_hash            = filemd5(var.mwaa_requirements_file)
  server_side_encryption = "aws:kms"
  kms_key_id             = aws_kms_key.mwaa[0].arn

  depends_on = [aws_s3_bucket_versioning.dags]
}

resource "aws_s3_object" "startup" {
  count = var.enable_mwaa ? 1 : 0

  bucket                 = aws_s3_bucket.dags[0].id
  key                    = "startup.sh"
  source                 = var.mwaa_startup_script_file
  source_hash            = filemd5(var.mwaa_startup_script_file)
  server_side_encryption = "aws:kms"
  kms_key_id             = aws_kms_key.mwaa[0].arn

  depends_on = [aws_s3_bucket_versioning.dags]
}

data "aws_iam_policy_document" "mwaa" {
  count = var.enable_mwaa ? 1 : 0

  statement {
    sid       = "PublishMetrics"
    actions   = ["airflow:PublishMetrics"]
    resources = ["arn:${local.partition}:airflow:${local.region}:${local.account_id}:environment/${local.mwaa_name}"]
  }

  statement {
    sid       = "DenyListAllBuckets"
    effect    = "Deny"
    actions   = ["s3:ListAllMyBuckets"]
    resources = [aws_s3_bucket.dags[0].arn, "${aws_s3_bucket.dags[0].arn}/*"]
  }

  statement {
    sid       = "ReadDagBucket"
    actions   = ["s3:GetObject*", "s3:GetBucket*", "s3:List*"]
    resources = [aws_s3_bucket.dags[0].arn, "${aws_s3_bucket.dags[0].arn}/*"]
  }

  statement {
    sid = "AirflowLogs"
    actions = [
      "logs:CreateLogStream",
      "logs:CreateLogGroup",
      "logs:PutLogEvents",
      "logs:GetLogEvents",
      "logs:GetLogRecord",
      "logs:GetLogGroupFields",
      "logs:GetQueryResults",
    ]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:airflow-${local.mwaa_name}-*"]
  }

  statement {
    # neither action supports resource-level permissions
    sid       = "DescribeLogGroupsAndMetrics"
    actions   = ["logs:DescribeLogGroups", "cloudwatch:PutMetricData"]
    resources = ["*"]
  }

  statement {
    sid = "CeleryQueues"
    actions = [
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
    ]
    resources = ["arn:${local.partition}:sqs:${local.region}:*:airflow-celery-*"]
  }

  statement {
    sid       = "EnvironmentKey"
    actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*", "kms:Encrypt"]
    resources = [aws_kms_key.mwaa[0].arn]
    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values   = ["sqs.${local.region}.amazonaws.com", "s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "mwaa" {
  count = var.enable_mwaa ? 1 : 0

  name   = "mwaa-environment"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.mwaa[0].json
}

resource "aws_security_group" "mwaa" {
  count = var.enable_mwaa ? 1 : 0

  name        = "${var.name_prefix}-mwaa"
  description = "MWAA environment: components talk to each other, HTTPS out, metadata database in the VPC"
  vpc_id      = var.vpc_id

  tags = {
    Name = "${var.name_prefix}-mwaa"
  }
}

resource "aws_vpc_security_group_ingress_rule" "mwaa_self" {
  count = var.enable_mwaa ? 1 : 0

  security_group_id            = aws_security_group.mwaa[0].id
  description                  = "MWAA components (scheduler, workers, web server) to each other"
  ip_protocol                  = "-1"
  referenced_security_group_id = aws_security_group.mwaa[0].id
}

resource "aws_vpc_security_group_egress_rule" "mwaa_self" {
  count = var.enable_mwaa ? 1 : 0

  security_group_id            = aws_security_group.mwaa[0].id
  description                  = "MWAA components to each other"
  ip_protocol                  = "-1"
  referenced_security_group_id = aws_security_group.mwaa[0].id
}

resource "aws_vpc_security_group_egress_rule" "mwaa_https" {
  count = var.enable_mwaa ? 1 : 0

  security_group_id = aws_security_group.mwaa[0].id
  description       = "HTTPS to AWS APIs and the requirements index"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "mwaa_postgres" {
  count = var.enable_mwaa ? 1 : 0

  security_group_id = aws_security_group.mwaa[0].id
  description       = "Metadata database endpoint inside the VPC"
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
  cidr_ipv4         = var.vpc_cidr
}

# MWAA writes to airflow-<environment>-<log type> and creates the groups
# without retention when they are missing; creating them first sets retention
# and the environment's key.
resource "aws_cloudwatch_log_group" "mwaa" {
  for_each = var.enable_mwaa ? toset(local.mwaa_log_types) : toset([])

  name              = "airflow-${local.mwaa_name}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.mwaa[0].arn
}

locals {
  # the SSM secrets backend: seqflow's Variables and Connections under the deployment's prefixes
  mwaa_secrets_options = {
    "secrets.backend"        = "airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend"
    "secrets.backend_kwargs" = jsonencode(local.secrets_backend_kwargs)
  }
}

resource "aws_mwaa_environment" "this" {
  count = var.enable_mwaa ? 1 : 0

  name               = local.mwaa_name
  airflow_version    = var.mwaa_airflow_version
  environment_class  = var.mwaa_environment_class
  execution_role_arn = aws_iam_role.this.arn
  kms_key            = aws_kms_key.mwaa[0].arn

  source_bucket_arn                = aws_s3_bucket.dags[0].arn
  dag_s3_path                      = "dags"
  requirements_s3_path             = aws_s3_object.requirements[0].key
  requirements_s3_object_version   = aws_s3_object.requirements[0].version_id
  startup_script_s3_path           = aws_s3_object.startup[0].key
  startup_script_s3_object_version = aws_s3_object.startup[0].version_id

  webserver_access_mode = "PRIVATE_ONLY"
  min_workers           = var.mwaa_min_workers
  max_workers           = var.mwaa_max_workers
  schedulers            = 2

  weekly_maintenance_window_start = var.mwaa_maintenance_window

  # Variables come from SSM under the scheme above; nothing else is configured
  # in the Airflow UI
  # MWAA exports seqflow.run_events_queue as AIRFLOW__SEQFLOW__RUN_EVENTS_QUEUE (seqflow.config.run_events_queue),
  # seqflow.launch_queue as AIRFLOW__SEQFLOW__LAUNCH_QUEUE (seqflow.config.launch_queue)
  airflow_configuration_options = merge(local.mwaa_secrets_options,
    var.run_events.enabled ? { "seqflow.run_events_queue" = var.run_events.queue_url } : {},
  var.run_events.launch_enabled ? { "seqflow.launch_queue" = var.run_events.launch_queue_url } : {})

  network_configuration {
    security_group_ids = [aws_security_group.mwaa[0].id]
    subnet_ids         = slice(var.subnet_ids, 0, 2)
  }

  logging_configuration {
    dag_processing_logs {
      enabled   = true
      log_level = var.mwaa_log_level
    }
    scheduler_logs {
      enabled   = true
      log_level = var.mwaa_log_level
    }
    task_logs {
      enabled   = true
      log_level = var.mwaa_log_level
    }
    webserver_logs {
      enabled   = true
      log_level = var.mwaa_log_level
    }
    worker_logs {
      enabled   = true
      log_level = var.mwaa_log_level
    }
  }

  depends_on = [aws_iam_role_policy.mwaa, aws_s3_bucket_policy.dags, aws_cloudwatch_log_group.mwaa]
}
