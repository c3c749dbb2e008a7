"""The analysis task bodies (``seqflow.tasks.analysis``) on the aws profile's backend, against moto.

The run is a prefix of moto's raw bucket, the references are registered with
the real :class:`S3ReferenceCatalog` from small synthetic FASTAs (samtools faidx
included), the registry is a DynamoDB table keyed as Terraform keys it (hash
``run_id``, range ``analysis``), partitions go to moto's Glue and the QC query
runs through the provider's AthenaOperator on moto's Athena.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from aws_helpers import create_registry_table, REGION, RUN, genome, of, set_variables, settings

RAW = f"runs/{RUN}/"
FASTQ = "Analysis/1/Data/fastq"
SHEET = "\r\n".join([
    "[Header]", "FileFormatVersion,2", f"RunName,{RUN}", "",
    "[Reads]", "Read1Cycles,151", "Read2Cycles,151", "",
    "[BCLConvert_Data]", "Lane,Sample_ID,Index,Index2,Sample_Project",
    "1,S1,ACGTACGT,TTGGCCAA,Phage", "1,S2,TGCATGCA,AACCGGTT,Phage", "1,H1,GGATCCAA,CCAATTGG,Human",
]) + "\r\n"
SAMPLES = ("S1", "S2", "H1")
#: the analysis key and results prefix of the default analysis against lambda
KEY = "1.0.0/lambda/bwa/bcftools"
RESULTS = f"s3://results/results/{RUN}/1.0.0/lambda/bwa-bcftools/"
LAMBDA = "s3://raw/references/lambda/"
OTHER_RUN = "261121_A01234_0043_AHBJ8YDSXY"


def _fastq(sample: str, read: int) -> str:
    return f"{FASTQ}/{sample}_S{SAMPLES.index(sample) + 1}_L001_R{read}_001.fastq.gz"


def _raw(relative: str) -> str:
    return f"s3://raw/{RAW}{relative}"


@pytest.fixture
def s3(moto):
    client = boto3.client("s3", region_name=REGION)
    for bucket in ("raw", "results", "lake", "athena-results"):
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    client.put_object(Bucket="raw", Key=RAW + "SampleSheet.csv", Body=SHEET.encode())
    # what else a run folder holds: none of it is read by the analysis
    for other in ("RunInfo.xml", "CopyComplete.txt", "Data/Intensities/BaseCalls/L001/C1.1/L001_1.cbcl",
                  f"{FASTQ}/Undetermined_S0_L001_R1_001.fastq.gz", "Reports/Demultiplex_Stats.csv"):
        client.put_object(Bucket="raw", Key=RAW + other, Body=b"x")
    for sample in SAMPLES:
        for read in (1, 2):
            client.put_object(Bucket="raw", Key=RAW + _fastq(sample, read), Body=b"x")
    return client


@pytest.fixture
def catalog(s3, tmp_path):
    """``lambda`` (haploid) and ``toy`` registered as ``seqflow reference add`` registers them; no index yet."""
    from seqflow.aws.references import S3ReferenceCatalog
    from seqflow.references import Ploidy

    catalog = S3ReferenceCatalog(settings(), s3, deb_cache=tmp_path / "debs")
    catalog.add("lambda", str(genome(tmp_path / "lambda_source.fa", {"lambda": 900})), ploidy=Ploidy(1))
    catalog.add("toy", str(genome(tmp_path / "toy_source.fa", {"chr1": 700, "chrM": 120}, seed=3)),
                ploidy=Ploidy.parse(["2", "chrM=1"]))
    return catalog


def _index(s3, name: str = "lambda", aligner: str = "bwa") -> None:
    """What the Batch index job leaves beside the FASTA."""
    from seqflow.references.catalog import INDEX_SUFFIXES

    for suffix in INDEX_SUFFIXES[aligner]:
        s3.put_object(Bucket="raw", Key=f"references/{name}/{name}.fa{suffix}", Body=b"index")


@pytest.fixture
def table(moto):
    create_registry_table()


@pytest.fixture
def backend(catalog, table):
    from seqflow.aws.backend import AwsBackend

    return AwsBackend(settings=settings())


def _backend(**overrides):
    from seqflow.aws.backend import AwsBackend

    return AwsBackend(settings=settings(**overrides))


def _registry():
    from seqflow.aws.registry import aws_registry

    return aws_registry(settings())


# ---------------------------------------------------------------- plan


def test_plan_makes_the_identity_and_the_jobs_from_the_run_in_s3(backend, catalog, calls):
    from seqflow.tasks.analysis import plan

    result = plan({"run_id": RUN, "reference": "lambda"}, backend=backend)
    ref = catalog.require("lambda")
    assert {k: result[k] for k in ("run_id", "pipeline_version", "reference", "aligner", "caller", "identity_key",
                                   "engine", "force", "samples", "run_uri", "results_uri")} == {
        "run_id": RUN, "pipeline_version": "1.0.0", "reference": "lambda", "aligner": "bwa", "caller": "bcftools",
        "identity_key": KEY, "engine": "batch", "force": False, "samples": list(SAMPLES),
        "run_uri": f"s3://raw/{RAW}", "results_uri": RESULTS,
    }
    # what the analysis reads (and restore_archived restores): the sheet and the FASTQs only
    assert result["inputs"] == [_raw("SampleSheet.csv")] + [
        _raw(_fastq(sample, read)) for sample in SAMPLES for read in (1, 2)]
    assert result["jobs"][0] == {
        "run_id": RUN, "pipeline_version": "1.0.0", "sample_id": "S1",
        "r1": [_raw(_fastq("S1", 1))], "r2": [_raw(_fastq("S1", 2))],
        "reference_fasta": f"{LAMBDA}lambda.fa", "reference": "lambda", "aligner": "bwa", "caller": "bcftools",
        "ploidy_file": f"{LAMBDA}lambda.ploidy", "threads": 2, "results_root": "", "scratch_root": "",
    }
    assert ref.fasta == f"{LAMBDA}lambda.fa" and ref.ploidy_file == f"{LAMBDA}lambda.ploidy"
    assert [j["sample_id"] for j in result["jobs"]] == list(SAMPLES)
    assert all(j["r1"] == [_raw(_fastq(j["sample_id"], 1))] for j in result["jobs"])

    # one listing of the run folder serves the sheet, the files and the inputs; plan writes nothing to S3
    assert [p["Prefix"] for p in of(calls, "s3", "ListObjectsV2")] == [RAW]
    assert not [o for s, o, _ in calls if s == "s3" and o in ("PutObject", "DeleteObject", "DeleteObjects")]
    [put] = of(calls, "dynamodb", "PutItem")
    assert put["TableName"] == "registry" and (put["Item"]["run_id"], put["Item"]["analysis"]) == (RUN, KEY)

    record = _registry().get(RUN, KEY)
    assert record.status == "analysing"
    assert record.details["identity"] == {"run_id": RUN, "pipeline_version": "1.0.0", "reference": "lambda",
                                          "aligner": "bwa", "caller": "bcftools"}
    assert record.details["engine"] == "batch" and record.details["samples"] == list(SAMPLES)
    assert record.details["reference_origin"] == {s: "the reference param" for s in SAMPLES}
    assert record.details["reference_md5"] == {"lambda": ref.contigs[0].md5}


def test_the_engine_defaults_to_the_deployments_and_local_is_refused(catalog, table, calls):
    from seqflow.params import ParamsError
    from seqflow.tasks.analysis import plan

    for empty in (None, ""):
        result = plan({"run_id": RUN, "reference": "lambda", "engine": empty, "force": True},
                      backend=_backend(default_engine="omics"))
        assert result["engine"] == "omics"
    assert plan({"run_id": RUN, "reference": "lambda", "engine": "batch", "force": True},
                backend=_backend(default_engine="omics"))["engine"] == "batch"
    assert _registry().get(RUN, KEY).details["engine"] == "batch"

    calls.clear()
    with pytest.raises(ParamsError, match=r"engine: 'local' cannot run in the aws profile; it runs batch or omics"):
        plan({"run_id": RUN, "reference": "lambda", "engine": "local"}, backend=_backend())
    assert calls == []  # refused before anything is read
    with pytest.raises(ParamsError, match="run_id: the analysis DAG analyses one run"):
        plan({"reference": "lambda"}, backend=_backend())


def test_a_run_not_in_raw_storage_is_refused_naming_the_prefix(backend, s3):
    from seqflow.backends import RunNotInRawStorage
    from seqflow.params import ParamsError
    from seqflow.tasks.analysis import plan

    with pytest.raises(RunNotInRawStorage,
                       match=rf"run {OTHER_RUN} is not in raw storage \(nothing under s3://raw/runs/{OTHER_RUN}/\);"
                             " ingest it first"):
        plan({"run_id": OTHER_RUN, "reference": "lambda"}, backend=backend)
    s3.put_object(Bucket="raw", Key=f"runs/{OTHER_RUN}/RunInfo.xml", Body=b"x")  # copied in part: no sheet yet
    with pytest.raises(RunNotInRawStorage, match=rf"run {OTHER_RUN} has no s3://raw/runs/{OTHER_RUN}/SampleSheet.csv"):
        plan({"run_id": OTHER_RUN, "reference": "lambda"}, backend=_backend())
    with pytest.raises(ParamsError, match="run_id"):
        plan({"run_id": "../etc", "reference": "lambda"}, backend=backend)
    assert _registry().list() == []


def test_unknown_samples_and_bad_sheets_are_named_by_their_s3_uri(backend, s3):
    from seqflow.params import ParamsError
    from seqflow.samplesheet import SampleSheetError
    from seqflow.tasks.analysis import plan

    with pytest.raises(ParamsError, match=rf"unknown sample\(s\) 'S9' for run {RUN}; the sample sheet "
                                          rf"s3://raw/{RAW}SampleSheet.csv lists: S1, S2, H1"):
        plan({"run_id": RUN, "reference": "lambda", "samples": ["S1", "S9"]}, backend=backend)
    s3.put_object(Bucket="raw", Key=RAW + "SampleSheet.csv", Body=SHEET.replace("GGATCCAA", "GGATCXAA").encode())
    with pytest.raises(SampleSheetError, match=rf"^s3://raw/{RAW}SampleSheet.csv, line 13: invalid index: "):
        plan({"run_id": RUN, "reference": "lambda"}, backend=_backend())
    assert _registry().list() == []


def test_the_reference_comes_from_the_param_then_the_sheet_mapping_then_the_default(backend, catalog):
    from seqflow.references import UnknownReference
    from seqflow.references.resolve import MappingRule, ReferenceRules, UnresolvedReference
    from seqflow.tasks.analysis import plan

    with pytest.raises(UnresolvedReference) as err:
        plan({"run_id": RUN}, backend=backend)
    message = str(err.value)
    assert f"run {RUN}: no reference for sample(s) S1, S2, H1: nothing names one" in message
    for how in ("reference param", "seqflow reference map Sample_Project", "seqflow reference default"):
        assert how in message
    with pytest.raises(UnknownReference, match=r"'hg38' is not registered; registered references: lambda, toy"):
        plan({"run_id": RUN, "reference": "hg38"}, backend=backend)

    catalog.save_rules(ReferenceRules("toy", (MappingRule("Sample_Project", "Phage", "lambda"),)))
    phage = plan({"run_id": RUN, "samples": ["S1", "S2"]}, backend=_backend())
    assert phage["reference"] == "lambda" and phage["identity_key"] == KEY
    assert phage["jobs"][0]["reference_fasta"] == f"{LAMBDA}lambda.fa"
    assert _registry().get(RUN, KEY).details["reference_origin"] == {
        "S1": "sample sheet Sample_Project=Phage", "S2": "sample sheet Sample_Project=Phage"}
    human = plan({"run_id": RUN, "samples": ["H1"]}, backend=_backend())
    assert human["reference"] == "toy" and human["results_uri"].endswith("/1.0.0/toy/bwa-bcftools/")
    assert human["jobs"][0]["ploidy_file"] == "s3://raw/references/toy/toy.ploidy"
    assert _registry().get(RUN, "1.0.0/toy/bwa/bcftools").details["reference_origin"] == {
        "H1": "the deployment's default reference"}
    # the param wins over both
    forced = plan({"run_id": RUN, "samples": ["S1"], "reference": "toy", "force": True}, backend=_backend())
    assert forced["reference"] == "toy"
    assert _registry().get(RUN, "1.0.0/toy/bwa/bcftools").details["reference_origin"] == {
        "S1": "the reference param"}
    with pytest.raises(UnresolvedReference, match=r"2 references \(lambda: S1, S2; toy: H1\)"):
        plan({"run_id": RUN}, backend=_backend())


def test_already_analysed_means_this_exact_identity(backend):
    from seqflow.tasks.analysis import AlreadyAnalysed, plan

    registry = _registry()
    registry.put(RUN, KEY, "analysed", vcfs={})
    registry.put(RUN, "1.0.0/lambda/minimap2/bcftools", "analysing")  # started, not done: no reason to skip
    with pytest.raises(AlreadyAnalysed, match=rf"{RUN} \(pipeline 1.0.0, lambda, bwa, bcftools\) was analysed at"):
        plan({"run_id": RUN, "reference": "lambda"}, backend=backend)
    assert registry.get(RUN, KEY).status == "analysed"  # untouched
    for params, key in (
        ({"reference": "toy"}, "1.0.0/toy/bwa/bcftools"),
        ({"reference": "lambda", "aligner": "minimap2"}, "1.0.0/lambda/minimap2/bcftools"),
        ({"reference": "lambda", "pipeline_version": "1.0.1"}, "1.0.1/lambda/bwa/bcftools"),
        ({"reference": "lambda", "force": True}, KEY),
    ):
        assert plan({"run_id": RUN, **params}, backend=_backend())["identity_key"] == key
        assert registry.get(RUN, key).status == "analysing"


def test_inputs_are_the_sheet_and_the_selected_samples_fastqs(backend):
    from seqflow.tasks.analysis import plan

    result = plan({"run_id": RUN, "reference": "lambda", "samples": ["S2"]}, backend=backend)
    assert result["samples"] == ["S2"]
    assert result["inputs"] == [_raw("SampleSheet.csv"), _raw(_fastq("S2", 1)), _raw(_fastq("S2", 2))]
    [job] = result["jobs"]
    assert (job["r1"], job["r2"]) == ([_raw(_fastq("S2", 1))], [_raw(_fastq("S2", 2))])


# ---------------------------------------------------------------- prepare_reference


def test_prepare_reference_names_the_batch_job_until_the_index_is_in_s3(backend, catalog, s3, calls):
    from seqflow.references import ReferenceError
    from seqflow.tasks.analysis import prepare_reference

    run_plan = {"reference": "lambda", "aligner": "bwa"}
    ref = catalog.require("lambda")
    with pytest.raises(ReferenceError) as err:
        prepare_reference(run_plan, backend=backend)
    assert f"reference 'lambda' has no bwa index in {LAMBDA}" in str(err.value)
    assert catalog.index_command(ref, "bwa") in str(err.value).splitlines()
    assert "aws batch submit-job" in catalog.index_command(ref, "bwa")

    _index(s3)
    calls.clear()
    assert prepare_reference(run_plan, backend=_backend()) == {
        "reference_fasta": f"{LAMBDA}lambda.fa", "ploidy_file": f"{LAMBDA}lambda.ploidy", "reference_uri": LAMBDA}
    assert of(calls, "s3", "ListObjectsV2") == [{"Bucket": "raw", "Prefix": "references/lambda/"}]
    assert not [o for s, o, _ in calls if o in ("PutObject", "SubmitJob")]  # checks, never builds

    # another aligner needs its own index
    with pytest.raises(ReferenceError) as err:
        prepare_reference({"reference": "lambda", "aligner": "minimap2"}, backend=_backend())
    assert catalog.index_command(ref, "minimap2") in str(err.value).splitlines()
    assert "sf-align-minimap2" in catalog.index_command(ref, "minimap2")


# ---------------------------------------------------------------- after the per-sample steps


def _plan(backend, **params):
    from seqflow.tasks.analysis import plan

    return plan({"run_id": RUN, "reference": "lambda", **params}, backend=backend)


def _steps_done(s3, results: str, *samples: str) -> None:
    """What the Batch steps leave in a sample's results prefix that collect_vcfs reads: the last step's
    (vcf_stats) output, and the reports the per-sample thresholds are judged on (fastp, flagstat)."""
    prefix = results[len('s3://results/'):]
    for sample in samples:
        s3.put_object(Bucket="results", Key=f"{prefix}{sample}/{sample}.bcftools_stats.txt",
                      Body=b"SN\t0\tnumber of records:\t1\n")
        s3.put_object(Bucket="results", Key=f"{prefix}{sample}/{sample}.fastp.json",
                      Body=json.dumps({"summary": {"after_filtering": {"total_reads": 5000}}}).encode())
        s3.put_object(Bucket="results", Key=f"{prefix}{sample}/{sample}.flagstat.json",
                      Body=json.dumps({"QC-passed reads": {"mapped %": 98.0}}).encode())


def test_collect_vcfs_batch_reads_the_results_prefix_of_the_identity(backend, s3, calls):
    from seqflow.tasks.analysis import collect_vcfs

    run_plan = _plan(backend, samples=["S1", "S2"])
    _steps_done(s3, RESULTS, "S1", "S2")
    calls.clear()
    assert collect_vcfs(run_plan, run_plan["jobs"], backend=backend) == [
        {"sample_id": "S1", "vcf": f"{RESULTS}S1/S1.vcf.gz"},
        {"sample_id": "S2", "vcf": f"{RESULTS}S2/S2.vcf.gz"},
    ]
    # per sample: no failure marker, the last step's output there, the two reports read (S3Hook.read_key
    # heads each key first); nothing written
    ops = [op for _, op, _ in calls]
    assert set(ops) == {"HeadObject", "GetObject"} and ops.count("GetObject") == 4
    other = _plan(_backend(), samples=["S1"], aligner="minimap2")
    minimap2 = f"s3://results/results/{RUN}/1.0.0/lambda/minimap2-bcftools/"
    _steps_done(s3, minimap2, "S1")
    assert collect_vcfs(other, other["jobs"], backend=backend) == [
        {"sample_id": "S1", "vcf": f"{minimap2}S1/S1.vcf.gz"}]


def test_collect_vcfs_goes_on_without_a_failed_sample_and_fails_when_all_did(backend, s3):
    from seqflow.tasks.analysis import collect_vcfs

    run_plan = _plan(backend, samples=["S1", "S2"])
    with pytest.raises(RuntimeError, match="every sample failed"):
        collect_vcfs(run_plan, run_plan["jobs"], backend=backend)
    record = backend.registry().get(RUN, "1.0.0/lambda/bwa/bcftools")
    assert record.status == "failed" and set(record.details["failed_samples"]) == {"S1", "S2"}
    _steps_done(s3, RESULTS, "S2")  # S1's Batch job failed: no output
    assert collect_vcfs(run_plan, run_plan["jobs"], backend=backend) == [
        {"sample_id": "S2", "vcf": f"{RESULTS}S2/S2.vcf.gz"}]


def test_collect_vcfs_omics_reads_each_healthomics_runs_output(backend, monkeypatch):
    from seqflow.aws.analysis import omics_vcfs
    from seqflow.tasks.analysis import collect_vcfs

    # the task body reads the configuration as the worker does: Airflow Variables
    set_variables(monkeypatch, settings().values)
    run_plan = _plan(backend, engine="omics", samples=["S1", "S2"])
    omics = f"s3://results/omics/{RUN}/1.0.0/lambda/bwa-bcftools"
    expected = [{"sample_id": "S1", "vcf": f"{omics}/S1/4001/out/vcf/S1.vcf.gz"},
                {"sample_id": "S2", "vcf": f"{omics}/S2/4002/out/vcf/S2.vcf.gz"}]
    assert collect_vcfs(run_plan, run_plan["jobs"], omics_run_ids=["4001", "4002"], backend=backend) == expected
    assert omics_vcfs(run_plan["jobs"], ["4001", "4002"], settings=settings()) == expected
    with pytest.raises(RuntimeError, match=r"expected 2 HealthOmics run ids, got \['4001'\]"):
        omics_vcfs(run_plan["jobs"], ["4001"], settings=settings())


def test_converter_args_are_one_glue_run_per_analysis_with_its_manifest_in_s3(backend, s3):
    from seqflow.glue.job import parse_args
    from seqflow.glue.manifest import Manifest
    from seqflow.tasks.analysis import collect_vcfs, converter_args

    run_plan = _plan(backend, samples=["S1", "S2"])
    _steps_done(s3, RESULTS, *(job["sample_id"] for job in run_plan["jobs"]))
    vcfs = collect_vcfs(run_plan, run_plan["jobs"], backend=backend)
    [args] = converter_args(run_plan, vcfs, backend=backend)  # one job run, whatever the sample count
    assert backend.lake_uri() == settings().lake_uri() == "s3://lake/lake"
    uri = args["--manifest_uri"]
    assert uri.startswith(f"s3://lake/lake/_manifests/{RUN}/1.0.0/lambda/bwa-bcftools/") and uri.endswith(".json")
    assert args == {"--manifest_uri": uri, "--lake_uri": "s3://lake/lake", "--database": "lake_db", "--run_id": RUN,
                    "--pipeline_version": "1.0.0", "--reference": "lambda", "--aligner": "bwa",
                    "--caller": "bcftools", "--samples": "2"}
    manifest = Manifest.from_json(s3.get_object(Bucket="lake", Key=uri[len("s3://lake/"):])["Body"].read().decode())
    assert manifest.identity.key == KEY and manifest.sample_ids == ["S1", "S2"]
    assert [s.vcf for s in manifest.samples] == [f"{RESULTS}{s}/{s}.vcf.gz" for s in ("S1", "S2")]
    assert manifest.samples[0].qc["bcftools_stats"] == f"{RESULTS}S1/S1.bcftools_stats.txt"
    # a retried task writes the same object; the Glue job reads exactly these arguments
    assert converter_args(run_plan, vcfs, backend=backend) == [args]
    assert parse_args([t for pair in args.items() for t in pair])["manifest_uri"] == uri


def test_converter_manifest_of_many_samples_keeps_the_arguments_short(backend, s3):
    from seqflow.tasks.analysis import converter_args

    run_plan = {"run_id": RUN, "pipeline_version": "1.0.0", "reference": "lambda", "aligner": "bwa",
                "caller": "bcftools", "engine": "omics"}
    vcfs = [{"sample_id": f"S{i}", "vcf": f"s3://results/omics/{RUN}/S{i}/out/vcf/S{i}.vcf.gz"} for i in range(384)]
    [args] = converter_args(run_plan, vcfs, backend=backend)
    assert args["--samples"] == "384" and sum(len(k) + len(v) for k, v in args.items()) < 400
    body = s3.get_object(Bucket="lake", Key=args["--manifest_uri"][len("s3://lake/"):])["Body"].read()
    assert len(json.loads(body)["samples"]) == 384 and json.loads(body)["samples"][0]["qc"] is None  # omics


def _glue_result(s3, run_plan, samples, snapshot=1):
    from seqflow.glue.manifest import RESULT_FORMAT, result_uri
    from seqflow.identity import AnalysisIdentity

    identity = AnalysisIdentity.from_dict(run_plan)
    uri = result_uri("s3://lake/lake", identity)
    s3.put_object(Bucket="lake", Key=uri[len("s3://lake/"):], Body=json.dumps({
        "format": RESULT_FORMAT, "identity": identity.to_dict(), "snapshots": {"variants": snapshot, "qc_metrics": 2},
        "samples": {s: {"rows": 9, "records": 9, "files": 1} for s in samples}}).encode())


@pytest.fixture
def glue(moto):
    client = boto3.client("glue", region_name=REGION)
    client.create_database(DatabaseInput={"Name": "lake_db"})
    for name in ("variants", "qc_metrics"):  # what pyiceberg's Glue catalog creates
        client.create_table(DatabaseName="lake_db", TableInput={"Name": name, "TableType": "EXTERNAL_TABLE",
            "Parameters": {"table_type": "ICEBERG", "metadata_location": f"s3://lake/lake/iceberg/{name}/metadata/1.json"}})
    return client


def test_register_partitions_checks_the_glue_jobs_commit(backend, glue, s3, calls):
    from seqflow.tasks.analysis import collect_vcfs, register_partitions

    run_plan = _plan(backend, samples=["S1", "S2"])
    _steps_done(s3, RESULTS, *(job["sample_id"] for job in run_plan["jobs"]))
    vcfs = collect_vcfs(run_plan, run_plan["jobs"], backend=backend)
    with pytest.raises(RuntimeError, match="no converter result"):
        register_partitions(run_plan, vcfs, backend=backend)
    _glue_result(s3, run_plan, ["S1"])
    with pytest.raises(ValueError, match=r"committed samples \['S1'\], expected \['S1', 'S2'\]"):
        register_partitions(run_plan, vcfs, backend=backend)
    _glue_result(s3, run_plan, ["S1", "S2"])
    calls.clear()
    assert register_partitions(run_plan, vcfs, backend=backend) == 2
    assert sorted(p["Name"] for p in of(calls, "glue", "GetTable")) == ["qc_metrics", "variants"]
    assert not of(calls, "glue", "BatchCreatePartition")  # Iceberg: nothing to register
    # a result of another analysis does not count for this one
    other = {**run_plan, "aligner": "minimap2"}
    with pytest.raises(RuntimeError, match="no converter result"):
        register_partitions(other, vcfs, backend=backend)


def test_register_partitions_refuses_a_table_that_is_not_iceberg(backend, s3, moto):
    from seqflow.tasks.analysis import lake_partitions

    client = boto3.client("glue", region_name=REGION)
    client.create_database(DatabaseInput={"Name": "lake_db"})
    client.create_table(DatabaseName="lake_db", TableInput={"Name": "variants", "TableType": "EXTERNAL_TABLE"})
    run_plan = {"run_id": RUN, "pipeline_version": "1.0.0", "reference": "lambda", "aligner": "bwa",
                "caller": "bcftools"}
    _glue_result(s3, run_plan, ["S1"])
    with pytest.raises(RuntimeError, match="lake_db.variants is not an Iceberg table"):
        backend.register_partitions(lake_partitions(run_plan, [{"sample_id": "S1"}]), glue_client=client)


def test_qc_summary_sql_reads_the_variants_table_of_exactly_this_analysis():
    import sqlglot
    from sqlglot import exp

    from seqflow.tasks.analysis import qc_summary_sql

    identity = {"run_id": RUN, "pipeline_version": "1.0.0", "reference": "GRCh38.p14", "aligner": "minimap2",
                "caller": "bcftools"}
    sql = qc_summary_sql({**identity, "engine": "batch"})
    tree = sqlglot.parse_one(sql, read="athena")
    assert [t.name for t in tree.find_all(exp.Table)] == ["variants"]  # the table, not a view Athena may lack
    assert "variants_latest" not in sql
    where = tree.args["where"]
    assert {eq.this.name: eq.expression.name for eq in where.find_all(exp.EQ)} == identity
    assert len(list(where.find_all(exp.EQ))) == 5 and not list(where.find_all(exp.Or))
    assert [o.this.name for o in tree.args["order"].expressions] == ["sample_id"]
    sqlglot.parse_one(sql, read="duckdb")  # the same SQL runs on the local profile
    for bad in ({"run_id": "x' OR 1=1 --"}, {"reference": "lam'bda"}, {"aligner": "bwa' --"}):
        with pytest.raises(ValueError):
            qc_summary_sql({**identity, **bad})


# ---------------------------------------------------------------- finalise_run

QC_FILES = {
    "fastp.json": json.dumps({"summary": {"before_filtering": {"total_reads": 2000},
                                          "after_filtering": {"total_reads": 1980}}}),
    "flagstat.json": json.dumps({"QC-passed reads": {"mapped %": 98.25}}),
    "markdup.txt": "EXAMINED: 1000\nDUPLICATE TOTAL: 30\n",
    "coverage.tsv": ("#rname\tstartpos\tendpos\tnumreads\tcovbases\tcoverage\tmeandepth\tmeanbaseq\tmeanmapq\n"
                     "lambda\t1\t900\t1000\t900\t100\t31.5\t36\t60\n"),
    "bcftools_stats.txt": "SN\t0\tnumber of records:\t12\nSN\t0\tnumber of SNPs:\t10\nSN\t0\tnumber of indels:\t2\n",
}
QC_COLUMNS = [("run_id", "varchar"), ("pipeline_version", "varchar"), ("reference", "varchar"),
              ("aligner", "varchar"), ("caller", "varchar"), ("sample_id", "varchar"), ("records", "bigint"),
              ("no_calls", "bigint"), ("het", "bigint"), ("hom_alt", "bigint"), ("het_hom_ratio", "double"),
              ("mean_gq", "double"), ("mean_dp", "double")]


def _athena_result(samples: dict[str, int]) -> dict:
    """What Athena returns for the QC query (moto answers with it): a header row, then one row per sample."""
    def row(values):
        return {"Data": [{"VarCharValue": str(v)} if v is not None else {} for v in values]}

    rows = [row([name for name, _ in QC_COLUMNS])]
    rows += [row([RUN, "1.0.0", "lambda", "bwa", "bcftools", sample, records, 0, 0, records, None, 55.5, 31.0])
             for sample, records in samples.items()]
    return {"rows": rows, "column_info": [
        {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": n, "Label": n, "Type": t,
         "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": False} for n, t in QC_COLUMNS]}


def _run_qc_query(sql: str, result: dict) -> str:
    """The qc_summary task: the provider's AthenaOperator, on moto's Athena seeded with ``result``."""
    import requests
    from airflow.providers.amazon.aws.operators.athena import AthenaOperator

    requests.post("http://motoapi.amazonaws.com/moto-api/static/athena/query-results",
                  json={"region": REGION, "results": [result]}, timeout=10).raise_for_status()
    op = AthenaOperator(task_id="qc_summary", query=sql, database="lake_db", workgroup="wg",
                        output_location="s3://athena-results/seqflow/qc_summary/", sleep_time=0)

    class TI:
        dag_id, run_id, task_id, map_index, try_number = "seqflow_analysis", "r", "qc_summary", -1, 1

        def xcom_push(self, key, value):
            pass

    return op.execute({"ti": TI(), "task_instance": TI()})


def test_finalise_run_writes_the_qc_summary_and_records_the_analysis(backend, s3, calls):
    from seqflow.tasks.analysis import collect_vcfs, finalise_run, qc_summary_sql

    boto3.client("athena", region_name=REGION).create_work_group(Name="wg")
    run_plan = _plan(backend, samples=["S1", "S2"])
    for sample in ("S1", "S2"):  # what the Batch steps left in the results prefix
        for name, body in QC_FILES.items():
            s3.put_object(Bucket="results", Key=f"{RESULTS[len('s3://results/'):]}{sample}/{sample}.{name}",
                          Body=body.encode())
    vcfs = collect_vcfs(run_plan, run_plan["jobs"], backend=backend)
    query_id = _run_qc_query(qc_summary_sql(run_plan), _athena_result({"S1": 12, "S2": 11}))
    [start] = of(calls, "athena", "StartQueryExecution")
    assert start["QueryString"] == qc_summary_sql(run_plan)
    assert start["QueryExecutionContext"] == {"Database": "lake_db", "Catalog": "AwsDataCatalog"}
    assert start["WorkGroup"] == "wg" and start["ResultConfiguration"] == {
        "OutputLocation": "s3://athena-results/seqflow/qc_summary/"}

    calls.clear()
    outputs = finalise_run(run_plan, vcfs, query_id, backend=_backend())
    metrics = {"read_pairs": 1000, "pct_mapped": 98.25, "pct_duplicates": 3.0, "mean_depth": 31.5,
               "variants_called": 12, "snps": 10, "indels": 2}
    rows = [{"sample_id": s, "precision": None, "recall": None, "f1": None, **metrics, "variants_in_lake": n}
            for s, n in (("S1", 12), ("S2", 11))]
    assert outputs == {"results_uri": RESULTS, "qc_summary": f"{RESULTS}qc_summary.json",
                       "multiqc_report": f"{RESULTS}multiqc_report.html",
                       "lake_uri": "s3://lake/lake", "samples": rows, "status": "analysed", "failed_samples": {}}
    summary = json.loads(s3.get_object(Bucket="results", Key=f"{RESULTS[len('s3://results/'):]}qc_summary.json")
                         ["Body"].read())
    assert summary == {"run_id": RUN, "pipeline_version": "1.0.0", "reference": "lambda", "aligner": "bwa",
                       "caller": "bcftools", "status": "analysed", "failed_samples": {}, "unlisted_fastqs": [],
                       "samples": rows}
    assert [p["QueryExecutionId"] for p in of(calls, "athena", "GetQueryResults")] == [query_id]
    puts = [(p["Bucket"], p["Key"]) for p in of(calls, "s3", "PutObject")]
    prefix = RESULTS[len("s3://results/"):]
    assert sorted(puts) == [("results", f"{prefix}multiqc_report.html"), ("results", f"{prefix}qc_summary.json")]
    report = s3.get_object(Bucket="results", Key=f"{prefix}multiqc_report.html")["Body"].read().decode()
    assert "seqflow per-sample QC" in report and "S1" in report and "S2" in report

    record = _registry().get(RUN, KEY)
    assert record.status == "analysed"
    assert record.details["vcfs"] == {"S1": f"{RESULTS}S1/S1.vcf.gz", "S2": f"{RESULTS}S2/S2.vcf.gz"}
    assert record.details["samples"] == rows
    assert record.details["qc_summary"] == f"{RESULTS}qc_summary.json"
    assert record.details["engine"] == "batch"  # what plan recorded is kept
    assert record.details["identity"]["reference"] == "lambda"


def test_finalise_run_of_omics_takes_the_lake_counts_only(backend, s3, monkeypatch):
    from seqflow.tasks.analysis import collect_vcfs, finalise_run, qc_summary_sql

    set_variables(monkeypatch, settings().values)
    boto3.client("athena", region_name=REGION).create_work_group(Name="wg")
    run_plan = _plan(backend, samples=["S1"], engine="omics")
    vcfs = collect_vcfs(run_plan, run_plan["jobs"], omics_run_ids=["4001"], backend=backend)
    query_id = _run_qc_query(qc_summary_sql(run_plan), _athena_result({"S1": 7}))
    outputs = finalise_run(run_plan, vcfs, query_id, backend=_backend())
    assert outputs["samples"] == [{"sample_id": "S1", "precision": None, "recall": None, "f1": None,
                                   "variants_in_lake": 7}]
    # the HealthOmics run keeps the QC files elsewhere: the report has seqflow's table only
    assert outputs["multiqc_report"] == f"{RESULTS}multiqc_report.html"
    record = _registry().get(RUN, KEY)
    assert record.status == "analysed" and record.details["engine"] == "omics"
    assert record.details["vcfs"] == {"S1": f"s3://results/omics/{RUN}/1.0.0/lambda/bwa-bcftools/S1/4001/out/vcf/S1.vcf.gz"}


def test_query_rows_pages_types_and_refuses_a_failed_query():
    from seqflow.aws.backend import AwsBackend

    result = _athena_result({"S1": 12})

    class Hook:
        def __init__(self, pages):
            self.pages = pages

        def get_query_results_paginator(self, query_execution_id):
            assert query_execution_id == "q-1"
            return self.pages

    meta = {"ColumnInfo": result["column_info"]}
    # two pages: the header is on the first one only
    pages = [{"ResultSet": {"Rows": result["rows"][:1], "ResultSetMetadata": meta}},
             {"ResultSet": {"Rows": result["rows"][1:], "ResultSetMetadata": meta}}]
    backend = AwsBackend(settings=settings())
    [row] = backend.query_rows("q-1", athena_hook=Hook(pages))
    assert row["sample_id"] == "S1" and row["records"] == 12 and row["mean_gq"] == 55.5
    assert row["het_hom_ratio"] is None
    assert backend.query_rows(None) == []
    with pytest.raises(RuntimeError, match="Athena query q-1 did not succeed"):
        backend.query_rows("q-1", athena_hook=Hook(None))


# ---------------------------------------------------------------- HealthOmics requests


def _workflow_parameters() -> dict:
    import seqflow

    return json.loads((Path(seqflow.__file__).parent / "workflows/germline/parameters.json").read_text())


IMAGES = {"fastp_image": "ecr/fastp:1", "bwa_image": "ecr/bwa:1", "minimap2_image": "ecr/minimap2:1",
          "samtools_image": "ecr/samtools:1", "bcftools_image": "ecr/bcftools:1"}


@pytest.mark.parametrize("aligner", ["bwa", "minimap2"])
def test_omics_requests_give_the_workflow_its_declared_parameters_from_the_catalogue(backend, catalog, s3, aligner):
    from seqflow.aws.analysis import omics_requests

    _index(s3, aligner=aligner)
    run_plan = _plan(backend, engine="omics", aligner=aligner, samples=["S1"])
    [request] = omics_requests(run_plan["jobs"], settings=settings(), images=IMAGES)
    template = _workflow_parameters()
    parameters = request["parameters"]
    # whatever the workflow declares (parameters.json follows main.wdl): nothing it lacks, all it requires
    assert set(parameters) <= set(template), set(parameters) - set(template)
    assert {n for n, spec in template.items() if not spec["optional"]} <= set(parameters)

    ref = catalog.require("lambda")
    assert parameters["sample_id"] == "S1" and parameters["aligner"] == aligner
    assert parameters["fastq_r1"] == _raw(_fastq("S1", 1)) and parameters["fastq_r2"] == _raw(_fastq("S1", 2))
    assert parameters["reference_fasta"] == ref.fasta
    for name, value in parameters.items():
        if name.startswith("reference_") and name not in ("reference_fasta", "reference_ploidy"):
            assert value.startswith(ref.fasta), (name, value)
    # every file the run is given exists: the catalogue's FASTA, .fai, ploidy file and this aligner's index
    uris = sorted(v for v in parameters.values() if isinstance(v, str) and v.startswith("s3://"))
    assert set(ref.index_files(aligner)) | {ref.fasta, ref.fasta + ".fai"} <= set(uris)
    if "reference_ploidy" in template:
        assert parameters["reference_ploidy"] == ref.ploidy_file
    for uri in uris:
        bucket, key = uri[len("s3://"):].split("/", 1)
        s3.head_object(Bucket=bucket, Key=key)
    other = {"bwa": "minimap2", "minimap2": "bwa"}[aligner]
    assert f"{other}_image" not in parameters and parameters[f"{aligner}_image"] == IMAGES[f"{aligner}_image"]
    assert not set(ref.index_files(other)) & set(uris)

    assert {k: v for k, v in request.items() if k != "parameters"} == {
        "workflow_id": "1234567", "role_arn": "arn:aws:iam::123456789012:role/omics", "run_group_id": None,
        "output_uri": f"s3://results/omics/{RUN}/1.0.0/lambda/{aligner}-bcftools/S1/",
        "run_id": RUN, "sample_id": "S1", "project": "seqflow-test", "pipeline_version": "1.0.0",
        # past the run quota HealthOmics drops the oldest run's record instead of refusing new runs
        "retention_mode": "REMOVE", "cache_id": None, "cache_behavior": None,
    }
    _check_start_run_against_botocore(request)


def _check_start_run_against_botocore(request: dict) -> dict:
    """The StartRun request the operator sends for ``request``, checked against botocore's model of HealthOmics."""
    from botocore.validate import validate_parameters

    from seqflow.aws.omics import OmicsStartRunOperator

    op = OmicsStartRunOperator(task_id="omics_run", **request)
    op._validate()
    params = {k: v for k, v in op.start_run_params().items() if v is not None}
    params = {"requestId": "seqflow-" + "0" * 48, "roleArn": params.pop("role_arn"),
              "outputUri": params.pop("output_uri"), **params}
    shape = boto3.client("omics", region_name=REGION).meta.service_model.operation_model("StartRun").input_shape
    validate_parameters(params, shape)  # raises ParamValidationError naming any field the API does not take
    return params


