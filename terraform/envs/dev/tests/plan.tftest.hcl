# Plans the dev environment with a mocked aws provider (no account, no
# network) and checks the resources that matter. Run by
# tests/terraform/test_terraform_cli.py, which passes the expectations derived
# from the code (var.expected_ssm_keys: seqflow.aws.config_keys;
# var.expected_iam_actions: the AWS calls of dags/ and include/seqflow/aws;
# var.expected_secrets_backend_kwargs: config_keys.secrets_backend_kwargs();
# var.expected_omics_cache_behavior: seqflow.aws.analysis.OMICS_CACHE_BEHAVIOR):
#   python3 tests/terraform/tf_expectations.py > /tmp/expected.json
#   terraform -chdir=terraform/envs/dev test -var-file=/tmp/expected.json
# (the plan reads the Glue artifacts and the workflow bundle: build them first,
# docs/aws.md)

mock_provider "aws" {
  # computed values are generated at plan time, so that everything is known
  override_during = plan

  mock_data "aws_region" {
    defaults = { id = "eu-west-1", name = "eu-west-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111111111111" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  # computed values the assertions compare (the mock leaves them null otherwise)
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000" }
  }
  # the provider validates policies; the mock's rendering only has to be JSON
  mock_data "aws_iam_policy_document" {
    defaults = {
      json          = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
      minified_json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

override_resource {
  target          = module.seqflow.module.batch.aws_batch_compute_environment.spot
  override_during = plan
  values          = { arn = "arn:aws:batch:eu-west-1:111111111111:compute-environment/spot" }
}

override_resource {
  target          = module.seqflow.module.batch.aws_batch_compute_environment.on_demand
  override_during = plan
  values          = { arn = "arn:aws:batch:eu-west-1:111111111111:compute-environment/on-demand" }
}

override_data {
  target = module.seqflow.module.network.data.aws_availability_zones.selected
  values = { names = ["eu-west-1a", "eu-west-1b"] }
}

run "plan" {
  command = plan

  # ------------------------------------------------------------ buckets
  assert {
    condition     = toset(keys(output.bucket_security)) == toset(["raw", "results", "lake", "athena_results", "scratch", "artifacts"])
    error_message = "Data buckets: ${jsonencode(keys(output.bucket_security))}"
  }
  assert {
    condition = alltrue([for k, b in output.bucket_security :
    b.sse_algorithm == "aws:kms" && b.kms_master_key_id != null && b.kms_master_key_id != "" && b.bucket_key_enabled])
    error_message = "Every data bucket must default to SSE-KMS with the data key and bucket keys: ${jsonencode({ for k, b in output.bucket_security : k => [b.sse_algorithm, b.bucket_key_enabled] })}"
  }
  assert {
    condition     = alltrue([for k, b in output.bucket_security : b.versioning == "Enabled" && b.public_access_blocked])
    error_message = "Every data bucket must be versioned and block public access."
  }
  assert {
    condition = alltrue([for k, b in output.bucket_security : anytrue([for s in b.policy_statements :
      s.effect == "Deny" && contains(s.actions, "s3:*") &&
    contains([for c in s.conditions : jsonencode(c)], jsonencode({ test = "Bool", values = ["false"], variable = "aws:SecureTransport" }))])])
    error_message = "Every data bucket policy must deny any request without TLS."
  }
  assert {
    condition = alltrue([for k, b in output.bucket_security : anytrue([for s in b.policy_statements :
      s.effect == "Deny" && contains(s.actions, "s3:*") &&
    contains([for c in s.conditions : jsonencode(c)], jsonencode({ test = "NumericLessThan", values = ["1.2"], variable = "s3:TlsVersion" }))])])
    error_message = "Every data bucket policy must deny TLS older than 1.2."
  }
  assert {
    condition = alltrue([for k, b in output.bucket_security : anytrue([for s in b.policy_statements :
    s.effect == "Deny" && contains(s.actions, "s3:PutObject") && anytrue([for c in s.conditions : c.variable == "s3:x-amz-server-side-encryption" && jsonencode(c.values) == jsonencode(["aws:kms"])])])])
    error_message = "Every data bucket policy must deny uploads that name an encryption other than SSE-KMS."
  }

  # ------------------------------------------------------------ Batch
  assert {
    condition     = output.batch_job_queue_capacity_order.default == ["SPOT", "EC2"]
    error_message = "The default queue must try Spot first and fall back to On-Demand: ${jsonencode(output.batch_job_queue_capacity_order.default)}"
  }
  assert {
    condition     = output.batch_job_queue_capacity_order.priority == ["EC2"]
    error_message = "The priority queue must be On-Demand only: ${jsonencode(output.batch_job_queue_capacity_order.priority)}"
  }
  assert {
    condition     = output.batch_ecs_agent_config.ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION == "5m"
    error_message = "Stopped job containers (and their scratch) must be cleaned up after minutes, not the ECS default of 3 h."
  }

  # ------------------------------------------------------------ what Airflow reads and calls
  # every key the code reads, the optional ones too (the run cache is on in this environment)
  assert {
    condition     = toset(keys(output.ssm_parameter_names)) == setunion(keys(var.expected_ssm_names), keys(var.expected_optional_ssm_names))
    error_message = "SSM keys written and read differ: written only ${jsonencode(setsubtract(keys(output.ssm_parameter_names), setunion(keys(var.expected_ssm_names), keys(var.expected_optional_ssm_names))))}, read only ${jsonencode(setsubtract(setunion(keys(var.expected_ssm_names), keys(var.expected_optional_ssm_names)), keys(output.ssm_parameter_names)))}"
  }
  assert {
    condition     = alltrue([for k, name in merge(var.expected_ssm_names, var.expected_optional_ssm_names) : lookup(output.ssm_parameter_names, k, null) == name])
    error_message = "SSM parameter names differ from seqflow.aws.config_keys.ssm_parameter_name()."
  }
  assert {
    condition     = output.omics_run_cache != null && output.omics_run_cache.type == "AWS::Omics::RunCache"
    error_message = "The HealthOmics run cache whose id seqflow_omics_run_cache_id holds must be created (AWS::Omics::RunCache in the omics stack): ${jsonencode(output.omics_run_cache)}"
  }
  assert {
    condition     = output.omics_run_cache.behavior == var.expected_omics_cache_behavior
    error_message = "The run cache's default behaviour must be the one the DAGs start runs with (seqflow.aws.analysis.OMICS_CACHE_BEHAVIOR)."
  }
  assert {
    condition     = jsonencode(jsondecode(output.airflow_secrets_backend_kwargs)) == jsonencode(var.expected_secrets_backend_kwargs)
    error_message = "The SSM secrets backend's prefixes and lookup patterns differ from seqflow.aws.config_keys.secrets_backend_kwargs(): ${output.airflow_secrets_backend_kwargs}"
  }
  assert {
    condition     = length(setsubtract(var.expected_iam_actions, output.airflow_execution_role_actions)) == 0
    error_message = "The Airflow execution role does not allow calls the code makes: ${jsonencode(setsubtract(var.expected_iam_actions, output.airflow_execution_role_actions))}"
  }

  # ------------------------------------------------------------ run events
  assert {
    condition     = [for k in output.run_events_flag_keys : k.wildcard] == [for f in var.expected_completion_flags : "runs/*/${f}"]
    error_message = "The run-events rule must match the code's completion flags directly inside a raw run folder: ${jsonencode(output.run_events_flag_keys)}"
  }
  assert {
    condition     = contains(output.airflow_execution_role_actions, "sqs:ReceiveMessage") && contains(output.airflow_execution_role_actions, "sqs:DeleteMessage")
    error_message = "The execution role must receive and delete the run-events queue's messages."
  }
  assert {
    condition     = output.launch_prefix == var.expected_launch_prefix
    error_message = "Launch files go under the code's launch prefix (seqflow.aws.launch_uploads.DEFAULT_LAUNCH_PREFIX) of the raw bucket: ${output.launch_prefix}"
  }

  # ------------------------------------------------------------ alerts and alarms
  assert {
    condition     = !strcontains(jsonencode(output.alert_rule_patterns), "COMPLETED") && !strcontains(jsonencode(output.alert_rule_patterns), "SUCCEEDED")
    error_message = "Alert rules must match failures only."
  }
  assert {
    condition     = output.alert_rule_patterns.omics_run_failed.detail.status == ["FAILED"] && length(output.alert_rule_patterns.omics_run_failed.detail.workflowName) == 1
    error_message = "The HealthOmics alert must match FAILED runs of this deployment's workflow only."
  }
  assert {
    condition     = output.alert_rule_patterns.batch_job_failed.detail.status == ["FAILED"] && length(output.alert_rule_patterns.batch_job_failed.detail.jobQueue) == 2
    error_message = "The Batch alert must match FAILED jobs of this deployment's two queues only."
  }
  assert {
    condition     = length(setsubtract(["batch_jobs_failed", "batch_runnable_stuck", "glue_job_runs_failed"], keys(output.alarm_names))) == 0
    error_message = "Missing alarms: ${jsonencode(setsubtract(["batch_jobs_failed", "batch_runnable_stuck", "glue_job_runs_failed"], keys(output.alarm_names)))}"
  }
}
