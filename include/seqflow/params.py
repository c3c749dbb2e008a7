"""Params of the analysis DAG: JSON schemas, Airflow Params and their re-validation.

The same schemas drive Airflow's trigger form (the browser validates them) and
:func:`validate_analysis_params`, which every task calls before a param reaches
a path or a command: params can also arrive through the REST API or the CLI,
and a sample list can only be checked against the run's sample sheet.

Every param has a valid default, because a DAG with a schedule may not have
required params. ``run_id`` defaults to null, meaning "the runs of the DAG
run's date" (the scheduled and backfill case); a manual trigger names one run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seqflow.analysis.steps import ALIGNERS as STEP_ALIGNERS, CALLERS as STEP_CALLERS
from seqflow.config import DEFAULT_MIN_MAPPED_PCT, DEFAULT_MIN_READS, PIPELINE_VERSION
from seqflow.references.intervals import DEFAULT_INTERVAL_MB

#: read pairs per alignment chunk, the default of ``align_reads_per_shard`` (seqflow.analysis.read_shards)
DEFAULT_READS_PER_SHARD = 50_000_000
from seqflow.paths import (
    PIPELINE_VERSION_MAX_LENGTH,
    PIPELINE_VERSION_PATTERN,
    REFERENCE_NAME_MAX_LENGTH,
    REFERENCE_NAME_PATTERN,
    RUN_ID_MAX_LENGTH,
    RUN_ID_PATTERN,
    SAMPLE_ID_MAX_LENGTH,
    SAMPLE_ID_PATTERN,
    is_valid_pipeline_version,
    is_valid_reference_name,
    is_valid_sample_id,
)
from seqflow.runfolder import RunFolderError, RunFolderName

if TYPE_CHECKING:
    from airflow.sdk import Param

    from seqflow.samplesheet import SampleRecord, SampleSheet

#: Aligners and callers: what the step catalogue (``containers/*/``) offers.
ALIGNERS: list[str] = list(STEP_ALIGNERS)
CALLERS: list[str] = list(STEP_CALLERS)
ENGINES: list[str] = ["local", "batch", "omics"]
AWS_ENGINES: list[str] = ["batch", "omics"]

#: JSON schema (draft 2020-12 subset understood by Airflow's trigger form) of each param.
ANALYSIS_PARAM_SCHEMAS: dict[str, dict[str, Any]] = {
    "run_id": {
        "title": "Run",
        # null only through the API (a scheduled run's default); the trigger form requires a run
        "description": "Run folder to analyse, as named on the instrument share, e.g. 241120_A01234_0042_AHXXXXXDSX.",
        "type": ["null", "string"],
        "default": None,
        "pattern": RUN_ID_PATTERN,
        "minLength": 1,
        "maxLength": RUN_ID_MAX_LENGTH,
    },
    "samples": {
        "title": "Samples",
        "description": "Sample_IDs of the run to analyse, one per line. Empty: all samples of the sample sheet.",
        # "null": optional in the trigger form (which marks every field without it required)
        "type": ["array", "null"],
        "default": [],
        "items": {"type": "string", "pattern": SAMPLE_ID_PATTERN, "maxLength": SAMPLE_ID_MAX_LENGTH},
        "uniqueItems": True,
    },
    "aligner": {
        "title": "Aligner",
        "description": "Read aligner.",
        "type": "string",
        "default": "bwa",
        "enum": ALIGNERS,
    },
    "pipeline_version": {
        "title": "Pipeline version",
        "description": "Pipeline version; results of each version live side by side.",
        "type": "string",
        "default": PIPELINE_VERSION,
        "pattern": PIPELINE_VERSION_PATTERN,
        "maxLength": PIPELINE_VERSION_MAX_LENGTH,
    },
    "reference": {
        "title": "Reference",
        "description": (
            "Name of a registered reference genome (seqflow reference list; add one with "
            "seqflow reference add NAME --fasta PATH). Empty: the run's sample sheet through the "
            "deployment's mapping table, else the deployment's default reference."
        ),
        "type": ["null", "string"],
        "default": None,
        "pattern": REFERENCE_NAME_PATTERN,
        "minLength": 1,
        "maxLength": REFERENCE_NAME_MAX_LENGTH,
        "examples": ["GRCh38", "ecoli_k12_mg1655", "lambda"],
    },
    "caller": {
        "title": "Variant caller",
        "description": "Variant caller; part of the analysis identity, so each caller's results live side by side.",
        "type": "string",
        "default": CALLERS[0],
        "enum": CALLERS,
    },
    "engine": {
        "title": "Engine",
        "description": "Where the per-sample analysis runs: local processes, AWS Batch or AWS HealthOmics.",
        "type": "string",
        "default": "local",
        "enum": ENGINES,
    },
    "force": {
        "title": "Force",
        "description": "Re-analyse even if results of this pipeline version already exist.",
        "type": ["boolean", "null"],
        "default": False,
    },
    "min_reads": {
        "title": "Minimum reads",
        "description": "A sample with fewer reads left after fastp's filters (both mates counted) fails alone; "
                       "nothing of it is published.",
        "type": "integer",
        "default": DEFAULT_MIN_READS,
        "minimum": 0,
    },
    "min_mapped_pct": {
        "title": "Minimum % mapped",
        "description": "A sample with a smaller share of its QC-passed reads mapped (samtools flagstat) fails "
                       "alone (the wrong genome, a contaminated library).",
        "type": "number",
        "default": DEFAULT_MIN_MAPPED_PCT,
        "minimum": 0,
        "maximum": 100,
    },
    "align_reads_per_shard": {
        "title": "Read pairs per alignment shard",
        "description": "Each sample's trimmed reads are cut into this many read pairs per chunk (the chunk count "
                       "from the FASTQ's size), each chunk aligned on its own, and the chunks merged and "
                       "duplicate-marked into one BAM; 0 aligns each sample in one task.",
        "type": "integer",
        "default": DEFAULT_READS_PER_SHARD,
        "minimum": 0,
    },
    "call_interval_mb": {
        "title": "Calling interval (Mb)",
        "description": "Variant calling is scattered over intervals of about this many megabases of the reference "
                       "(borders in assembly gaps where one is near) and gathered with bcftools concat; 0 calls the "
                       "whole genome in one task; 0.01 cuts a 48-kb phage in 5. Not part of the analysis identity: "
                       "the shards' records equal the whole-genome call's (docs/local-profile.md says where depth "
                       "makes bcftools differ).",
        "type": "number",
        "default": DEFAULT_INTERVAL_MB,
        "minimum": 0,
    },
}

#: What a rejected value of each param should have looked like (for error messages).
_EXPECTED = {
    "run_id": "a run folder name YYMMDD_<instrument>_<run number>_<flowcell> "
    f"(letters, digits, '_' and '-', at most {RUN_ID_MAX_LENGTH} characters) or null",
    "samples": f"a list of unique Sample_IDs (letters, digits, '-' and '_', at most {SAMPLE_ID_MAX_LENGTH} characters)",
    "aligner": f"one of {', '.join(ALIGNERS)}",
    "pipeline_version": "MAJOR.MINOR.PATCH, e.g. 1.0.0",
    "reference": "the name of a registered reference (letters, digits, '.', '_' and '-'; "
    f"no '/' or '..'; at most {REFERENCE_NAME_MAX_LENGTH} characters) or empty",
    "caller": f"one of {', '.join(CALLERS)}",
    "engine": f"one of {', '.join(ENGINES)}",
    "force": "true or false",
    "min_reads": "a whole number of reads, 0 or more",
    "min_mapped_pct": "a percentage from 0 to 100",
    "align_reads_per_shard": "a whole number of read pairs, 0 or more",
    "call_interval_mb": "a number of megabases, 0 or more",
}

_EXPECTED_SAMPLE = (
    "a Sample_ID: letters, digits, '-' and '_' only, starting with a letter or digit, "
    f"at most {SAMPLE_ID_MAX_LENGTH} characters (no '/', '..' or spaces)"
)


#: Params typed as free text: their form help ends with the rule a value must follow, in the words
#: of the error messages, because Airflow's trigger form shows no custom error message at a field
#: (only "This field is required"); the form's help text is what it shows beside each field.
_FREE_TEXT = ("run_id", "samples", "pipeline_version", "reference", "min_reads", "min_mapped_pct",
              "align_reads_per_shard", "call_interval_mb")


def form_description(name: str, description: str | None = None) -> str:
    """The help the trigger form shows under a param's field: what it is for and, for free text,
    the rule its value must follow (the text :func:`validate_analysis_params` rejects it with)."""
    text = description or ANALYSIS_PARAM_SCHEMAS[name]["description"]
    if name in _FREE_TEXT:
        # run_id's null is the API's (a scheduled run); a form that shows the rule requires a run
        rule = _EXPECTED_SAMPLE if name == "samples" else _EXPECTED[name].removesuffix(" or null")
        text = f"{text} Must be {rule}."
    return text


def param(name: str, **overrides: Any) -> Param:
    """One analysis param as an Airflow Param (other DAGs reuse them: the ingest's reference, aligner).

    ``default=REQUIRED`` makes it a param without a default, which the trigger form requires
    (only for DAGs without a schedule).
    """
    from airflow.sdk import Param

    schema = {**ANALYSIS_PARAM_SCHEMAS[name], **overrides}
    default = schema.pop("default")
    description = form_description(name, schema.pop("description", None))
    if default is REQUIRED:
        return Param(description=description, **schema)
    return Param(default, description=description, **schema)


#: ``param(name, default=REQUIRED)``: no default, so the trigger form requires a value
REQUIRED = object()


class ParamsError(ValueError):
    """Invalid analysis params."""


def analysis_schema() -> dict[str, Any]:
    """The JSON schema of the whole params object."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": ANALYSIS_PARAM_SCHEMAS,
    }


