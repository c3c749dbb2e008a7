"""What the Terraform plans must provide, derived from the code (not restated).

* ``expected_ssm_names``: every key the aws profile requires
  (``seqflow.aws.config_keys.AWS_CONFIG_KEYS``) -> ``ssm_parameter_name(key)``.
* ``expected_optional_ssm_names``: the keys read when they are set
  (``OPTIONAL_CONFIG_KEYS``, such as the HealthOmics run cache), which both
  environments write.
* ``expected_omics_cache_behavior``: ``seqflow.aws.analysis.OMICS_CACHE_BEHAVIOR``.
* ``expected_secrets_backend_kwargs``: the SSM secrets backend's prefixes and
  lookup patterns (``seqflow.aws.config_keys.secrets_backend_kwargs()``).
* ``expected_completion_flags``: the completion flags (``seqflow.config``), whose
  arrival in the raw bucket the run-events rule matches.
* ``expected_launch_prefix``: the launch prefix of the raw bucket
  (``seqflow.aws.launch_uploads.DEFAULT_LAUNCH_PREFIX``), whose uploads the launch rule matches.
* ``expected_iam_actions``: the IAM actions behind every AWS call the DAGs and
  ``include/seqflow/aws`` make. The calls are found in the source (an AST scan
  for method calls that are botocore operations of the services the code uses,
  for the Amazon provider's hook methods, and for the provider operators and
  sensors the code imports, with the tag-on-create actions of operators given
  ``tags=``); each maps to its IAM action(s) below. A call that
  no table knows fails the scan, so a new AWS call cannot go unnoticed.

``python3 tests/terraform/tf_expectations.py`` prints both as a tfvars JSON for
``terraform test -var-file=...`` (terraform/envs/<env>/tests).
"""

from __future__ import annotations

import ast
import json
import sys
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "include"))

#: where the Airflow side's AWS calls live (Glue job scripts and container
#: entrypoints run under their own roles, not the execution role)
SOURCES = [REPO / "dags", REPO / "plugins", REPO / "include" / "seqflow" / "aws"]

#: botocore service -> IAM prefix, for the services Airflow calls
SERVICES = {"s3": "s3", "batch": "batch", "omics": "omics", "glue": "glue", "athena": "athena",
            "dynamodb": "dynamodb", "sns": "sns", "datasync": "datasync", "ssm": "ssm", "logs": "logs"}

#: S3 authorises operations by actions of other names (HeadObject is s3:GetObject, ...)
S3_ACTIONS = {
    "head_object": ["s3:GetObject"], "get_object": ["s3:GetObject"], "download_file": ["s3:GetObject"],
    "put_object": ["s3:PutObject"], "upload_file": ["s3:PutObject", "s3:AbortMultipartUpload"],
    "copy_object": ["s3:GetObject", "s3:PutObject"], "delete_objects": ["s3:DeleteObject"],
    "delete_object": ["s3:DeleteObject"], "restore_object": ["s3:RestoreObject"],
    "list_objects_v2": ["s3:ListBucket"], "list_objects": ["s3:ListBucket"],
    "get_object_attributes": ["s3:GetObjectAttributes"],
}

#: methods of the Amazon provider's hooks -> the API calls they make
HOOK_METHODS = {
    # S3Hook
    "read_key": ["s3:GetObject"], "list_keys": ["s3:ListBucket"], "list_prefixes": ["s3:ListBucket"],
    "load_string": ["s3:PutObject"], "load_bytes": ["s3:PutObject"], "load_file": ["s3:PutObject"],
    "check_for_key": ["s3:GetObject"], "get_key": ["s3:GetObject"], "check_for_prefix": ["s3:ListBucket"],
    # AthenaHook, SnsHook
    "get_query_results_paginator": ["athena:GetQueryResults"], "run_query": ["athena:StartQueryExecution"],
    "check_query_status": ["athena:GetQueryExecution"], "publish_to_target": ["sns:Publish"],
    # the project's OmicsHook (include/seqflow/aws/omics/hooks.py: GetRun polls, StartRun tags the run)
    "wait_for_run": ["omics:GetRun"], "get_run_state": ["omics:GetRun"],
}

