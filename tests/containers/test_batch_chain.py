"""A sample through every Batch job as the aws profile submits them, on real tools.

Each job is what Batch would run: the job definition's command (from the step
catalogue, as terraform/modules/batch builds it) with the SubmitJob parameters of
seqflow.aws.batch.sample_requests filled in, under the image's S3 staging
entrypoint (containers/_common/s3_stage.py) against moto's S3, in a fresh scratch
folder, with the image's /usr/local/bin (the scripts and the shared helper) on PATH.
The next job reads only what the previous ones uploaded.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from seqflow.analysis.catalog import catalog, containers_dir
from seqflow.aws import batch
from seqflow.aws.settings import AwsSettings

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")

RUN = "241120_A01234_0042_AHXXXXXDSX"
REGION = "eu-west-1"


def _stager():
    spec = importlib.util.spec_from_file_location("s3_stage", containers_dir() / "_common" / "s3_stage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def s3(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        client = boto3.client("s3", region_name=REGION)
        for bucket in ("raw", "results"):
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client


def _image_bin(tmp_path: Path, image: str) -> Path:
    """The image's /usr/local/bin: its scripts and the shared helper, side by side."""
    bin_dir = tmp_path / f"bin-{image}"
    if not bin_dir.is_dir():
        bin_dir.mkdir()
        for impl in catalog().steps:
            if impl.image == image:
                shutil.copy2(impl.script_path(), bin_dir / impl.script)
        shutil.copy2(containers_dir() / "_common" / "seqflow_common.sh", bin_dir / "seqflow_common.sh")
    return bin_dir


def _keys(client, bucket, prefix=""):
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def _reference(s3, toy, tmp_path, aligner):
    """The reference catalogue's folder in S3: FASTA, .fai, the aligner's index, the ploidy file."""
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    shutil.copy(toy["ref"], ref_dir / "toy.fa")
    subprocess.run([str(catalog().reference_steps(aligner)[0].script_path()), str(ref_dir / "toy.fa")], check=True)
    for path in ref_dir.iterdir():
        s3.upload_file(str(path), "raw", f"references/toy/{path.name}")
    s3.upload_file(str(toy["ploidy"]), "raw", "references/toy/toy.ploidy")


def _batch_job(aligner: str, **kw) -> dict:
    return {"run_id": RUN, "pipeline_version": "1.0.0", "reference": "toy", "aligner": aligner, "caller": "bcftools",
            "sample_id": "S1", "r1": f"s3://raw/runs/{RUN}/S1_S1_R1_001.fastq.gz",
            "r2": f"s3://raw/runs/{RUN}/S1_S1_R2_001.fastq.gz", "reference_fasta": "s3://raw/references/toy/toy.fa",
            "ploidy_file": "s3://raw/references/toy/toy.ploidy", **kw}


def _run_job(s3, tmp_path, monkeypatch, definitions, step, request) -> int:
    """One Batch job as Batch runs it: the job definition's command with the request's parameters, staged."""
    definition = definitions[request["job_definition"]]
    # the job definition's defaults (threads with fewer vCPUs; regions "-": the whole genome)
    parameters = {"threads": "2", "regions": "-", **request["parameters"]}
    argv = [parameters[a[len("Ref::"):]] if a.startswith("Ref::") else a for a in definition["command"]]
    env = {e["name"]: e["value"] for e in request["container_overrides"]["environment"]}
    with monkeypatch.context() as m:
        m.setenv("PATH", f"{_image_bin(tmp_path, definition['image'])}:{os.environ['PATH']}")
        m.setenv("SEQFLOW_WORKDIR", str(tmp_path / f"scratch-{step}"))
        m.setenv("SEQFLOW_INPUTS", env["SEQFLOW_INPUTS"])
        m.setenv("SEQFLOW_OUTPUT_URI", env["SEQFLOW_OUTPUT_URI"])
        return _stager().main(argv, client=s3)


def _settings_for(definitions):
    return AwsSettings({"project": "seqflow-test", "results_bucket": "results", "batch_job_queue": "q",
                        **{f"batch_job_definition_{d}": d for d in definitions}})