@pytest.mark.parametrize("aligner", ["bwa", "minimap2"])
def test_omics_runs_use_the_run_cache_of_the_setting(backend, catalog, s3, aligner):
    from seqflow.aws.analysis import omics_requests

    _index(s3, aligner=aligner)
    run_plan = _plan(backend, engine="omics", aligner=aligner, samples=["S1", "S2"])
    requests = omics_requests(run_plan["jobs"], settings=settings(omics_run_cache_id="4455667",
                                                                   omics_run_group_id="7654321"), images=IMAGES)
    assert len(requests) == 2
    for request in requests:
        sent = _check_start_run_against_botocore(request)
        assert (sent["cacheId"], sent["cacheBehavior"], sent["retentionMode"], sent["runGroupId"]) == (
            "4455667", "CACHE_ON_FAILURE", "REMOVE", "7654321")


def test_omics_requests_refuse_what_the_workflow_cannot_take(backend):
    from seqflow.aws.analysis import omics_requests

    [job] = _plan(backend, engine="omics", samples=["S1"])["jobs"]
    lanes = {**job, "r1": [job["r1"][0], job["r1"][0].replace("L001", "L002")]}
    with pytest.raises(ValueError, match=r"of run .*: the HealthOmics workflow's tasks take one R1 FASTQ, the job has 2 .*--no-lane-splitting true"):
        omics_requests([lanes], settings=settings(), images=IMAGES)
    with pytest.raises(LookupError, match="bwa_image"):
        omics_requests([job], settings=settings(), images={k: v for k, v in IMAGES.items() if k != "bwa_image"})


def test_omics_images_come_from_the_batch_job_definitions(moto, calls):
    from seqflow.aws.analysis import omics_images
    from seqflow.aws.batch import image_job_definition_keys

    batch = boto3.client("batch", region_name=REGION)
    # one job definition per step implementation (the catalogue's image of each), two revisions each
    keys = image_job_definition_keys()
    for parameter, key in keys.items():
        for revision in (1, 2):
            batch.register_job_definition(jobDefinitionName=settings().get(key), type="container",
                                          containerProperties={"image": f"ecr/{parameter}:{revision}", "vcpus": 1,
                                                               "memory": 512, "command": ["true"]})
    assert omics_images(settings()) == {parameter: f"ecr/{parameter}:2" for parameter in keys}
    assert set(keys) == {"fastp_image", "bwa_image", "minimap2_image", "samtools_image", "bcftools_image",
                         "freebayes_image"}
    assert [p["jobDefinitionName"] for p in of(calls, "batch", "DescribeJobDefinitions")] == [
        settings().get(key) for key in keys.values()]
    assert all(p["status"] == "ACTIVE" for p in of(calls, "batch", "DescribeJobDefinitions"))
