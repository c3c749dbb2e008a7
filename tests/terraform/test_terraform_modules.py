"""What each concern's module must guarantee, read from its HCL."""

from __future__ import annotations

import json

import pytest

from tf_helpers import MODULES, blocks, locals_of, parse, resources


def _text(module: str) -> str:
    return json.dumps(parse(MODULES / module / "main.tf"))


def test_network_private_subnets_span_two_azs_with_s3_gateway_and_interface_endpoints():
    network = MODULES / "network"
    variables = blocks(network, "variable")
    assert "length(var.availability_zones) >= 2" in variables["availability_zones"]["validation"][0]["condition"]
    assert set(variables["interface_endpoints"]["default"]) >= {"ecr.api", "ecr.dkr", "ecs", "ecs-agent", "ecs-telemetry",
                                                            "logs", "sts", "datasync"}
    found = resources(network)
    assert found[("aws_vpc_endpoint", "s3")]["vpc_endpoint_type"] == "Gateway"
    assert found[("aws_subnet", "private")]["map_public_ip_on_launch"] is False
    assert ("aws_flow_log", "this") in found
    assert ("aws_default_security_group", "this") in found


def test_storage_buckets_are_kms_versioned_private_tls_only_and_logged():
    storage = MODULES / "storage"
    found = resources(storage)
    assert set(locals_of(storage)["buckets"]) >= {"raw", "results", "lake", "athena_results", "scratch"}
    sse = found[("aws_s3_bucket_server_side_encryption_configuration", "this")]["rule"][0]
    assert sse["bucket_key_enabled"] is True
    assert sse["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms"
    assert found[("aws_s3_bucket_versioning", "this")]["versioning_configuration"][0]["status"] == "Enabled"
    pab = found[("aws_s3_bucket_public_access_block", "this")]
    assert all(pab[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"))
    assert ("aws_s3_bucket_logging", "this") in found
    policy = _text("storage")
    for sid in ("DenyInsecureTransport", "DenyNonKmsEncryption", "DenyForeignKmsKey"):
        assert sid in policy
    assert found[("aws_kms_key", "this")]["enable_key_rotation"] is True


def test_storage_lifecycle_archives_raw_runs_expires_scratch_and_noncurrent_versions():
    text = _text("storage")
    for needle in ('"GLACIER"', '"DEEP_ARCHIVE"', "var.raw_glacier_after_days", "var.raw_deep_archive_after_days",
                   "var.scratch_expiration_days", "var.noncurrent_version_expiration_days"):
        assert needle in text, needle


def test_datasync_task_verifies_transferred_files_and_reports():
    task = resources(MODULES / "datasync")[("aws_datasync_task", "this")]
    options = task["options"][0]
    assert options["verify_mode"] == "ONLY_FILES_TRANSFERRED"
    assert options["preserve_deleted_files"] == "PRESERVE"
    assert options["transfer_mode"] == "CHANGED"
    assert "includes" not in task, "include filters are per execution, from Airflow"
    assert task["task_report_config"][0]["s3_destination"]
    assert task["cloudwatch_log_group_arn"] == "${aws_cloudwatch_log_group.this.arn}"


def test_ecr_repositories_scan_on_push_use_kms_and_let_healthomics_pull():
    found = resources(MODULES / "ecr")
    repo = found[("aws_ecr_repository", "this")]
    assert repo["image_tag_mutability"] == "IMMUTABLE"
    assert repo["image_scanning_configuration"][0]["scan_on_push"] is True
    assert repo["encryption_configuration"][0]["encryption_type"] == "KMS"
    assert ("aws_ecr_lifecycle_policy", "this") in found
    text = _text("ecr")
    assert "omics.amazonaws.com" in text and "ecr:BatchGetImage" in text
    # one repository per image of the step catalogue (containers/<image>/steps.yaml)
    from seqflow.analysis.catalog import catalog

    assert set(blocks(MODULES / "ecr", "variable")["tools"]["default"]) == set(catalog().images)


def test_omics_workflow_and_run_group_in_a_cloudformation_stack_role_and_log_group():
    omics = MODULES / "omics"
    found = resources(omics)
    stack = found[("aws_cloudformation_stack", "this")]
    assert stack["template_body"] == "${jsonencode(local.stack_template)}"
    local = locals_of(omics)
    assert "local.cloudformation_template.Resources, local.run_cache_resources" in local["stack_template"]
    template = local["cloudformation_template"]["Resources"]
    workflow = template["Workflow"]
    assert workflow["Type"] == "AWS::Omics::Workflow"
    assert workflow["DeletionPolicy"] == "Retain" and workflow["UpdateReplacePolicy"] == "Retain"
    assert "Engine" in json.dumps(workflow) and "DefinitionUri" in json.dumps(workflow)
    group = template["RunGroup"]
    assert group["Type"] == "AWS::Omics::RunGroup"
    assert {"MaxCpus", "MaxDuration", "MaxRuns"} <= set(group["Properties"])
    # the run cache (on by default), where the DAGs' StartRun's cacheBehavior is its default
    from seqflow.aws.analysis import OMICS_CACHE_BEHAVIOR

    assert "var.run_cache" in local["run_cache_resources"] and "var.run_cache" in local["run_cache_outputs"]
    variables = blocks(omics, "variable")
    assert variables["run_cache"]["default"] is True
    assert variables["run_cache_behavior"]["default"] == OMICS_CACHE_BEHAVIOR
    assert "RunCache" in _text("omics") and "AWS::Omics::RunCache" in _text("omics")
    # the bundle is keyed by its content and refused when stale
    bundle = found[("aws_s3_object", "workflow")]
    assert bundle["key"] == "omics/${var.workflow_name}/${local.bundle_md5}.zip"
    assert bundle["lifecycle"][0]["precondition"][0]["condition"] == "${local.bundle_is_fresh}"
    assert found[("aws_cloudwatch_log_group", "this")]["name"] == "/aws/omics/WorkflowLog"
    assert "omics.amazonaws.com" in _text("omics")


def test_the_workflow_bundle_is_reproducible_and_lists_what_it_holds(tmp_path):
    import hashlib
    import importlib.util
    import zipfile

    from tf_helpers import REPO

    spec = importlib.util.spec_from_file_location("bundle", REPO / "terraform/scripts/build_workflow_bundle.py")
    bundle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bundle)
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    manifest = bundle.build(bundle.DEFAULT_WORKFLOW_DIR, first)
    bundle.build(bundle.DEFAULT_WORKFLOW_DIR, second)
    assert first.read_bytes() == second.read_bytes()
    wdl = (bundle.DEFAULT_WORKFLOW_DIR / "main.wdl").read_bytes()
    assert manifest["files"] == {"main.wdl": hashlib.md5(wdl).hexdigest()}
    assert json.loads((tmp_path / "a.zip.json").read_text()) == manifest
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == ["main.wdl"] and archive.read("main.wdl") == wdl


def test_glue_job_and_athena_workgroup():
    found = resources(MODULES / "glue_athena")
    job = found[("aws_glue_job", "this")]
    assert job["security_configuration"] == "${aws_glue_security_configuration.this.name}"
    assert blocks(MODULES / "glue_athena", "variable")["glue_version"]["default"] == "5.0"
    configuration = found[("aws_athena_workgroup", "this")]["configuration"][0]
    assert configuration["enforce_workgroup_configuration"] is True
    assert configuration["engine_version"][0]["selected_engine_version"] == "Athena engine version 3"
    assert configuration["result_configuration"][0]["encryption_configuration"][0]["encryption_option"] == "SSE_KMS"
    assert configuration["bytes_scanned_cutoff_per_query"] == "${var.bytes_scanned_cutoff_per_query}"
    assert "fileset(var.sql_dir" in json.dumps(locals_of(MODULES / "glue_athena"))
    assert ("aws_athena_named_query", "this") in found


def test_events_rules_match_failures_of_this_deployment_only_with_a_dead_letter_queue():
    events = MODULES / "events"
    rules = locals_of(events)["rules"]
    sources = {r["pattern"]["source"][0]: r["pattern"] for r in rules.values()}
    assert sources["aws.batch"]["detail"]["status"] == ["FAILED"]
    assert sources["aws.batch"]["detail"]["jobQueue"] == "${var.batch_job_queue_arns}"
    assert sources["aws.omics"]["detail"]["status"] == ["FAILED"]
    assert sources["aws.omics"]["detail"]["workflowName"] == "${var.omics_workflow_names}"
    assert sources["aws.datasync"]["detail"]["State"] == ["ERROR"]
    assert "FAILED" in sources["aws.glue"]["detail"]["state"]
    assert sources["aws.glue"]["detail"]["jobName"] == "${var.glue_job_names}"
    found = resources(events)
    assert found[("aws_sns_topic", "this")]["kms_master_key_id"]
    target = found[("aws_cloudwatch_event_target", "this")]
    assert target["dead_letter_config"][0]["arn"] == "${aws_sqs_queue.dead_letter.arn}"
    assert found[("aws_sqs_queue", "dead_letter")]["kms_master_key_id"] == "${aws_kms_key.this.arn}"


def test_monitoring_alarms_and_glue_log_groups_are_named_after_the_glue_module():
    monitoring = MODULES / "monitoring"
    text = _text("monitoring")
    for alarm in ("batch_jobs_failed", "batch_runnable_stuck", "glue_job_runs_failed", "mwaa_scheduler_heartbeat"):
        assert alarm in text, alarm
    for metric in ("BatchJobsFailed", "BatchQueueBlocked", "GlueJobRunsFailed", "SchedulerHeartbeat"):
        assert metric in text, metric
    # the stack names the Glue log groups after glue_athena's security configuration and role
    glue = resources(MODULES / "glue_athena")
    call = [m["monitoring"] for m in parse(MODULES.parent / "stack" / "main.tf")["module"] if "monitoring" in m][0]
    config_name = glue[("aws_glue_security_configuration", "this")]["name"].replace("var.name_prefix", "local.name_prefix")
    role_name = glue[("aws_iam_role", "this")]["name"].replace("var.name_prefix", "local.name_prefix")
    assert call["glue_security_configuration_name"] == config_name
    assert call["glue_role_name"] == role_name


def test_mwaa_and_every_other_log_group_has_retention():
    for module in sorted(p for p in MODULES.iterdir() if p.is_dir()):
        for (rtype, name), body in resources(module).items():
            if rtype == "aws_cloudwatch_log_group":
                assert body.get("retention_in_days"), f"{module.name}: log group {name} has no retention"
    mwaa_groups = resources(MODULES / "airflow")[("aws_cloudwatch_log_group", "mwaa")]
    assert mwaa_groups["name"] == "airflow-${local.mwaa_name}-${each.key}"
    assert set(locals_of(MODULES / "airflow")["mwaa_log_types"]) == {"DAGProcessing", "Scheduler", "Task", "WebServer", "Worker"}


def test_cost_budget_alerts_and_cost_allocation_tags():
    found = resources(MODULES / "cost")
    budget = found[("aws_budgets_budget", "this")]
    assert budget["notification"], "the budget must alert"
    assert set(locals_of(MODULES / "cost")["cost_allocation_tags"]) == {"project", "run_id", "sample_id", "pipeline_version"}
    # opt-in everywhere: activation fails for tag keys Billing has not seen
    assert blocks(MODULES / "cost", "variable")["activate_cost_allocation_tags"]["default"] is False
    from tf_helpers import ENVS

    for env in sorted(ENVS.iterdir()):
        assert parse(env / "terraform.tfvars").get("activate_cost_allocation_tags", False) is False, env.name
    # the Budgets API's spelling user:<key>$<value>, rendered by format() (not a literal "${...}")
    assert 'format("user:project$%s", var.project)' in (MODULES / "cost" / "main.tf").read_text()


def test_mwaa_is_private_versioned_and_logs_to_cloudwatch():
    found = resources(MODULES / "airflow")
    mwaa = found[("aws_mwaa_environment", "this")]
    assert mwaa["webserver_access_mode"] == "PRIVATE_ONLY"
    logging = mwaa["logging_configuration"][0]
    assert all(logging[k][0]["enabled"] is True for k in logging)
    assert found[("aws_s3_bucket_versioning", "dags")]["versioning_configuration"][0]["status"] == "Enabled"
    version = blocks(MODULES / "airflow", "variable")["mwaa_airflow_version"]["default"]
    assert version.startswith("3.")


def test_glue_job_gets_the_converters_deployment_arguments():
    job = resources(MODULES / "glue_athena")[("aws_glue_job", "this")]
    arguments = json.dumps(job["default_arguments"])
    for name in ("--lake_uri", "--database", "--bcftools_uri", "--additional-python-modules", "--extra-py-files",
                 "--parallel", "--TempDir"):
        assert name in arguments, name
    # the slim package under a content-hashed key
    package = resources(MODULES / "glue_athena")[("aws_s3_object", "packages")]
    assert "filesha256(each.value)" in package["key"]
    # manifests and results live under <lake>/_manifests/: the lake needs a key prefix
    lake_prefix = blocks(MODULES / "glue_athena", "variable")["lake_prefix"]["default"]
    assert lake_prefix and lake_prefix.endswith("/")


def test_env_glue_modules_are_the_slim_packages_pins_and_the_zip():
    glue_package = pytest.importorskip("seqflow.glue.package")
    from tf_helpers import ENVS

    pins = glue_package.requirements()  # from the lock, for what the job's modules import
    for env in sorted(ENVS.iterdir()):
        tfvars = parse(env / "terraform.tfvars")
        assert tfvars["glue_additional_python_modules"] == pins, env.name
        # the slim zip, never the seqflow wheel (Airflow, provider, pysam, duckdb)
        assert tfvars["glue_wheel_files"] == ["dist/glue/seqflow-glue.zip"], env.name