#: boto3 methods that exist in several services or are resource-level helpers: the service is set here
AMBIGUOUS = {
    "get_paginator": [],  # the paginated operation is the one named in its argument (found separately)
    "start_run": ["omics:StartRun", "omics:TagResource"], "get_run": ["omics:GetRun"],
    "cancel_run": ["omics:CancelRun"], "get_item": ["dynamodb:GetItem"], "put_item": ["dynamodb:PutItem"],
    "update_item": ["dynamodb:UpdateItem"], "query": ["dynamodb:Query"], "scan": ["dynamodb:Scan"],
    "delete_item": ["dynamodb:DeleteItem"], "list_jobs": ["batch:ListJobs"],
}

#: method names that are botocore operations somewhere but are no AWS call where the code uses them
NOT_AWS_CALLS = {"create_session"}  # SessionFactory.create_session (a boto3 session, no request)

#: provider operators, sensors and triggers the code uses -> what they call
PROVIDER_CLASSES = {
    "DataSyncOperator": ["datasync:DescribeTask", "datasync:StartTaskExecution",
                         "datasync:DescribeTaskExecution", "datasync:CancelTaskExecution"],
    "BatchOperator": ["batch:SubmitJob", "batch:DescribeJobs", "batch:TerminateJob", "logs:GetLogEvents"],
    "GlueJobOperator": ["glue:StartJobRun", "glue:GetJobRun"],
    # seqflow.aws.glue_reattach defers on it for the run it reattached to
    "GlueJobCompleteTrigger": ["glue:GetJobRun"],
    "S3KeySensor": ["s3:GetObject", "s3:ListBucket"],
    "AthenaOperator": ["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:StopQueryExecution"],
    "SystemsManagerParameterStoreBackend": ["ssm:GetParameter"],
    # the run-events asset watcher (include/seqflow/aws/events.py): ReceiveMessage, DeleteMessageBatch
    "SqsSensorTrigger": ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
}

#: operators whose create call carries the caller's tags when given ``tags=``: AWS authorises tags on
#: create as the TagResource action too (SubmitJob with tags is denied without batch:TagResource), so
#: a call of such a class (or a subclass named after it), or of such a boto3 method, with ``tags=`` or
#: with ``**request`` (a request dict may carry ``tags``) needs these actions
TAGGED_CREATES = {"BatchOperator": ["batch:TagResource"], "submit_job": ["batch:TagResource"]}

#: imported provider names that make no AWS call of their own (bases, helpers, exceptions)
NO_CALLS = {"AwsBaseHook", "AwsBaseOperator", "AwsBaseSensor", "AwsBaseWaiterTrigger", "SessionFactory",
            "AwsConnectionWrapper", "WaiterTerminalFailure", "BASE_AWS_CONSOLE_LINK", "BaseAwsLink",
            "validate_execute_complete_event", "aws_template_fields", "RETRIABLE_ERROR_CODES", "wait",
            "S3Hook", "AthenaHook", "DynamoDBHook", "SnsHook", "BatchClientHook", "EcsHook", "SqsSensorTrigger"}


@lru_cache(maxsize=None)
def _operations() -> dict[str, set[str]]:
    """snake_case method name -> the services (of SERVICES) that have it as an operation."""
    import botocore.session
    from botocore import xform_name

    session = botocore.session.get_session()
    found: dict[str, set[str]] = {}
    for service in SERVICES:
        for operation in session.get_service_model(service).operation_names:
            found.setdefault(xform_name(operation), set()).add(service)
    return found


def _operation_name(service: str, method: str) -> str:
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    return next(o for o in model.operation_names if xform_name(o) == method)


def _python_files() -> list[Path]:
    return sorted(p for root in SOURCES if root.is_dir() for p in root.rglob("*.py"))


