region      = "eu-west-1"
account_id  = "111111111111"
environment = "dev"

pipeline_version = "1.0.0"

vpc_cidr           = "10.40.0.0/16"
availability_zones = ["eu-west-1a", "eu-west-1b"]
single_nat_gateway = true
onprem_cidrs       = ["192.168.10.0/24"]

datasync_agent_ip_address = "192.168.10.20"
share_server_hostname     = "nas01.lab.internal"
share_subdirectory        = "/export/sequencers"

image_tags = {
  fastp    = "0.23.2-1"
  bwa      = "0.7.17-1"
  minimap2 = "2.24-1"
  samtools = "1.16.1-1"
  bcftools = "1.16-1"
}

batch_spot_max_vcpus          = 64
batch_on_demand_max_vcpus     = 16
batch_scratch_volume_size_gib = 200
omics_max_cpus                = 128
omics_max_runs                = 5

# include/seqflow/glue/README.md; build the wheel with `pip wheel --no-deps -w dist .`
# and the bcftools bundle on Amazon Linux 2023 before planning
glue_additional_python_modules = ["pyarrow==26.0.1", "numpy==2.4.6", "sqlglot==30.30.0"]
glue_wheel_files               = ["dist/seqflow-0.1.0-py3-none-any.whl"]
glue_bcftools_archive_file     = "dist/glue/bcftools-1.16-al2023-x86_64.tar.gz"

default_engine               = "batch"
restore_tier                 = "Bulk"
registry_deletion_protection = false
enable_mwaa                  = false

alert_emails       = ["seqflow-dev-alerts@example.org"]
monthly_budget_usd = 500