@pytest.mark.parametrize("aligner", catalog().aligners)
def test_every_batch_job_of_a_sample_runs_from_its_request_and_job_definition(s3, toy, tmp_path, monkeypatch,
                                                                               aligner):
    _reference(s3, toy, tmp_path, aligner)
    for end in ("r1", "r2"):
        s3.upload_file(str(toy[end]), "raw", f"runs/{RUN}/S1_S1_{end.upper()}_001.fastq.gz")

    definitions = batch.job_definitions()
    requests = batch.sample_requests(_batch_job(aligner), _settings_for(definitions))
    assert list(requests) == list(batch.BATCH_STEPS)
    for step, request in requests.items():
        assert _run_job(s3, tmp_path, monkeypatch, definitions, step, request) == 0, step

    prefix = f"results/{RUN}/1.0.0/toy/{aligner}-bcftools/S1/"
    declared = {prefix + f for s in catalog().sample_steps(aligner, "bcftools") for f in s.output_files("S1").values()}
    assert set(_keys(s3, "results")) == declared
    assert {prefix + f"S1.{s}.log" for s in batch.BATCH_STEPS} <= declared  # every step's log went up
    local = tmp_path / "S1.vcf.gz"
    s3.download_file("results", prefix + "S1.vcf.gz", str(local))
    calls = subprocess.run(["bcftools", "query", "-f", "%POS\t%REF\t%ALT\t[%GT]\n", str(local)],
                           capture_output=True, text=True, check=True).stdout.split("\n")
    assert {tuple(c.split("\t")) for c in calls if c} == {
        (str(pos), r, a, "1") for pos, (r, a) in toy["alts"].items()}


