# The whole seqflow account side, composed from the modules. Environments
# (terraform/envs/<env>) configure providers and the backend and call this
# once with their tfvars; they add nothing else.

locals {
  name_prefix   = "${var.project}-${var.environment}"
  workflow_dir  = "${var.repo_root}/include/seqflow/workflows/germline"
  sql_dir       = "${var.repo_root}/include/seqflow/sql"
  glue_script   = "${var.repo_root}/include/seqflow/glue/vcf_to_parquet_job.py"
  mwaa_dir      = "${var.repo_root}/mwaa"
  bucket        = { for k, name in module.storage.bucket_names : k => { name = name, arn = module.storage.bucket_arns[k] } }
  tool_images   = { for tool, url in module.ecr.repository_urls : tool => "${url}:${var.image_tags[tool]}" }
  omics_outputs = "omics/"
}

module "storage" {
  source = "../modules/storage"

  name_prefix                        = local.name_prefix
  raw_prefix                         = var.raw_prefix
  raw_glacier_after_days             = var.raw_glacier_after_days
  raw_deep_archive_after_days        = var.raw_deep_archive_after_days
  scratch_expiration_days            = var.scratch_expiration_days
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
}

module "network" {
  source = "../modules/network"

  name_prefix        = local.name_prefix
  vpc_cidr           = var.vpc_cidr
  availability_zones = var.availability_zones
  enable_nat_gateway = var.enable_nat_gateway
  single_nat_gateway = var.single_nat_gateway
  onprem_cidrs       = var.onprem_cidrs
  logs_kms_key_arn   = module.storage.logs_kms_key_arn
  log_retention_days = var.log_retention_days
}

module "datasync" {
  source = "../modules/datasync"

  name_prefix             = local.name_prefix
  agent_activation_key    = var.datasync_agent_activation_key
  agent_ip_address        = var.datasync_agent_ip_address
  vpc_endpoint_id         = module.network.datasync_endpoint_id
  vpc_endpoint_private_ip = module.network.datasync_endpoint_private_ip
  subnet_arns             = [module.network.datasync_endpoint_subnet_arn]
  security_group_arns     = [module.network.datasync_security_group_arn]
  share_protocol          = var.share_protocol
  share_server_hostname   = var.share_server_hostname
  share_subdirectory      = var.share_subdirectory
  raw_bucket_arn          = module.storage.bucket_arns["raw"]
  raw_prefix              = module.storage.raw_prefix
  kms_key_arn             = module.storage.kms_key_arn
  report_bucket_arn       = module.storage.logs_bucket_arn
  logs_kms_key_arn        = module.storage.logs_kms_key_arn
  log_retention_days      = var.log_retention_days
  bytes_per_second        = var.datasync_bytes_per_second
}

module "ecr" {
  source = "../modules/ecr"

  repository_prefix = var.project
  kms_key_arn       = module.storage.kms_key_arn
}

module "batch" {
  source = "../modules/batch"

  name_prefix             = local.name_prefix
  vpc_id                  = module.network.vpc_id
  subnet_ids              = module.network.private_subnet_ids
  instance_types          = var.batch_instance_types
  spot_max_vcpus          = var.batch_spot_max_vcpus
  on_demand_max_vcpus     = var.batch_on_demand_max_vcpus
  scratch_volume_size_gib = var.batch_scratch_volume_size_gib
  scratch_storage         = var.batch_scratch_storage
  images                  = local.tool_images
  read_bucket_arns        = [local.bucket.raw.arn]
  write_bucket_arns       = [local.bucket.results.arn, local.bucket.scratch.arn]
  write_object_arns       = ["${local.bucket.raw.arn}/references/*"] # the index jobs of `seqflow reference add`
  kms_key_arn             = module.storage.kms_key_arn
  logs_kms_key_arn        = module.storage.logs_kms_key_arn
  log_retention_days      = var.log_retention_days
  job_definitions         = var.batch_job_definitions
}

module "omics" {
  source = "../modules/omics"

