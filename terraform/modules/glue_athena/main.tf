# The lake's catalog and query side: the Glue database of the lake's Apache
# Iceberg tables, the VCF -> Iceberg converter job (one run per analysis, the
# slim package of include/seqflow/glue/package.py), and the Athena workgroup
# (engine v3) with the project's named queries.
#
# The Iceberg tables (variants, qc_metrics, step_costs) are declared here
# (aws_glue_catalog_table.iceberg: Glue creates each one's Iceberg metadata from
# the columns of lake_tables.json, generated from seqflow.lake.iceberg), so that
# every table a query names exists from the first apply. Provider 5.100's
# open_table_format_input takes no partition spec, field ids or table
# properties: the first writer's Lake.ensure sets seqflow's spec
# (bucket[16](sample_id)) and properties while the table is empty. After that
# every commit moves the table's metadata_location and pyiceberg rewrites its
# columns, so Terraform ignores what the writers change (an apply that set it
# back would roll the lake back to an old snapshot; docs/lake.md).

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.id
  partition  = data.aws_partition.current.partition

  # the lake's Iceberg tables (seqflow.lake.iceberg.TABLES; a test keeps them equal),
  # declared below under <lake_root>iceberg/<table>/ with the columns of lake_tables.json
  # (seqflow.lake.iceberg.glue_tables_json(); a test keeps it equal)
  tables        = ["variants", "qc_metrics", "step_costs"]
  table_columns = jsondecode(file("${path.module}/lake_tables.json"))
  # the lake's views (include/seqflow/sql/views; a test keeps them equal): Athena
  # views the converter job creates or replaces after each run's commits
  # (seqflow.glue.views); Glue holds them as tables, so their ARNs are table ARNs
  views = ["qc_metrics_latest", "variants_latest"]
  table_arns = [
    for t in concat(local.tables, local.views) : "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${aws_glue_catalog_database.this.name}/${t}"
  ]
  athena_results_bucket_arn = "arn:${local.partition}:s3:::${var.athena_results_bucket_name}"

  lake_root        = "s3://${var.lake_bucket_name}/${var.lake_prefix}"
  artifact_folder  = "glue/${var.job_name_suffix}"
  script_key       = "${local.artifact_folder}/${basename(var.script_file)}"
  named_query_file = { for f in fileset(var.sql_dir, "*.sql") : trimsuffix(f, ".sql") => "${var.sql_dir}/${f}" }

  # the job's Python files: wheels for --additional-python-modules, the slim package
  # zip (python -m seqflow.glue.package) for --extra-py-files
  wheels   = { for path in var.wheel_files : basename(path) => path if endswith(path, ".whl") }
  packages = { for path in var.wheel_files : basename(path) => path if endswith(path, ".zip") }
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
  description = "seqflow variant lake (Apache Iceberg tables on S3)"
}

# Glue writes the table's first Iceberg metadata file (format v2, unpartitioned)
# under the location; seqflow's first writer sets the spec and properties
# (seqflow.lake.iceberg.Lake.ensure), and its commits own the table from then on.
resource "aws_glue_catalog_table" "iceberg" {
  for_each = toset(local.tables)

  name          = each.key
  database_name = aws_glue_catalog_database.this.name
  table_type    = "EXTERNAL_TABLE"

  open_table_format_input {
    iceberg_input {
      metadata_operation = "CREATE"
      version            = "2"
    }
  }

  storage_descriptor {
    location = "${local.lake_root}iceberg/${each.key}"

    dynamic "columns" {
      for_each = local.table_columns[each.key]
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }

  lifecycle {
    # each commit sets metadata_location (parameters) and the columns; a plan must not undo them
    ignore_changes = [parameters, storage_descriptor, open_table_format_input, table_type, owner, retention]
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

# Python wheels for --additional-python-modules (pip needs the wheel's own file name)
resource "aws_s3_object" "wheels" {
  for_each = local.wheels

  bucket                 = var.artifacts_bucket_name
  key                    = "${local.artifact_folder}/${each.key}"
  source                 = each.value
  source_hash            = filemd5(each.value)
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
}

# The slim package (the lake modules the job imports) under a key named by its
# SHA-256: a new build is a new object, so runs in flight keep the code they
# started with and the job never picks up a stale cached zip.
resource "aws_s3_object" "packages" {
  for_each = local.packages

  bucket                 = var.artifacts_bucket_name
  key                    = "${local.artifact_folder}/${trimsuffix(each.key, ".zip")}-${substr(filesha256(each.value), 0, 16)}.zip"
  source                 = each.value
  source_hash            = filemd5(each.value)
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  content_type           = "application/zip"
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

  # data and metadata files of the Iceberg tables, the manifests and results
  # under <lake_prefix>_manifests/; deletes: pyiceberg removes metadata files
  # past write.metadata.previous-versions-max
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

  # pyiceberg's Glue catalog: complete the declared tables (spec, properties) or create a missing one, commit by
  # UpdateTable (optimistic on the table version)
  statement {
    sid = "IcebergCatalog"
    actions = [
      "glue:GetDatabase",
      "glue:GetTable",
      "glue:GetTables",
      "glue:CreateTable",
      "glue:UpdateTable",
    ]
    resources = concat(
      [
        "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog",
        aws_glue_catalog_database.this.arn,
      ],
      local.table_arns,
    )
  }

  # the lake's views: CREATE OR REPLACE VIEW on Athena after the commits
  # (Athena creates the view in Glue with the caller's rights: IcebergCatalog
  # covers the view ARNs; it writes the statement's result to the workgroup's
  # output location, encrypted with var.kms_key_arn: DataKey)
  statement {
    sid       = "AthenaViews"
    actions   = ["athena:StartQueryExecution", "athena:GetQueryExecution"]
    resources = [aws_athena_workgroup.this.arn]
  }

  statement {
    sid       = "AthenaResults"
    actions   = ["s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = [local.athena_results_bucket_arn, "${local.athena_results_bucket_arn}/*"]
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

  # Per-run arguments (--manifest_uri, and the identity for the console) come
  # from Airflow, one run per analysis; these are the deployment's.
  default_arguments = merge(
    {
      "--job-language"                     = "python"
      "--enable-continuous-cloudwatch-log" = "true"
      "--enable-metrics"                   = "true"
      "--job-bookmark-option"              = "job-bookmark-disable"
      "--TempDir"                          = "s3://${var.temp_bucket_name}/glue/tmp/"
      "--lake_uri"                         = trimsuffix(local.lake_root, "/")
      "--database"                         = aws_glue_catalog_database.this.name
      "--athena_workgroup"                 = aws_athena_workgroup.this.name
      "--parallel"                         = tostring(var.conversions_per_run)
      "--bcftools_uri"                     = var.bcftools_archive_file == null ? "-" : "s3://${var.artifacts_bucket_name}/${aws_s3_object.bcftools[0].key}"
    },
    length(var.additional_python_modules) + length(local.wheels) > 0 ? {
      "--additional-python-modules" = join(",", concat(
        var.additional_python_modules,
        [for o in aws_s3_object.wheels : "s3://${o.bucket}/${o.key}"],
      ))
    } : {},
    length(local.packages) > 0 ? {
      "--extra-py-files" = join(",", [for o in aws_s3_object.packages : "s3://${o.bucket}/${o.key}"])
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
