region      = "eu-west-1"
account_id  = "222222222222"
environment = "prod"

pipeline_version = "1.0.0"

vpc_cidr           = "10.41.0.0/16"
availability_zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
single_nat_gateway = false
onprem_cidrs       = ["10.10.0.0/16"]

# activation key comes from TF_VAR_datasync_agent_activation_key in CI
share_server_hostname = "isilon.seq.internal"
share_subdirectory    = "/ifs/sequencers/runs"

image_tags = {
  fastp    = "0.23.2-1"
  bwa      = "0.7.17-1"
  minimap2 = "2.24-1"
  samtools = "1.16.1-1"
  bcftools = "1.16-1"
}

batch_spot_max_vcpus          = 1024
batch_on_demand_max_vcpus     = 256
batch_scratch_volume_size_gib = 1000
omics_max_cpus                = 2048
omics_max_runs                = 100

# include/seqflow/glue/README.md; build the wheel with `pip wheel --no-deps -w dist .`
# and the bcftools bundle on Amazon Linux 2023 before planning
glue_additional_python_modules = ["pyarrow==26.0.1", "numpy==2.4.6", "sqlglot==30.30.0"]
glue_wheel_files               = ["dist/seqflow-0.1.0-py3-none-any.whl"]
glue_bcftools_archive_file     = "dist/glue/bcftools-1.16-al2023-x86_64.tar.gz"

default_engine               = "batch"
restore_tier                 = "Standard"
registry_deletion_protection = true
enable_mwaa                  = true
mwaa_environment_class       = "mw1.medium"

alert_emails                  = ["seqflow-oncall@example.org"]
monthly_budget_usd            = 20000
activate_cost_allocation_tags = false # opt-in: set true once Billing has seen the tags (docs/aws.md)