def calls_in_code() -> dict[str, set[str]]:
    """IAM action -> where the code needs it ("file:line call")."""
    needed: dict[str, set[str]] = {}
    unknown: list[str] = []

    def need(actions, where):
        for action in actions:
            needed.setdefault(action, set()).add(where)

    operations = _operations()
    for path in _python_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        rel = path.relative_to(REPO)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("airflow.providers.amazon"):
                for alias in node.names:
                    if alias.name in PROVIDER_CLASSES:
                        need(PROVIDER_CLASSES[alias.name], f"{rel}:{node.lineno} {alias.name}")
                    elif alias.name not in NO_CALLS:
                        unknown.append(f"{rel}:{node.lineno}: imported {alias.name} from {node.module}")
            if isinstance(node, ast.Call) and any(k.arg in ("tags", None) for k in node.keywords):
                callee = getattr(node.func, "id", None) or getattr(node.func, "attr", "")
                for cls, actions in TAGGED_CREATES.items():
                    if callee.endswith(cls):
                        need(actions, f"{rel}:{node.lineno} {callee}(tags=...)")
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            method, where = node.func.attr, f"{rel}:{node.lineno} .{node.func.attr}()"
            if method == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
                method = node.args[0].value
            if method in NOT_AWS_CALLS:
                continue
            if method in S3_ACTIONS:
                need(S3_ACTIONS[method], where)
            elif method in HOOK_METHODS:
                need(HOOK_METHODS[method], where)
            elif method in AMBIGUOUS:
                need(AMBIGUOUS[method], where)
            elif method in operations:
                services = operations[method]
                if len(services) > 1:
                    unknown.append(f"{where}: operation of {sorted(services)}; name its service in AMBIGUOUS")
                    continue
                (service,) = services
                if service == "s3":
                    unknown.append(f"{where}: S3 operation without its IAM action in S3_ACTIONS")
                    continue
                need([f"{SERVICES[service]}:{_operation_name(service, method)}"], where)
    if unknown:
        raise LookupError("AWS calls the tables of tests/terraform/tf_expectations.py do not know:\n"
                          + "\n".join(unknown))
    return needed


def expected_iam_actions() -> list[str]:
    return sorted(calls_in_code())


def expected_ssm_names() -> dict[str, str]:
    from seqflow.aws import config_keys

    return {key: config_keys.ssm_parameter_name(key) for key in config_keys.AWS_CONFIG_KEYS}


def expected_optional_ssm_names() -> dict[str, str]:
    """The keys read when set (``OPTIONAL_CONFIG_KEYS``): both environments turn their features on."""
    from seqflow.aws import config_keys

    return {key: config_keys.ssm_parameter_name(key) for key in config_keys.OPTIONAL_CONFIG_KEYS}


def expected_omics_cache_behavior() -> str:
    """The cache behaviour the DAGs start HealthOmics runs with (the run cache's default)."""
    from seqflow.aws.analysis import OMICS_CACHE_BEHAVIOR

    return OMICS_CACHE_BEHAVIOR


def expected_secrets_backend_kwargs() -> dict[str, str]:
    from seqflow.aws import config_keys

    return config_keys.secrets_backend_kwargs()


def expected_completion_flags() -> list[str]:
    from seqflow.config import DEFAULT_COMPLETION_FLAGS

    return list(DEFAULT_COMPLETION_FLAGS)


def expected_launch_prefix() -> str:
    from seqflow.aws.launch_uploads import DEFAULT_LAUNCH_PREFIX

    return DEFAULT_LAUNCH_PREFIX


def expectations() -> dict:
    """The tfvars of terraform/envs/<env>/tests/plan.tftest.hcl."""
    return {"expected_ssm_names": expected_ssm_names(), "expected_iam_actions": expected_iam_actions(),
            "expected_optional_ssm_names": expected_optional_ssm_names(),
            "expected_completion_flags": expected_completion_flags(),
            "expected_launch_prefix": expected_launch_prefix(),
            "expected_omics_cache_behavior": expected_omics_cache_behavior(),
            "expected_secrets_backend_kwargs": expected_secrets_backend_kwargs()}


if __name__ == "__main__":
    json.dump(expectations(), sys.stdout, indent=2, sort_keys=True)
    print()
