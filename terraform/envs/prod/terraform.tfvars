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
  fastp     = "0.23.2-1"
  bwa       = "0.7.17-1"
  minimap2  = "2.24-1"
  samtools  = "1.16.1-1"
  bcftools  = "1.16-1"
  freebayes = "1.3.6-1"
}

batch_spot_max_vcpus          = 1024
batch_on_demand_max_vcpus     = 256
batch_scratch_volume_size_gib = 1000
omics_max_cpus                = 2048
omics_max_runs                = 100

# include/seqflow/glue/README.md; build the slim package with `python -m seqflow.glue.package`
# and the bcftools bundle on Amazon Linux 2023 before planning
glue_additional_python_modules = ["annotated-types==0.8.0", "cachetools==8.0.1", "certifi==2026.10.18", "charset-normalizer==3.5.2", "click==8.5.1", "fsspec==2026.9.0", "idna==3.20", "markdown-it-py==4.3.0", "mdurl==0.1.2", "mmh3==5.3.1", "numpy==2.4.6", "pyarrow==26.0.1", "pydantic==2.14.3", "pydantic-core==2.50.4", "pygments==2.21.0", "pyiceberg==0.12.0", "pyparsing==3.3.3", "pyroaring==1.2.0", "requests==2.34.2", "rich==15.0.0", "strictyaml==1.7.3", "tenacity==9.2.1", "typing-extensions==4.16.0", "typing-inspection==0.4.5", "zstandard==0.25.0"]
glue_wheel_files               = ["dist/glue/seqflow-glue.zip"]
glue_bcftools_archive_file     = "dist/glue/bcftools-1.16-al2023-x86_64.tar.gz"

default_engine               = "batch"
restore_tier                 = "Standard"
registry_deletion_protection = true
enable_mwaa                  = true
mwaa_environment_class       = "mw1.medium"

alert_emails                  = ["seqflow-oncall@example.org"]
monthly_budget_usd            = 20000
activate_cost_allocation_tags = false # opt-in: set true once Billing has seen the tags (docs/aws.md)
