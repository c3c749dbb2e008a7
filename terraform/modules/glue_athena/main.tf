# The lake's catalog and query side: Glue database and tables (Hive-style
# partitions, registered explicitly by the pipeline), the VCF -> Parquet
# converter job, and the Athena workgroup with the project's named queries.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.id
  partition  = data.aws_partition.current.partition

  # Columns and partition keys of the lake tables, the Hive spelling of the
  # Arrow schemas in include/seqflow/lake/schema.py and of the DDL in
  # include/seqflow/sql/ddl/ (a test keeps them equal). Partitions are keyed by
  # the whole analysis identity, so analyses differing in reference, aligner or
  # caller never overwrite each other; partition keys are not data columns.
  tables = {
    variants = {
      description = "One row per variant per sample: full ALT arrays, typed FORMAT fields, INFO map with promoted columns, provenance"
      columns = [
        { name = "contig", type = "string" },
        { name = "pos", type = "bigint" },
        { name = "start", type = "bigint" },
        { name = "end", type = "bigint" },
        { name = "ids", type = "array<string>" },
        { name = "ref", type = "string" },
        { name = "alt", type = "array<string>" },
        { name = "qual", type = "double" },
        { name = "filters", type = "array<string>" },
        { name = "info", type = "map<string,string>" },
        { name = "info_dp", type = "int" },
        { name = "info_an", type = "int" },
        { name = "info_mq", type = "double" },
        { name = "info_af", type = "array<double>" },
        { name = "info_ac", type = "array<int>" },
        { name = "gt", type = "array<smallint>" },
        { name = "gt_phased", type = "boolean" },
        { name = "gq", type = "int" },
        { name = "dp", type = "int" },
        { name = "ad", type = "array<int>" },
        { name = "pl", type = "array<int>" },
        { name = "format", type = "map<string,string>" },
      ]
      partition_keys = ["run_id", "pipeline_version", "reference", "aligner", "caller", "sample_id"]
    }
    qc_metrics = {
      description = "Per-sample QC metrics of each analysis (run, pipeline version, reference, aligner, caller)"
      columns = [
        { name = "sample_id", type = "string" },
        { name = "read_pairs", type = "bigint" },
        { name = "pct_mapped", type = "double" },
        { name = "pct_duplicates", type = "double" },
        { name = "mean_depth", type = "double" },
        { name = "variants_called", type = "bigint" },
        { name = "precision", type = "double" },
        { name = "recall", type = "double" },
        { name = "f1", type = "double" },
      ]
      partition_keys = ["run_id", "pipeline_version", "reference", "aligner", "caller"]
    }
  }

  lake_root        = "s3://${var.lake_bucket_name}/${var.lake_prefix}"
  artifact_folder  = "glue/${var.job_name_suffix}"
  script_key       = "${local.artifact_folder}/${basename(var.script_file)}"
  named_query_file = { for f in fileset(var.sql_dir, "*.sql") : trimsuffix(f, ".sql") => "${var.sql_dir}/${f}" }
}

# ---------------------------------------------------------------- catalog

# Catalog metadata and connection passwords encrypted with the data key. This
# setting is per account and region: disable it where another stack owns it.
resource "aws_glue_data_catalog_encryption_settings" "this" {
  count = var.manage_catalog_encryption ? 1 : 0

  data_catalog_encryption_settings {
    connection_password_encryption {
      return_connection_password_encrypted = true
      aws_kms_key_id                       = var.kms_key_arn
    }

    encryption_at_rest {
      catalog_encryption_mode = "SSE-KMS"
      sse_aws_kms_key_id      = var.kms_key_arn
    }
  }
}

resource "aws_glue_catalog_database" "this" {
  name        = var.database_name
  description = "seqflow variant lake (Parquet on S3)"
}

resource "aws_glue_catalog_table" "this" {
  for_each = local.tables

  name          = each.key
  database_name = aws_glue_catalog_database.this.name
  description   = each.value.description
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    EXTERNAL              = "TRUE"
    classification        = "parquet"
    "parquet.compression" = "ZSTD"
  }

  dynamic "partition_keys" {
    for_each = each.value.partition_keys
    content {
      name = partition_keys.value
      type = "string"
    }
  }

  storage_descriptor {
    location      = "${local.lake_root}${each.key}/"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      name                  = "parquet"
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
      parameters = {
        "serialization.format" = "1"
      }
    }

    dynamic "columns" {
      for_each = each.value.columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

# ---------------------------------------------------------------- converter job

resource "aws_glue_security_configuration" "this" {
  name = "${var.name_prefix}-glue"

  encryption_configuration {
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "SSE-KMS"
      kms_key_arn                = var.logs_kms_key_arn
    }

    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "CSE-KMS"
      kms_key_arn                   = var.kms_key_arn
    }

    s3_encryption {
      s3_encryption_mode = "SSE-KMS"
      kms_key_arn        = var.kms_key_arn
    }
  }
}

resource "aws_s3_object" "script" {
  bucket                 = var.artifacts_bucket_name
  key                    = local.script_key
  source                 = var.script_file
  source_hash            = filemd5(var.script_file)
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  content_type           = "text/x-python"
}