def analysis_params(profile: str = "local") -> dict[str, Param]:
    """The analysis DAG's ``params``: one Airflow Param per schema, with its default.

    ``run_id`` is required (the DAG has no schedule; every run of it analyses one
    sequencing run). The ``engine`` param offers the engines ``profile`` can run: ``local`` in the
    local profile; in the aws profile ``batch`` or ``omics``, empty meaning the
    deployment's default (``seqflow_default_engine``).
    """
    params = {name: param(name) for name in ANALYSIS_PARAM_SCHEMAS}
    # the analysis DAG has no schedule and analyses one run: the form asks for it
    params["run_id"] = param("run_id", type="string", default=REQUIRED)
    if profile == "aws":
        params["engine"] = param(
            "engine", type=["null", "string"], enum=[None, *AWS_ENGINES], default=None,
            description="Where the per-sample analysis runs: AWS Batch or AWS HealthOmics. "
                        "Empty: the deployment's default (Variable seqflow_default_engine).",
        )
    else:
        params["engine"] = param("engine", enum=["local"], description="Local processes (the local profile's engine).")
    return params


@dataclass(frozen=True)
class AnalysisRequest:
    """Validated analysis params. ``run_id`` None means the runs of the DAG run's date."""

    run_id: str | None
    samples: tuple[str, ...]
    aligner: str
    pipeline_version: str
    reference: str | None
    caller: str
    engine: str
    force: bool
    min_reads: int = DEFAULT_MIN_READS
    min_mapped_pct: float = DEFAULT_MIN_MAPPED_PCT
    align_reads_per_shard: int = DEFAULT_READS_PER_SHARD
    call_interval_mb: float = DEFAULT_INTERVAL_MB

    def selected_samples(self, sheet: SampleSheet) -> list[SampleRecord]:
        """The samples to analyse, one record per Sample_ID (its first row), in sheet order.

        All samples of ``sheet`` when ``samples`` is empty; raises
        :class:`ParamsError` if a requested sample is not in the sheet.
        """
        _check_samples_known(self.samples, sheet, self.run_id)
        wanted = set(self.samples)
        first: dict[str, SampleRecord] = {}
        for record in sheet.samples:
            if (not wanted or record.sample_id in wanted) and record.sample_id not in first:
                first[record.sample_id] = record
        return list(first.values())