  name_prefix                    = local.name_prefix
  workflow_dir                   = local.workflow_dir
  workflow_bundle_file           = "${var.repo_root}/${var.omics_workflow_bundle_file}"
  parameter_template_file        = "${local.workflow_dir}/parameters.json"
  pipeline_version               = var.pipeline_version
  run_group_max_cpus             = var.omics_max_cpus
  run_group_max_duration_minutes = var.omics_max_duration_minutes
  run_group_max_runs             = var.omics_max_runs
  run_cache                      = var.omics_run_cache
  artifacts_bucket_name          = local.bucket.artifacts.name
  kms_key_arn                    = module.storage.kms_key_arn
  input_bucket_arns              = [local.bucket.raw.arn, local.bucket.results.arn]
  output_bucket_arn              = local.bucket.results.arn
  output_bucket_name             = local.bucket.results.name
  output_prefix                  = local.omics_outputs
  ecr_repository_arns            = values(module.ecr.repository_arns)
  logs_kms_key_arn               = module.storage.logs_kms_key_arn
  log_retention_days             = var.log_retention_days
  tags                           = var.tags
}

module "glue_athena" {
  source = "../modules/glue_athena"

  name_prefix                    = local.name_prefix
  database_name                  = replace(local.name_prefix, "-", "_")
  lake_bucket_name               = local.bucket.lake.name
  lake_bucket_arn                = local.bucket.lake.arn
  input_bucket_arns              = [local.bucket.results.arn]
  artifacts_bucket_name          = local.bucket.artifacts.name
  artifacts_bucket_arn           = local.bucket.artifacts.arn
  temp_bucket_name               = local.bucket.scratch.name
  temp_bucket_arn                = local.bucket.scratch.arn
  kms_key_arn                    = module.storage.kms_key_arn
  logs_kms_key_arn               = module.storage.logs_kms_key_arn
  script_file                    = local.glue_script
  glue_version                   = var.glue_version
  additional_python_modules      = var.glue_additional_python_modules
  wheel_files                    = [for f in var.glue_wheel_files : "${var.repo_root}/${f}"]
  bcftools_archive_file          = var.glue_bcftools_archive_file == null ? null : "${var.repo_root}/${var.glue_bcftools_archive_file}"
  athena_results_bucket_name     = local.bucket.athena_results.name
  bytes_scanned_cutoff_per_query = var.athena_bytes_scanned_cutoff
  sql_dir                        = local.sql_dir
  manage_catalog_encryption      = var.manage_glue_catalog_encryption
}

module "events" {
  source = "../modules/events"

  name_prefix          = local.name_prefix
  alert_emails         = var.alert_emails
  batch_job_queue_arns = [module.batch.job_queue_arn, module.batch.priority_job_queue_arn]
  datasync_task_arn    = module.datasync.task_arn
  glue_job_names       = [module.glue_athena.job_name]
  omics_workflow_names = [module.omics.workflow_name]
}

module "monitoring" {
  source = "../modules/monitoring"

  name_prefix                 = local.name_prefix
  alarm_topic_arn             = module.events.topic_arn
  batch_job_queue_arns        = [module.batch.job_queue_arn, module.batch.priority_job_queue_arn]
  glue_job_names              = [module.glue_athena.job_name]
  omics_workflow_names        = [module.omics.workflow_name]
  datasync_task_arn           = module.datasync.task_arn
  mwaa_environment_name       = module.airflow.mwaa_environment_name
  batch_failed_jobs_threshold = var.batch_failed_jobs_alarm_threshold
  # the names glue_athena gives its security configuration and role (a test
  # keeps them equal): Glue names the converter's log groups after them
  glue_security_configuration_name = "${local.name_prefix}-glue"
  glue_role_name                   = "${local.name_prefix}-glue-converter"
  logs_kms_key_arn                 = module.storage.logs_kms_key_arn
  log_retention_days               = var.log_retention_days
}

module "run_events" {
  source = "../modules/run_events"

