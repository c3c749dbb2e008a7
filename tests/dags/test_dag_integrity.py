"""Every DAG file imports cleanly and follows the house rules (tags, retries, docs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqflow.config import REPO_ROOT

DAG_FOLDER = REPO_ROOT / "dags"


@pytest.fixture(scope="module")
def dagbag():
    from seqflow.compat import DagBag  # its module moved after Airflow 3.0.6 (MWAA)

    return DagBag(dag_folder=str(DAG_FOLDER))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_expected_dags_present(dagbag):
    assert {"seqflow_daily_ingest", "seqflow_analysis"} <= set(dagbag.dag_ids)
    # every DAG file defines one DAG; the run-events and launch-upload DAGs only where their queue is
    # configured (aws: tests/include/aws/test_run_events.py and tests/e2e/test_aws_launch_uploads.py build them)
    optional = {"seqflow_run_events", "seqflow_launch_uploads"}
    assert set(dagbag.dag_ids) == {p.stem for p in DAG_FOLDER.glob("*.py")} - optional


def test_every_dag_has_tags_docs_and_retries(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags and "seqflow" in dag.tags, dag_id
        assert dag.doc_md and len(dag.doc_md) > 200, f"{dag_id} has no Markdown docs"
        for task in dag.tasks:
            assert task.on_failure_callback, f"{dag_id}.{task.task_id} has no failure alert"
            if task.task_id not in ("plan", "trigger_analysis"):  # these two opt out on purpose
                assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


def test_dag_files_are_thin():
    """DAG files wire tasks; logic lives in include/seqflow (no subprocess, no file I/O at top level)."""
    for path in DAG_FOLDER.glob("*.py"):
        text = path.read_text()
        for forbidden in ("subprocess", "open(", "boto3", "Variable.get"):
            assert forbidden not in text, f"{path.name} uses {forbidden}"


def test_analysis_params_form_rejects_bad_input(dagbag):
    from airflow.sdk.definitions.param import ParamValidationError

    params = dagbag.dags["seqflow_analysis"].params
    assert params.get_param("aligner").resolve("minimap2") == "minimap2"
    assert params.get_param("reference").resolve("GRCh38.p14") == "GRCh38.p14"  # any registered name
    assert params.get_param("reference").resolve(None) is None  # the sheet's mapping, else the default
    for name, bad in [("run_id", "../../etc/passwd"), ("aligner", "bowtie"), ("samples", ["../x"]),
                      ("reference", "../etc"), ("reference", "a/b"), ("reference", "a..b"), ("engine", "batch")]:
        with pytest.raises(ParamValidationError):
            params.get_param(name).resolve(bad)


def test_wiring(dagbag):
    analysis = dagbag.dags["seqflow_analysis"]
    assert analysis.schedule is None and dagbag.dags["seqflow_daily_ingest"].schedule == "@daily"
    order = ["sample.requests", "sample.fastp", "scatter_reads", "align_chunks", "sample.align", "scatter_calls",
             "call_shards", "sample.call_variants", "sample.vcf_stats", "samples_done", "collect_vcfs", "converter_args",
             "convert_to_parquet"]
    for upstream, downstream in zip(order, order[1:]):
        assert downstream in analysis.get_task(upstream).downstream_task_ids
    # the BAM's QC runs beside the calling, after the alignment
    assert analysis.get_task("sample.align").downstream_task_ids >= {"sample.bam_qc", "scatter_calls"}
    assert "samples_done" in analysis.get_task("sample.bam_qc").downstream_task_ids
    ingest = dagbag.dags["seqflow_daily_ingest"]
    assert ingest.get_task("transfer_runs").pool == "datasync"
    assert ingest.max_active_runs == 1
    trigger = ingest.get_task("trigger_analysis")
    assert trigger.partial_kwargs["trigger_dag_id"] == "seqflow_analysis"