def _check_samples_known(samples: tuple[str, ...], sheet: SampleSheet, run_id: str | None) -> None:
    known = sheet.sample_ids()
    unknown = [sample for sample in samples if sample not in set(known)]
    if unknown:
        listed = ", ".join(known[:50]) + (f", ... ({len(known) - 50} more)" if len(known) > 50 else "")
        raise ParamsError(
            f"samples: unknown sample(s) {', '.join(repr(s) for s in unknown)}"
            f"{f' for run {run_id}' if run_id else ''}; the sample sheet {sheet.path} lists: {listed}"
        )


def _schema_errors(params: Mapping[str, Any]) -> list[str]:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(analysis_schema())
    messages = []
    for error in sorted(validator.iter_errors(dict(params)), key=lambda e: [str(p) for p in e.absolute_path]):
        path = list(error.absolute_path)
        name = str(path[0]) if path else "params"
        where = name + "".join(f"[{p}]" for p in path[1:])
        expected = _EXPECTED.get(name)
        if name == "samples" and len(path) > 1:
            expected = _EXPECTED_SAMPLE
        if error.validator == "uniqueItems":
            messages.append(f"{where}: sample names must be unique, got {error.instance!r}")
        elif expected:
            messages.append(f"{where}: {error.instance!r} is invalid, expected {expected}")
        else:
            messages.append(f"{where}: {error.message}")
    return list(dict.fromkeys(messages))


