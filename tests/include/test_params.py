"""Analysis params: Airflow Params built from the schemas, and their re-validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqflow.config import DEFAULT_MIN_MAPPED_PCT, DEFAULT_MIN_READS, PIPELINE_VERSION
from seqflow.references.intervals import DEFAULT_INTERVAL_MB
from seqflow.params import DEFAULT_READS_PER_SHARD
from seqflow.params import (
    ANALYSIS_PARAM_SCHEMAS,
    AnalysisRequest,
    ParamsError,
    analysis_params,
    validate_analysis_params,
)
from seqflow.samplesheet import parse_sample_sheet

RUN = "241120_A01234_0042_AHXXXXXDSX"
V2 = Path(__file__).parent / "data" / "samplesheets" / "v2.csv"


@pytest.fixture
def sheet():
    return parse_sample_sheet(V2)


def test_defaults():
    request = validate_analysis_params({})
    assert request == AnalysisRequest(
        run_id=None,
        samples=(),
        aligner="bwa",
        pipeline_version=PIPELINE_VERSION,
        reference=None,
        caller="bcftools",
        engine="local",
        force=False,
        min_reads=DEFAULT_MIN_READS,
        min_mapped_pct=DEFAULT_MIN_MAPPED_PCT,
        align_reads_per_shard=DEFAULT_READS_PER_SHARD,
        call_interval_mb=DEFAULT_INTERVAL_MB,
    )
    # no default genome: the reference comes from the trigger, the sheet's mapping or the deployment
    assert {name: schema["default"] for name, schema in ANALYSIS_PARAM_SCHEMAS.items()} == {
        "run_id": None,
        "samples": [],
        "aligner": "bwa",
        "pipeline_version": PIPELINE_VERSION,
        "reference": None,
        "caller": "bcftools",
        "engine": "local",
        "force": False,
        "min_reads": DEFAULT_MIN_READS,
        "min_mapped_pct": DEFAULT_MIN_MAPPED_PCT,
        "align_reads_per_shard": DEFAULT_READS_PER_SHARD,
        "call_interval_mb": DEFAULT_INTERVAL_MB,
    }


def test_full_request(sheet):
    request = validate_analysis_params(
        {
            "run_id": RUN,
            "samples": ["Sample3", "NA12878-1"],
            "aligner": "minimap2",
            "pipeline_version": "2.1.0",
            "reference": "ecoli_k12_mg1655",
            "engine": "omics",
            "force": True,
            "some_other_dag_param": "ignored",
        },
        sample_sheet=sheet,
    )
    assert request.run_id == RUN
    assert request.samples == ("Sample3", "NA12878-1")
    assert (request.aligner, request.pipeline_version, request.reference, request.engine, request.force) == (
        "minimap2",
        "2.1.0",
        "ecoli_k12_mg1655",
        "omics",
        True,
    )
    with pytest.raises(AttributeError):
        request.force = False  # type: ignore[misc]
    # one record per sample, in sheet order, whatever order they were asked in
    selected = request.selected_samples(sheet)
    assert [(r.sample_id, r.lane) for r in selected] == [("NA12878-1", 1), ("Sample3", 2)]


def test_empty_samples_select_all(sheet):
    request = validate_analysis_params({"run_id": RUN, "samples": []}, sheet)
    assert [r.sample_id for r in request.selected_samples(sheet)] == ["NA12878-1", "NA12878_2", "Sample3"]


@pytest.mark.parametrize(
    "run_id",
    [
        "../../etc",
        "run;rm -rf",
        "",
        "241120_A01234_0042_AHX/../../x",
        RUN + "\n",
        "241320_A01234_0042_AHX",
        42,
        "x" * 300,
    ],
)
def test_bad_run_ids(run_id):
    with pytest.raises(ParamsError) as excinfo:
        validate_analysis_params({"run_id": run_id})
    message = str(excinfo.value)
    assert message.count("run_id") >= 1
    assert repr(run_id)[:40] in message or "not a valid date" in message
    assert "YYMMDD" in message


@pytest.mark.parametrize("sample", ["../S1", "../../etc/passwd", "S1/../../x", "/abs", "a b", "-rf", ""])
def test_traversal_and_bad_sample_names(sample):
    with pytest.raises(ParamsError) as excinfo:
        validate_analysis_params({"run_id": RUN, "samples": ["S1", sample]})
    message = str(excinfo.value)
    assert "samples[1]" in message
    assert repr(sample) in message
    assert "letters, digits" in message


def test_trailing_newline_in_sample_is_rejected_despite_the_schema():
    # JSON schema's "$" lets a trailing newline through; the fullmatch re-check does not
    with pytest.raises(ParamsError, match="invalid sample name"):
        validate_analysis_params({"run_id": RUN, "samples": ["S1\n"]})


def test_duplicate_samples():
    with pytest.raises(ParamsError, match="samples: sample names must be unique"):
        validate_analysis_params({"run_id": RUN, "samples": ["A", "A"]})


def test_samples_must_be_a_list():
    with pytest.raises(ParamsError, match="samples: 'S1' is invalid, expected a list"):
        validate_analysis_params({"run_id": RUN, "samples": "S1"})


def test_unknown_samples_name_the_unknown_and_list_the_known(sheet):
    with pytest.raises(ParamsError) as excinfo:
        validate_analysis_params({"run_id": RUN, "samples": ["Sample3", "NOPE", "GHOST"]}, sheet)
    message = str(excinfo.value)
    assert "unknown sample(s) 'NOPE', 'GHOST'" in message
    assert f"for run {RUN}" in message
    assert str(V2) in message
    assert "lists: NA12878-1, NA12878_2, Sample3" in message


def test_selected_samples_checks_the_sheet_too(sheet):
    request = validate_analysis_params({"run_id": RUN, "samples": ["NOPE"]})  # no sheet yet
    with pytest.raises(ParamsError, match="unknown sample"):
        request.selected_samples(sheet)


def test_samples_need_a_run_id():
    with pytest.raises(ParamsError, match="needs a run_id"):
        validate_analysis_params({"samples": ["S1"]})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"aligner": "bowtie2"}, "aligner: 'bowtie2' is invalid, expected one of bwa, minimap2"),
        ({"aligner": "bwa; rm -rf /"}, "aligner: 'bwa; rm -rf /' is invalid"),
        ({"engine": "slurm"}, "engine: 'slurm' is invalid, expected one of local, batch, omics"),
        ({"reference": "../hg38"}, "reference: '../hg38' is invalid, expected the name of a registered reference"),
        ({"reference": "a/b"}, "reference: 'a/b' is invalid"),
        ({"reference": "hg38..x"}, "reference: 'hg38..x' is invalid"),
        ({"reference": "GRCh38\n"}, "reference: 'GRCh38\\n' is invalid"),
        ({"caller": "gatk"}, "caller: 'gatk' is invalid, expected one of bcftools"),
        ({"pipeline_version": "1.0"}, "pipeline_version: '1.0' is invalid, expected MAJOR.MINOR.PATCH"),
        ({"pipeline_version": "1.0.0\n"}, "pipeline_version: '1.0.0\\n' is invalid"),
        ({"force": "yes"}, "force: 'yes' is invalid, expected true or false"),
        ({"force": 1}, "force: 1 is invalid"),
    ],
)
def test_other_bad_values(params, message):
    with pytest.raises(ParamsError) as excinfo:
        validate_analysis_params(params)
    assert message in str(excinfo.value)


def test_all_problems_are_reported_at_once():
    with pytest.raises(ParamsError) as excinfo:
        validate_analysis_params({"run_id": "../x", "aligner": "nope", "engine": "nope"})
    message = str(excinfo.value)
    assert "run_id:" in message and "aligner:" in message and "engine:" in message


def test_params_must_be_a_mapping():
    with pytest.raises(ParamsError, match="mapping"):
        validate_analysis_params(["run_id"])  # type: ignore[arg-type]


# --- Airflow Params ----------------------------------------------------------


def test_airflow_params_build_with_defaults_titles_and_descriptions():
    from airflow.sdk import Param, ParamsDict

    params = analysis_params()
    assert list(params) == list(ANALYSIS_PARAM_SCHEMAS)
    assert all(isinstance(p, Param) for p in params.values())
    assert params["aligner"].schema["enum"] == ["bwa", "minimap2"]
    assert "enum" not in params["reference"].schema  # a list known only at run time: a pattern and examples
    assert params["reference"].schema["examples"] and params["reference"].schema["pattern"]
    assert params["engine"].schema["enum"] == ["local"]  # the engines the profile can run
    assert analysis_params("aws")["engine"].schema["enum"] == [None, "batch", "omics"]
    assert params["run_id"].schema["title"] == "Run"
    assert params["samples"].description.startswith("Sample_IDs")
    assert "default" not in params["engine"].schema
    # the form requires a run (the analysis DAG has no schedule); every other param has its default
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match="run_id"):
        ParamsDict(analysis_params()).validate()
    params["run_id"].resolve(RUN)
    assert ParamsDict(params).validate() == {
        "run_id": RUN,
        "samples": [],
        "aligner": "bwa",
        "pipeline_version": PIPELINE_VERSION,
        "reference": None,
        "caller": "bcftools",
        "engine": "local",
        "force": False,
        "min_reads": DEFAULT_MIN_READS,
        "min_mapped_pct": DEFAULT_MIN_MAPPED_PCT,
        "align_reads_per_shard": DEFAULT_READS_PER_SHARD,
        "call_interval_mb": DEFAULT_INTERVAL_MB,
    }
    # a fresh dict each call: Params hold their value, DAGs must not share them
    assert analysis_params()["force"] is not params["force"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("run_id", "../../etc"),
        ("run_id", "run;rm -rf"),
        ("run_id", ""),
        ("samples", ["../x"]),
        ("samples", ["a", "a"]),
        ("samples", "S1"),
        ("aligner", "bowtie2"),
        ("engine", "slurm"),
        ("reference", "../hg19"),
        ("reference", "a/b"),
        ("reference", ""),
        ("pipeline_version", "latest"),
        ("force", "true"),
    ],
)
def test_airflow_param_schema_rejects_bad_values(name, value):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        analysis_params()[name].resolve(value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("run_id", RUN),
        ("run_id", "241120_M01234_0042_000000000-ABCDE"),
        ("samples", ["A", "A-2", "x_y"]),
        ("aligner", "minimap2"),
        ("engine", "local"),
        ("reference", "ecoli_k12_mg1655"),
        ("reference", "GRCh38.p14"),
        ("reference", None),
        ("pipeline_version", "10.2.3"),
        ("force", True),
    ],
)
def test_airflow_param_schema_accepts_good_values(name, value):
    assert analysis_params()[name].resolve(value) == value


def test_the_form_marks_only_the_run_required_and_explains_each_rule():
    """Airflow's form marks a field required when its schema type has no "null", shows a param's
    description under its field, and has no custom error messages: the rules are in the help."""
    from seqflow.params import _EXPECTED, _EXPECTED_SAMPLE

    params = analysis_params()

    def required(p):
        kind = p.schema.get("type")
        return bool(kind) and not (isinstance(kind, list) and "null" in kind)

    assert {name for name, p in params.items() if required(p)} == {
        "run_id", "aligner", "pipeline_version", "caller", "engine", "min_reads", "min_mapped_pct",
        "align_reads_per_shard", "call_interval_mb"}
    assert not required(params["samples"]) and not required(params["force"])
    assert all(p.description for p in params.values())
    assert params["run_id"].description.endswith(f"Must be {_EXPECTED['run_id'].removesuffix(' or null')}.")
    assert "Leave empty" not in params["run_id"].description
    assert params["samples"].description.endswith(f"Must be {_EXPECTED_SAMPLE}.")
    assert _EXPECTED["pipeline_version"] in params["pipeline_version"].description
    # what the form sends for an emptied Samples field or an untouched Force switch
    request = validate_analysis_params({"run_id": RUN, "samples": None, "force": None})
    assert request.samples == () and request.force is False


def test_module_imports_without_airflow():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['airflow'] = None; sys.modules['airflow.sdk'] = None\n"
        "import seqflow.params as p\n"
        "print(p.validate_analysis_params({'run_id': '241120_A01234_0042_AHX'}).run_id)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "241120_A01234_0042_AHX"
