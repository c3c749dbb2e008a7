provider "aws" {
  region              = var.region
  allowed_account_ids = [var.account_id]

  default_tags {
    tags = {
      project     = var.project
      environment = var.environment
      managed_by  = "terraform"
    }
  }
}

module "seqflow" {
  source = "../../stack"

  project          = var.project
  environment      = var.environment
  repo_root        = "${path.root}/../../.."
  pipeline_version = var.pipeline_version

  vpc_cidr           = var.vpc_cidr
  availability_zones = var.availability_zones
  single_nat_gateway = var.single_nat_gateway
  onprem_cidrs       = var.onprem_cidrs

  datasync_agent_activation_key = var.datasync_agent_activation_key
  datasync_agent_ip_address     = var.datasync_agent_ip_address
  share_server_hostname         = var.share_server_hostname
  share_subdirectory            = var.share_subdirectory

  image_tags                    = var.image_tags
  batch_spot_max_vcpus          = var.batch_spot_max_vcpus
  batch_on_demand_max_vcpus     = var.batch_on_demand_max_vcpus
  batch_scratch_volume_size_gib = var.batch_scratch_volume_size_gib
  omics_max_cpus                = var.omics_max_cpus
  omics_max_runs                = var.omics_max_runs

  glue_additional_python_modules = var.glue_additional_python_modules
  glue_wheel_files               = var.glue_wheel_files
  glue_bcftools_archive_file     = var.glue_bcftools_archive_file

  default_engine               = var.default_engine
  restore_tier                 = var.restore_tier
  registry_deletion_protection = var.registry_deletion_protection
  enable_mwaa                  = var.enable_mwaa
  run_events_enabled           = var.run_events_enabled
  launch_uploads_enabled       = var.launch_uploads_enabled
  mwaa_environment_class       = var.mwaa_environment_class

  alert_emails                  = var.alert_emails
  monthly_budget_usd            = var.monthly_budget_usd
  activate_cost_allocation_tags = var.activate_cost_allocation_tags
}
