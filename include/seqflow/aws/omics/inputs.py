"""The inputs of the HealthOmics germline workflow, from the step catalogue.

The workflow (``seqflow/workflows/germline/main.wdl``) runs the same step
scripts as Batch and the local profile, one WDL task per step implementation
(``fastp``, ``align_bwa``, ``align_minimap2``, ``call_variants_bcftools``,
``bam_qc``, ``vcf_stats``). Its inputs follow from the catalogue
(``containers/<tool>/steps.yaml``):

* ``sample_id``, ``aligner``, ``caller``;
* each input from outside the pipeline (:data:`seqflow.analysis.catalog.SOURCES`):
  ``fastq_r1``, ``fastq_r2``, ``reference_fasta``, ``reference_ploidy``;
* each file that must lie beside the reference FASTA: ``reference_<output>`` of
  the ``index_reference`` step (``reference_fai``, ``reference_amb``, ...,
  ``reference_mmi``);
* ``<image>_image``: the ECR URI of each tool image;
* ``<step id>_cpu`` and ``<step id>_memory_gb``, defaulting to the catalogue's resources.

An input is required when every aligner and caller needs it; the others
(one aligner's index, its image) are optional, and :func:`start_run_parameters`
gives exactly those the sample's aligner and caller need.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from seqflow.analysis.catalog import SOURCES, Step, StepCatalog, catalog
from seqflow.paths import check_sample_id


@dataclass(frozen=True)
class WorkflowInput:
    """One input of the germline workflow."""

    name: str
    #: WDL type without the ``?``: File, String or Int
    type: str
    required: bool
    default: int | str | None = None
    description: str = ""


def companion_input(source: str, output: str) -> str:
    """Workflow input of a file beside an external input: ``reference_fai`` beside ``reference.fasta``."""
    return f"{source.split('.', 1)[0]}_{output}"


def image_input(image: str) -> str:
    return f"{image}_image"


def resource_inputs(impl: Step) -> dict[str, int]:
    """``<id>_cpu`` and ``<id>_memory_gb`` of one task, with the catalogue's values."""
    return {f"{impl.id}_cpu": impl.resources.vcpus, f"{impl.id}_memory_gb": impl.resources.memory_mib // 1024}


def _needs(impl: Step) -> dict[str, tuple[str, str]]:
    """Workflow inputs (from outside the pipeline) one task reads: name -> (type, description)."""
    needs: dict[str, tuple[str, str]] = {}
    for inp in impl.inputs.values():
        if not inp.external:
            continue
        source = SOURCES[inp.source]
        needs[source.workflow_input] = ("File", _DESCRIPTIONS.get(inp.source, inp.source))
        for comp in inp.companions:
            needs[companion_input(inp.source, comp.output)] = (
                "File", f"S3 URI of the reference's {comp.suffix} file (step {comp.step}), beside the FASTA")
    needs[image_input(impl.image)] = ("String", f"ECR URI of the {impl.image} image")
    return needs


_DESCRIPTIONS = {
    "sample.r1": "S3 URI of the read 1 FASTQ (gzipped)",
    "sample.r2": "S3 URI of the read 2 FASTQ (gzipped)",
    "reference.fasta": "S3 URI of the reference genome FASTA",
    "reference.ploidy": "S3 URI of the reference's bcftools ploidy file <name>.ploidy (CHROM FROM TO SEX PLOIDY)",
}


def _when(selections: set[tuple[str, str]], cat: StepCatalog) -> str:
    """' (required when aligner is bwa)' for an input only some aligners or callers need."""
    aligners = sorted({a for a, _ in selections})
    callers = sorted({c for _, c in selections})
    parts = []
    if len(aligners) < len(cat.aligners):
        parts.append(f"aligner is {' or '.join(aligners)}")
    if len(callers) < len(cat.callers):
        parts.append(f"caller is {' or '.join(callers)}")
    return f"; required when {' and '.join(parts)}" if parts else ""


def workflow_inputs(cat: StepCatalog | None = None) -> dict[str, WorkflowInput]:
    """Every input the germline workflow declares, derived from the catalogue."""
    cat = cat or catalog()
    selections = [(a, c) for a in cat.aligners for c in cat.callers]
    inputs: dict[str, WorkflowInput] = {
        "sample_id": WorkflowInput("sample_id", "String", True, description=(
            "Sample_ID from the sample sheet: letters, digits, '_' and '-', starting with a letter or digit")),
        "aligner": WorkflowInput("aligner", "String", True, description=f"one of {', '.join(cat.aligners)}"),
        "caller": WorkflowInput("caller", "String", True, description=f"one of {', '.join(cat.callers)}"),
    }
    needed_by: dict[str, set[tuple[str, str]]] = {}
    kinds: dict[str, tuple[str, str]] = {}
    for selection in selections:
        for impl in cat.sample_steps(*selection):
            for name, kind in _needs(impl).items():
                needed_by.setdefault(name, set()).add(selection)
                kinds[name] = kind
    for name in needed_by:
        type_, description = kinds[name]
        required = needed_by[name] == set(selections)
        description += "" if required else _when(needed_by[name], cat)
        inputs[name] = WorkflowInput(name, type_, required, description=description)
    for impl in cat.steps:
        if impl.scope == "sample":
            for name, value in resource_inputs(impl).items():
                what = "vCPUs" if name.endswith("_cpu") else "GiB of memory"
                inputs[name] = WorkflowInput(name, "Int", False, value, f"{what} of task {impl.id} (default {value})")
    return inputs


def start_run_parameters(job: Mapping[str, Any], images: Mapping[str, str] | None) -> dict[str, Any]:
    """The StartRun ``parameters`` of one sample: the workflow inputs its aligner and caller need.

    ``job`` is a sample job of :func:`seqflow.aws.analysis.sample_jobs` (S3 URIs:
    ``sample_id``, ``aligner``, ``caller``, ``r1``, ``r2``, ``reference_fasta``,
    ``ploidy_file``). ``images`` maps ``<image>_image`` to ECR URIs (as
    :func:`seqflow.aws.analysis.omics_images` returns them); every image the
    sample's tasks run must be there. ``None`` leaves the images out (for a
    caller that only wants the file parameters). Resources are left to the
    workflow's defaults, which are the catalogue's.
    """
    cat = catalog()
    aligner, caller = job.get("aligner"), job.get("caller")
    cat.check_choice(aligner or "", caller or "")
    parameters: dict[str, Any] = {"sample_id": check_sample_id(job.get("sample_id")), "aligner": aligner,
                                  "caller": caller}
    wanted_images: list[str] = []
    for impl in cat.sample_steps(aligner, caller):  # type: ignore[arg-type]
        for inp in impl.inputs.values():
            if not inp.external:
                continue
            source = SOURCES[inp.source]
            uri = job.get(source.job_key)
            if not isinstance(uri, str) or not uri.startswith("s3://") or uri.endswith("/"):
                raise ValueError(f"sample job {parameters['sample_id']!r}: {source.job_key} must be the s3:// URI of "
                                 f"a file (the workflow input {source.workflow_input}), got {uri!r}")
            parameters[source.workflow_input] = uri
            for comp in inp.companions:
                parameters[companion_input(inp.source, comp.output)] = f"{uri}{comp.suffix}"
        if image_input(impl.image) not in wanted_images:
            wanted_images.append(image_input(impl.image))
    if images is not None:
        missing = [name for name in wanted_images if not images.get(name)]
        if missing:
            raise LookupError(f"no ECR image for {missing}: the {aligner}/{caller} tasks run them")
        parameters.update({name: images[name] for name in wanted_images})
    return parameters


# -- run group limits ---------------------------------------------------------------------------

#: HealthOmics' start of one task (an instance, the image pull, staging its inputs) on top of the
#: step's own time limit
TASK_START_ALLOWANCE_S = 15 * 60


@dataclass(frozen=True)
class RunShape:
    """What one run of the germline workflow needs at most, from the step catalogue."""

    #: vCPUs of the tasks that can run at once (a task starts when the tasks it reads from end)
    peak_vcpus: int
    #: the longest chain of tasks: each one's timeout plus :data:`TASK_START_ALLOWANCE_S`
    longest_seconds: int
    #: that chain, by step implementation id
    longest_chain: tuple[str, ...]


def run_shape(cat: StepCatalog | None = None) -> RunShape:
    """The peak vCPUs and longest duration of one run, over every aligner and caller of the catalogue.

    Tasks are placed at the earliest they can start (after the tasks whose outputs they read);
    the peak is the largest sum of vCPUs of tasks at the same depth, the duration the longest
    chain of timeouts (the limits Batch enforces per step; in HealthOmics only the run group's
    ``maxDuration`` stops a task that hangs).
    """
    cat = cat or catalog()
    peak, longest, chain = 0, 0, ()
    for aligner in cat.aligners:
        for caller in cat.callers:
            steps = cat.sample_steps(aligner, caller)
            by_name = {impl.name: impl for impl in steps}
            depth: dict[str, int] = {}
            finish: dict[str, tuple[int, tuple[str, ...]]] = {}
            for impl in steps:  # in run order: producers come first
                producers = {inp.source.split(".", 1)[0] for inp in impl.inputs.values() if not inp.external}
                producers &= set(by_name)
                depth[impl.name] = 1 + max((depth[p] for p in producers), default=-1)
                before = max((finish[p] for p in producers), default=(0, ()))
                own = impl.resources.timeout_seconds + TASK_START_ALLOWANCE_S
                finish[impl.name] = (before[0] + own, (*before[1], impl.id))
            for level in set(depth.values()):
                peak = max(peak, sum(by_name[n].resources.vcpus for n, d in depth.items() if d == level))
            end = max(finish.values())
            if end[0] > longest:
                longest, chain = end
    return RunShape(peak, longest, chain)


def run_group_limits(max_runs: int, cat: StepCatalog | None = None) -> dict[str, int]:
    """``CreateRunGroup`` limits for ``max_runs`` concurrent runs, sized from the step catalogue:
    ``maxCpus`` = runs x a run's peak vCPUs, ``maxDuration`` (minutes) = a run's longest chain."""
    shape = run_shape(cat)
    return {"maxRuns": max_runs, "maxCpus": max_runs * shape.peak_vcpus,
            "maxDuration": math.ceil(shape.longest_seconds / 60)}