def refusals(params: Mapping[str, Param], conf: Mapping[str, Any]) -> list[str]:
    """Every value of a trigger that its param's schema refuses, each as ``<field title>: <why>`` in
    the words a person at the trigger form needs (the rule of :data:`_EXPECTED`), not a JSON-schema
    dump: what :class:`seqflow.trigger_form.ParamRefusals` answers the form with. ``params`` are the
    DAG's Params, ``conf`` the trigger's conf (a missing key takes the param's default). Empty when
    every value is valid."""
    from jsonschema import Draft202012Validator, FormatChecker

    messages = []
    for name, spec in params.items():
        schema = dict(spec.schema)
        title = schema.get("title") or name
        default = spec.value if spec.has_value else None
        value = conf.get(name, default) if isinstance(conf, Mapping) else default
        nullable = "null" in (schema.get("type") if isinstance(schema.get("type"), list) else [schema.get("type")])
        if value is None and not nullable:
            messages.append(f"{title}: a value is required" + (f"; it must be {_rule(name, nullable)}" if
                                                                name in _EXPECTED else ""))
            continue
        errors = list(Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(value))
        if not errors:
            continue
        error = errors[0]
        if error.validator == "uniqueItems":
            messages.append(f"{title}: each sample may be named once, got {value!r}")
        elif name == "samples" and list(error.absolute_path):
            messages.append(f"{title}: {error.instance!r} is not valid; each must be {_EXPECTED_SAMPLE}")
        elif name in _EXPECTED or schema.get("enum"):
            choices = [c for c in schema.get("enum") or () if c is not None]
            rule = _rule(name, nullable) if name in _EXPECTED and not choices else f"one of {', '.join(map(str, choices))}"
            messages.append(f"{title}: {value!r} is not valid; it must be {rule}")
        else:
            messages.append(f"{title}: {error.message}")
    return messages


def _rule(name: str, nullable: bool) -> str:
    rule = _EXPECTED[name]
    return rule if nullable else rule.removesuffix(" or null").removesuffix(" or empty")


def validate_analysis_params(
    params: Mapping[str, Any], sample_sheet: SampleSheet | None = None
) -> AnalysisRequest:
    """Re-validate ``params`` (from the trigger form, the API or the CLI) into an :class:`AnalysisRequest`.

    Missing params take their defaults; keys that are not analysis params are
    ignored (a DAG may add its own). With ``sample_sheet``, every requested
    sample must be in it. Raises :class:`ParamsError` listing every problem.
    """
    if not isinstance(params, Mapping):
        raise ParamsError(f"params must be a mapping, got {type(params).__name__}")
    values = {name: params.get(name, schema["default"]) for name, schema in ANALYSIS_PARAM_SCHEMAS.items()}
    errors = _schema_errors(values)
    if errors:
        raise ParamsError("invalid analysis params: " + "; ".join(errors))

    # Python's "$" also matches before a trailing newline, so the schema's
    # patterns are not enough on their own: check with fullmatch again.
    run_id = values["run_id"]
    if run_id is not None:
        try:
            RunFolderName.parse(run_id)
        except RunFolderError as exc:
            raise ParamsError(f"run_id: {exc}") from None
    samples = tuple(values["samples"] or ())  # null: the form's empty Samples field
    bad = [sample for sample in samples if not is_valid_sample_id(sample)]
    if bad:
        raise ParamsError(f"samples: invalid sample name(s) {', '.join(map(repr, bad))}, expected {_EXPECTED_SAMPLE}")
    if not is_valid_pipeline_version(values["pipeline_version"]):
        raise ParamsError(
            f"pipeline_version: {values['pipeline_version']!r} is invalid, expected {_EXPECTED['pipeline_version']}"
        )
    reference = values["reference"] or None
    if reference is not None and not is_valid_reference_name(reference):
        raise ParamsError(f"reference: {reference!r} is invalid, expected {_EXPECTED['reference']}")
    if samples and run_id is None:
        raise ParamsError("samples: a sample list needs a run_id (samples are names within one run)")
    if sample_sheet is not None:
        _check_samples_known(samples, sample_sheet, run_id)
    return AnalysisRequest(
        run_id=run_id,
        samples=samples,
        aligner=values["aligner"],
        pipeline_version=values["pipeline_version"],
        reference=reference,
        caller=values["caller"],
        engine=values["engine"],
        force=bool(values["force"]),
        min_reads=values["min_reads"],
        min_mapped_pct=float(values["min_mapped_pct"]),
        align_reads_per_shard=values["align_reads_per_shard"],
        call_interval_mb=values["call_interval_mb"],  # a whole number stays an int (the default: 100)
    )