def test_a_batch_job_that_refuses_its_reads_exits_3_says_why_and_uploads_only_its_log(s3, toy, tmp_path,
                                                                                       monkeypatch, capfd):
    """A truncated R1: the fastp job fails as an input error, CloudWatch (stderr) gets the cause,
    and the log goes up beside where the results would be, nothing else."""
    data = toy["r1"].read_bytes()
    truncated = tmp_path / "S1_S1_R1_001.fastq.gz"
    truncated.write_bytes(data[: len(data) // 2])
    s3.upload_file(str(truncated), "raw", f"runs/{RUN}/S1_S1_R1_001.fastq.gz")
    s3.upload_file(str(toy["r2"]), "raw", f"runs/{RUN}/S1_S1_R2_001.fastq.gz")
    definitions = batch.job_definitions()
    request = batch.sample_requests(_batch_job("bwa"), _settings_for(definitions))["fastp"]
    assert _run_job(s3, tmp_path, monkeypatch, definitions, "fastp", request) == 3
    err = capfd.readouterr().err
    assert ("seqflow-error: sample S1: input error: R1 file inputs/S1_S1_R1_001.fastq.gz is truncated or corrupt, "
            "not one whole gzip file: gzip: inputs/S1_S1_R1_001.fastq.gz: unexpected end of file") in err
    prefix = f"results/{RUN}/1.0.0/toy/bwa-bcftools/S1/"
    assert _keys(s3, "results") == [prefix + "S1.fastp.log"]
    local = tmp_path / "S1.fastp.log"
    s3.download_file("results", prefix + "S1.fastp.log", str(local))
    assert local.read_text().splitlines()[-1].startswith("seqflow-error: sample S1: input error: R1 file")


def _single_end_requests_or_skip(job, settings):
    try:
        return batch.sample_requests(job, settings)
    except ValueError as exc:  # seqflow.aws.batch does not yet give "-" for an absent optional input
        pytest.skip(f"Batch requests for single-end reads: {exc}")


@pytest.mark.parametrize("aligner", catalog().aligners)
def test_single_end_reads_run_through_every_batch_job(s3, toy, tmp_path, monkeypatch, aligner):
    _reference(s3, toy, tmp_path, aligner)
    s3.upload_file(str(toy["r1"]), "raw", f"runs/{RUN}/S1_S1_R1_001.fastq.gz")
    definitions = batch.job_definitions()
    requests = _single_end_requests_or_skip(_batch_job(aligner, r2=[]), _settings_for(definitions))
    for step in ("fastp", "align"):
        assert requests[step]["parameters"]["r2"] == "-", step
        staged = requests[step]["container_overrides"]["environment"][0]["value"]
        assert "R2" not in staged, step
    for step, request in requests.items():
        assert _run_job(s3, tmp_path, monkeypatch, definitions, step, request) == 0, step
    prefix = f"results/{RUN}/1.0.0/toy/{aligner}-bcftools/S1/"
    declared = {prefix + f for s in catalog().sample_steps(aligner, "bcftools") for f in s.output_files("S1").values()}
    assert set(_keys(s3, "results")) == declared - {prefix + "S1.trimmed_R2.fastq.gz"}


def _settings():
    return AwsSettings({"project": "p", "results_bucket": "results", "batch_job_queue": "q",
                        **{f"batch_job_definition_{d}": f"sf-{d}" for d in batch.job_definitions()}})


JOB = {"run_id": RUN, "pipeline_version": "1.0.0", "reference": "GRCh38", "aligner": "bwa", "caller": "bcftools",
       "sample_id": "S1", "r1": "s3://raw/runs/R/S1_R1.fastq.gz", "r2": "s3://raw/runs/R/S1_R2.fastq.gz",
       "reference_fasta": "s3://raw/references/GRCh38/GRCh38.fa",
       "ploidy_file": "s3://raw/references/GRCh38/GRCh38.ploidy"}


def test_requests_stage_each_input_with_exactly_the_files_beside_it():
    requests = batch.sample_requests(JOB, _settings())
    out = f"s3://results/results/{RUN}/1.0.0/GRCh38/bwa-bcftools/S1/"
    fasta = JOB["reference_fasta"]
    call = requests["call_variants"]
    assert call["job_definition"] == "sf-call_variants_bcftools"
    assert call["parameters"] == {"sample_id": "S1", "reference": "inputs/GRCh38.fa", "bam": "inputs/S1.bam",
                                  "ploidy_file": "inputs/GRCh38.ploidy"}
    env = {e["name"]: e["value"] for e in call["container_overrides"]["environment"]}
    assert env == {"SEQFLOW_INPUTS": f"{fasta} {fasta}.fai {out}S1.bam {out}S1.bam.bai {JOB['ploidy_file']}",
                   "SEQFLOW_OUTPUT_URI": out}
    align = requests["align"]
    assert align["job_definition"] == "sf-align_bwa"
    staged = {e["name"]: e["value"] for e in align["container_overrides"]["environment"]}["SEQFLOW_INPUTS"].split()
    assert staged == [fasta, *(fasta + s for s in (".fai", ".amb", ".ann", ".bwt", ".pac", ".sa")),
                      f"{out}S1.trimmed_R1.fastq.gz", f"{out}S1.trimmed_R2.fastq.gz"]
    assert "command" not in align["container_overrides"]  # the job definition's command is the catalogue's
    minimap2 = batch.sample_requests({**JOB, "aligner": "minimap2"}, _settings())["align"]
    assert minimap2["job_definition"] == "sf-align_minimap2"
    assert f"{fasta}.mmi" in minimap2["container_overrides"]["environment"][0]["value"]
    assert f"{fasta}.amb" not in minimap2["container_overrides"]["environment"][0]["value"]
    for request in requests.values():
        assert request["tags"] == {"run_id": RUN, "sample_id": "S1", "project": "p", "pipeline_version": "1.0.0"}


def test_requests_refuse_jobs_the_steps_cannot_run():
    with pytest.raises(ValueError, match="ploidy_file must be the s3:// URI of a file"):
        batch.sample_requests({**JOB, "ploidy_file": ""}, _settings())
    with pytest.raises(ValueError, match="take one R1 FASTQ, the job has 2"):
        batch.sample_requests({**JOB, "r1": ["s3://raw/a.fastq.gz", "s3://raw/b.fastq.gz"]}, _settings())
    assert batch.sample_requests({**JOB, "r1": [JOB["r1"]]}, _settings())["fastp"]["parameters"]["r1"] == \
        "inputs/S1_R1.fastq.gz"
    with pytest.raises(ValueError, match="lacks caller"):
        batch.sample_requests({k: v for k, v in JOB.items() if k != "caller"}, _settings())
    with pytest.raises(ValueError, match="unknown aligner"):
        batch.sample_requests({**JOB, "aligner": "bowtie2"}, _settings())


def test_every_image_has_a_job_definition_for_the_healthomics_images():
    assert batch.image_job_definition_keys() == {
        "bcftools_image": "batch_job_definition_call_variants_bcftools",
        "bwa_image": "batch_job_definition_align_bwa",
        "fastp_image": "batch_job_definition_fastp",
        "freebayes_image": "batch_job_definition_call_variants_freebayes",
        "minimap2_image": "batch_job_definition_align_minimap2",
        "samtools_image": "batch_job_definition_bam_qc",
    }
    assert batch.BATCH_STEPS == {
        "fastp": ("batch_job_definition_fastp",),
        "align": ("batch_job_definition_align_bwa", "batch_job_definition_align_minimap2"),
        "call_variants": ("batch_job_definition_call_variants_bcftools", "batch_job_definition_call_variants_freebayes"),
        "bam_qc": ("batch_job_definition_bam_qc",),
        "vcf_stats": ("batch_job_definition_vcf_stats",),
    }


def test_calling_scattered_as_an_array_job_and_gathered_equals_the_whole_genome_job(s3, toy, tmp_path, monkeypatch):
    """seqflow.aws.scattered_calling on real tools: the array's children (the call_variants job definition
    with AWS_BATCH_JOB_ARRAY_INDEX 0..2, each reading its regions from the plan) then gather_calls give the
    records of the whole-genome job; each child leaves a shard.json by which the shards are then reused."""
    from seqflow.aws import scattered_calling as sc
    from seqflow.analysis.scatter import shard_to_dict
    from seqflow.references.intervals import balanced_shards

    _reference(s3, toy, tmp_path, "bwa")
    for end in ("r1", "r2"):
        s3.upload_file(str(toy[end]), "raw", f"runs/{RUN}/S1_S1_{end.upper()}_001.fastq.gz")
    definitions = batch.job_definitions()
    settings = _settings_for(definitions)
    requests = batch.sample_requests(_batch_job("bwa"), settings)
    for step in ("fastp", "align", "call_variants"):  # the plain whole-genome job first
        assert _run_job(s3, tmp_path, monkeypatch, definitions, step, requests[step]) == 0, step
    prefix = f"results/{RUN}/1.0.0/toy/bwa-bcftools/S1/"

    def records() -> list[str]:
        local = tmp_path / "S1.vcf.gz"
        s3.download_file("results", prefix + "S1.vcf.gz", str(local))
        return subprocess.run(["bcftools", "view", "-H", str(local)], capture_output=True, text=True,
                              check=True).stdout.splitlines()

    whole = records()
    assert len(whole) == len(toy["alts"])
    s3.delete_object(Bucket="results", Key=prefix + "S1.vcf.gz")

    call = requests["call_variants"]
    shards = [{**shard_to_dict(s), "argument": s.argument} for s in balanced_shards([("chrT", 30000)], 10000)]
    assert [s["argument"] for s in shards] == ["chrT:1-10000", "chrT:10001-20000", "chrT:20001-30000"]
    gather = sc.gather_request(_batch_job("bwa"), call, shards, settings)
    fingerprint = sc.input_fingerprint(s3, call)
    root = sc.shards_uri(call)
    plan_uri = f"{root}{sc.PLAN}"
    s3.put_object(Bucket="results", Key=plan_uri[len("s3://results/"):],
                  Body=json.dumps(sc.plan("S1", shards, [0, 1, 2], fingerprint)).encode())
    calling, gathering = sc.submissions(call, gather, shards, [0, 1, 2], plan_uri)
    assert calling["arrayProperties"] == {"size": 3}
    for index in range(3):  # what Batch runs for each child of the array
        with monkeypatch.context() as m:
            m.setenv("AWS_BATCH_JOB_ARRAY_INDEX", str(index))
            m.setenv("SEQFLOW_SHARDS_PLAN", plan_uri)
            assert _run_job(s3, tmp_path, monkeypatch, definitions, f"call_variants_shard{index}", {
                "job_definition": calling["jobDefinition"], "parameters": calling["parameters"],
                "container_overrides": calling["containerOverrides"]}) == 0, index
    for shard in shards:
        assert {f"{prefix}shards/{shard['key']}/{n}" for n in ("S1.vcf.gz", "S1.vcf.gz.tbi", "shard.json")} <= set(
            _keys(s3, "results", f"{prefix}shards/{shard['key']}/"))
        assert sc.reusable(s3, root, shard, fingerprint)  # a resubmission would reuse every shard
    assert _run_job(s3, tmp_path, monkeypatch, definitions, "gather_calls", {
        "job_definition": gathering["jobDefinition"], "parameters": gathering["parameters"],
        "container_overrides": gathering["containerOverrides"]}) == 0
    assert records() == whole
    assert not sc.reusable(s3, root, shards[0], {**fingerprint, "job_definition": "another"})
