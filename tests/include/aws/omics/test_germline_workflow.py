"""The HealthOmics germline workflow: valid WDL 1.0, a matching parameter template, ECR-ready tasks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import WDL

REPO = Path(__file__).resolve().parents[4]
WORKFLOW_DIR = REPO / "include" / "seqflow" / "workflows" / "germline"
MAIN_WDL = WORKFLOW_DIR / "main.wdl"
# the project's venv first; else the miniwdl beside the interpreter running the tests
MINIWDL = next(
    (p for p in (REPO / ".venv" / "bin" / "miniwdl", Path(sys.executable).parent / "miniwdl") if p.exists()),
    Path(shutil.which("miniwdl") or "miniwdl"),
)


@pytest.fixture(scope="module")
def document() -> WDL.Document:
    return WDL.load(str(MAIN_WDL))


def test_miniwdl_check_passes_strictly():
    result = subprocess.run(
        [str(MINIWDL), "check", "--strict", "--suppress", "CommandShellCheck", str(MAIN_WDL)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for task in ("fastp_qc", "align", "call_variants", "bam_stats", "vcf_stats"):
        assert f"call {task}" in result.stdout


def test_is_wdl_1_0(document):
    assert document.wdl_version == "1.0"
    assert document.workflow.name == "germline"


def test_parameter_template_describes_exactly_the_workflow_inputs(document):
    template = json.loads((WORKFLOW_DIR / "parameters.json").read_text())
    inputs = {decl.name: decl for decl in document.workflow.inputs}
    assert set(template) == set(inputs)
    for name, decl in inputs.items():
        optional = decl.type.optional or decl.expr is not None
        assert template[name]["optional"] is optional, name
        assert template[name]["description"].strip(), name


def test_required_inputs_are_the_sample_reference_and_images(document):
    required = {decl.name for decl in document.workflow.inputs if not decl.type.optional and decl.expr is None}
    assert required == {
        "sample_id",
        "fastq_r1",
        "fastq_r2",
        "reference_fasta",
        "reference_fai",
        "reference_amb",
        "reference_ann",
        "reference_bwt",
        "reference_pac",
        "reference_sa",
        "fastp_image",
        "bwa_image",
        "samtools_image",
        "bcftools_image",
    }


def test_every_task_runs_an_input_image_with_cpu_and_memory(document):
    for task in document.tasks:
        assert {"docker", "cpu", "memory"} <= set(task.runtime), task.name
        docker = task.runtime["docker"]
        # the image comes from an input (an ECR URI), never a literal baked into the WDL
        assert isinstance(docker, WDL.Expr.Get), task.name
        assert str(docker.expr) == "docker_image", task.name


def test_workflow_outputs(document):
    outputs = {decl.name for decl in document.workflow.outputs}
    assert {"bam", "bai", "vcf", "vcf_index", "fastp_json", "samtools_stats", "bcftools_stats"} <= outputs


def test_pipeline_order(document):
    """fastp -> align -> call -> stats, wired through task outputs."""
    wdl = MAIN_WDL.read_text()
    assert "fastq_r1 = fastp_qc.trimmed_r1" in wdl
    assert "bam = align.bam" in wdl
    assert "vcf = call_variants.vcf" in wdl
    assert "samtools fixmate -m" in wdl and "samtools markdup" in wdl
    assert "bcftools mpileup" in wdl and "bcftools call" in wdl and "bcftools norm" in wdl