  name_prefix     = local.name_prefix
  raw_bucket_name = local.bucket.raw.name
  raw_prefix      = module.storage.raw_prefix
  flag_names      = concat(var.completion_flags, var.qa_flag == null ? [] : [var.qa_flag])
  launch_prefix   = var.launch_prefix
  kms_key_arn     = module.events.kms_key_arn
}

module "airflow" {
  source = "../modules/airflow"

  name_prefix = local.name_prefix
  project     = var.project
  buckets = {
    raw            = local.bucket.raw
    results        = local.bucket.results
    lake           = local.bucket.lake
    athena_results = local.bucket.athena_results
    scratch        = local.bucket.scratch
  }
  raw_prefix        = module.storage.raw_prefix
  kms_key_arn       = module.storage.kms_key_arn
  datasync_task_arn = module.datasync.task_arn
  batch = {
    job_queue_name              = module.batch.job_queue_name
    job_queue_arn               = module.batch.job_queue_arn
    priority_job_queue_name     = module.batch.priority_job_queue_name
    priority_job_queue_arn      = module.batch.priority_job_queue_arn
    job_definition_names        = module.batch.job_definition_names
    job_definition_arn_prefixes = module.batch.job_definition_arn_prefixes
    log_group_arn               = module.batch.log_group_arn
  }
  omics = {
    workflow_id   = module.omics.workflow_id
    workflow_arn  = module.omics.workflow_arn
    run_group_id  = module.omics.run_group_id
    run_group_arn = module.omics.run_group_arn
    role_arn      = module.omics.role_arn
    output_uri    = module.omics.output_uri
    # known at plan (a variable), so the optional SSM parameter's for_each is too
    run_cache_enabled = var.omics_run_cache
    run_cache_id      = module.omics.run_cache_id
    run_cache_arn     = module.omics.run_cache_arn
  }
  glue = {
    job_name      = module.glue_athena.job_name
    job_arn       = module.glue_athena.job_arn
    database_name = module.glue_athena.database_name
    database_arn  = module.glue_athena.database_arn
    table_arns    = module.glue_athena.table_arns
  }
  athena_workgroup_name = module.glue_athena.workgroup_name
  athena_workgroup_arn  = module.glue_athena.workgroup_arn
  run_events = {
    enabled          = var.run_events_enabled
    queue_url        = module.run_events.queue_url
    queue_arn        = module.run_events.queue_arn
    kms_key_arn      = module.events.kms_key_arn
    launch_enabled   = var.launch_uploads_enabled
    launch_queue_url = module.run_events.launch_queue_url
    launch_queue_arn = module.run_events.launch_queue_arn
    launch_prefix    = module.run_events.launch_prefix
  }
  alerts_topic_arn             = module.events.topic_arn
  alerts_kms_key_arn           = module.events.kms_key_arn
  default_engine               = var.default_engine
  restore_tier                 = var.restore_tier
  registry_deletion_protection = var.registry_deletion_protection
  trusted_service_principals   = var.airflow_trusted_service_principals
  trusted_role_arns            = var.airflow_trusted_role_arns

  enable_mwaa              = var.enable_mwaa
  mwaa_airflow_version     = var.mwaa_airflow_version
  mwaa_environment_class   = var.mwaa_environment_class
  mwaa_max_workers         = var.mwaa_max_workers
  log_retention_days       = var.log_retention_days
  mwaa_requirements_file   = "${local.mwaa_dir}/requirements.txt"
  mwaa_startup_script_file = "${local.mwaa_dir}/startup.sh"
  vpc_id                   = module.network.vpc_id
  vpc_cidr                 = module.network.vpc_cidr
  subnet_ids               = module.network.private_subnet_ids
  access_logs_bucket_name  = module.storage.logs_bucket_name
}

module "cost" {
  source = "../modules/cost"

  name_prefix                   = local.name_prefix
  project                       = var.project
  monthly_budget_usd            = var.monthly_budget_usd
  alert_emails                  = var.alert_emails
  alert_topic_arns              = [module.events.topic_arn]
  activate_cost_allocation_tags = var.activate_cost_allocation_tags
}
