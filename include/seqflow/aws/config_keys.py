"""The one naming scheme for the ``aws`` profile's configuration.

Terraform (``terraform/modules/airflow``) writes one SSM parameter per key and
the DAGs read them at run time as Airflow Variables through the SSM Parameter
Store secrets backend (``variables_prefix = /airflow/variables``):

    key ``raw_bucket`` -> Variable ``seqflow_raw_bucket``
                       -> SSM parameter ``/airflow/variables/seqflow_raw_bucket``

The secrets backend's lookup patterns (:func:`secrets_backend_kwargs`) keep it
from asking SSM for names that are not seqflow's: without them every AWS hook's
``aws_default`` connection is a ``GetParameter`` of
``/airflow/connections/aws_default`` (about 1.7 per task instance).

Nothing here touches AWS; tests check that Terraform writes exactly these keys
and configures the backend with exactly these prefixes and patterns.
"""

from __future__ import annotations

import re

VARIABLE_PREFIX = "seqflow_"
SSM_VARIABLES_PREFIX = "/airflow/variables"
SSM_CONNECTIONS_PREFIX = "/airflow/connections"
#: Airflow connections the deployment keeps in SSM are named seqflow_<name>; the code's own AWS
#: connection (``aws_default``, MWAA: the execution role) is not one of them and is never looked up there
CONNECTION_PREFIX = "seqflow_"
#: the secrets backend looks up in SSM only the Variables and connections these match
VARIABLES_LOOKUP_PATTERN = "^" + re.escape(VARIABLE_PREFIX)
CONNECTIONS_LOOKUP_PATTERN = "^" + re.escape(CONNECTION_PREFIX)

#: key -> what it holds (Terraform uses the text as the SSM parameter description)
AWS_CONFIG_KEYS: dict[str, str] = {
    "region": "AWS region of the deployment",
    "project": "Project name used in cost-allocation tags",
    "raw_bucket": "S3 bucket holding raw sequencer run folders (DataSync destination)",
    "raw_prefix": "Key prefix of run folders in the raw bucket",
    "results_bucket": "S3 bucket for per-sample results (BAM, VCF, QC)",
    "lake_bucket": "S3 bucket of the Parquet variant lake",
    "athena_results_bucket": "S3 bucket for Athena query results",
    "scratch_bucket": "S3 bucket for short-lived intermediates",
    "datasync_task_arn": "ARN of the DataSync task from the on-prem share to the raw bucket",
    "batch_job_queue": "Default AWS Batch job queue (Spot first, On-Demand fallback)",
    "batch_priority_job_queue": "On-Demand AWS Batch job queue for urgent runs",
    # one per step implementation of the step catalogue (containers/*/steps.yaml; a test keeps them equal)
    "batch_job_definition_fastp": "Batch job definition of step fastp",
    "batch_job_definition_align_bwa": "Batch job definition of step align with bwa (+ samtools)",
    "batch_job_definition_align_minimap2": "Batch job definition of step align with minimap2 (+ samtools)",
    "batch_job_definition_call_variants_bcftools": "Batch job definition of step call_variants with bcftools",
    "batch_job_definition_call_variants_freebayes": "Batch job definition of step call_variants with freebayes",
    "batch_job_definition_bam_qc": "Batch job definition of step bam_qc (samtools)",
    "batch_job_definition_vcf_stats": "Batch job definition of step vcf_stats (bcftools stats)",
    "batch_job_definition_gather_calls": "Batch job definition of step gather_calls (bcftools concat of the calling shards)",
    "omics_workflow_id": "HealthOmics workflow id of the per-sample germline pipeline",
    "omics_role_arn": "IAM role HealthOmics runs assume",
    "omics_run_group_id": "HealthOmics run group limiting CPUs, duration and concurrency",
    "omics_output_uri": "S3 URI under which HealthOmics writes run outputs",
    "glue_job_name": "Glue job running the VCF to Parquet converter",
    "glue_database": "Glue Data Catalog database of the variant lake",
    "athena_workgroup": "Athena workgroup (engine v3) for catalog queries",
    "registry_table": "DynamoDB table of the run registry",
    "alerts_topic_arn": "SNS topic for failure alerts",
    "default_engine": "Default analysis engine of the aws profile: batch or omics",
    "restore_tier": "S3 Glacier restore tier for archived runs: Expedited, Standard or Bulk",
}

#: keys read when they are set and harmless when they are not (no parameter: the feature is off).
#: Terraform writes each when its feature is on (omics_run_cache_id: the stack's omics_run_cache,
#: on by default); each says what it enables.
OPTIONAL_CONFIG_KEYS: dict[str, str] = {
    "omics_run_cache_id": "HealthOmics run cache id (call caching of the germline workflow's tasks); empty: no cache",
}

#: every key the aws profile reads: one settings read fetches exactly these
CONFIG_KEYS: dict[str, str] = {**AWS_CONFIG_KEYS, **OPTIONAL_CONFIG_KEYS}


def variable_name(key: str) -> str:
    """Airflow Variable name of a configuration key."""
    if key not in CONFIG_KEYS:
        raise KeyError(f"unknown seqflow aws config key {key!r}")
    return VARIABLE_PREFIX + key


def ssm_parameter_name(key: str, variables_prefix: str = SSM_VARIABLES_PREFIX) -> str:
    """SSM parameter name Terraform writes for a configuration key (under the secrets backend's
    ``variables_prefix``)."""
    return f"{variables_prefix.rstrip('/')}/{variable_name(key)}"


def secrets_backend_kwargs() -> dict[str, str]:
    """``[secrets] backend_kwargs`` of the SSM Parameter Store backend (MWAA: Terraform's
    ``secrets.backend_kwargs``; the image: its Dockerfile): the prefixes and the lookup patterns."""
    return {"variables_prefix": SSM_VARIABLES_PREFIX, "connections_prefix": SSM_CONNECTIONS_PREFIX,
            "variables_lookup_pattern": VARIABLES_LOOKUP_PATTERN,
            "connections_lookup_pattern": CONNECTIONS_LOOKUP_PATTERN}