# Python wheels for --additional-python-modules (the seqflow package itself,
# built by `pip wheel --no-deps -w dist .`); pip needs the wheel's own file name
resource "aws_s3_object" "wheels" {
  for_each = { for path in var.wheel_files : basename(path) => path }

  bucket                 = var.artifacts_bucket_name
  key                    = "${local.artifact_folder}/${each.key}"
  source                 = each.value
  source_hash            = filemd5(each.value)
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
}

# bcftools + libhts built for Amazon Linux 2023 x86_64: the converter streams
# through `bcftools query` and Glue workers have no bcftools
resource "aws_s3_object" "bcftools" {
  count = var.bcftools_archive_file == null ? 0 : 1

  bucket                 = var.artifacts_bucket_name
  key                    = "${local.artifact_folder}/${basename(var.bcftools_archive_file)}"
  source                 = var.bcftools_archive_file
  source_hash            = filemd5(var.bcftools_archive_file)
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name_prefix}-glue-converter"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "ListBuckets"
    actions   = ["s3:ListBucket"]
    resources = distinct(concat(var.input_bucket_arns, [var.lake_bucket_arn, var.artifacts_bucket_arn, var.temp_bucket_arn]))
  }

  statement {
    sid     = "ReadVcfsAndCode"
    actions = ["s3:GetObject"]
    resources = concat(
      [for arn in var.input_bucket_arns : "${arn}/*"],
      ["${var.artifacts_bucket_arn}/glue/*"],
    )
  }

  # publishing is atomic: write under a staging key, then swap, so deletes too
  statement {
    sid = "WriteLakeAndTemp"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
    ]
    resources = [
      "${var.lake_bucket_arn}/${var.lake_prefix}*",
      "${var.temp_bucket_arn}/glue/*",
    ]
  }

  statement {
    sid = "DataKey"
    actions = [
      "kms:Decrypt",
      "kms:Encrypt",
      "kms:GenerateDataKey",
    ]
    resources = [var.kms_key_arn]
  }

  statement {
    sid = "CatalogPartitions"
    actions = [
      "glue:GetDatabase",
      "glue:GetTable",
      "glue:GetPartition",
      "glue:GetPartitions",
      "glue:BatchGetPartition",
      "glue:CreatePartition",
      "glue:BatchCreatePartition",
      "glue:UpdatePartition",
    ]
    resources = concat(
      [
        "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog",
        aws_glue_catalog_database.this.arn,
      ],
      [for t in aws_glue_catalog_table.this : t.arn],
    )
  }

  # continuous logging to the Glue log groups, encrypted by the security configuration
  statement {
    sid = "JobLogs"
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:AssociateKmsKey",
    ]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws-glue/*"]
  }

  statement {
    sid       = "LogsKey"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.logs_kms_key_arn]
  }

  statement {
    sid       = "JobMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["Glue"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "convert-vcf-to-lake"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_glue_job" "this" {
  name                   = "${var.name_prefix}-${var.job_name_suffix}"
  description            = "seqflow VCF -> Parquet converter (include/seqflow/glue)"
  role_arn               = aws_iam_role.this.arn
  glue_version           = var.glue_version
  worker_type            = var.worker_type
  number_of_workers      = var.number_of_workers
  timeout                = var.timeout_minutes
  max_retries            = 0 # Airflow owns retries
  security_configuration = aws_glue_security_configuration.this.name
  execution_class        = "STANDARD"

  command {
    name            = "glueetl"
    script_location = "s3://${aws_s3_object.script.bucket}/${aws_s3_object.script.key}"
    python_version  = "3"
  }

  execution_property {
    max_concurrent_runs = var.max_concurrent_runs
  }

  # Per-run arguments (--vcf_uri, --run_id, --pipeline_version, --reference,
  # --aligner, --caller, --sample_id) come from Airflow; these are the deployment's.
  default_arguments = merge(
    {
      "--job-language"                     = "python"
      "--enable-continuous-cloudwatch-log" = "true"
      "--enable-metrics"                   = "true"
      "--job-bookmark-option"              = "job-bookmark-disable"
      "--TempDir"                          = "s3://${var.temp_bucket_name}/glue/tmp/"
      "--lake_uri"                         = trimsuffix(local.lake_root, "/")
      "--database"                         = aws_glue_catalog_database.this.name
      "--table"                            = "variants"
      "--bcftools_uri"                     = var.bcftools_archive_file == null ? "-" : "s3://${var.artifacts_bucket_name}/${aws_s3_object.bcftools[0].key}"
    },
    length(var.additional_python_modules) + length(var.wheel_files) > 0 ? {
      "--additional-python-modules" = join(",", concat(
        var.additional_python_modules,
        [for o in aws_s3_object.wheels : "s3://${o.bucket}/${o.key}"],
      ))
    } : {},
    var.extra_job_arguments,
  )
}

# ---------------------------------------------------------------- Athena

resource "aws_athena_workgroup" "this" {
  name          = var.name_prefix
  description   = "seqflow catalog queries (engine v3)"
  state         = "ENABLED"
  force_destroy = false

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.bytes_scanned_cutoff_per_query
    requester_pays_enabled             = false

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location = "s3://${var.athena_results_bucket_name}/"

      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = var.kms_key_arn
      }
    }
  }
}

resource "aws_athena_named_query" "this" {
  for_each = local.named_query_file

  name        = each.key
  description = "seqflow query ${each.key}.sql (include/seqflow/sql)"
  workgroup   = aws_athena_workgroup.this.id
  database    = aws_glue_catalog_database.this.name
  query       = file(each.value)
}
