"""The local runner (seqflow.analysis.steps): the catalogue's scripts as processes, for one
sample job, on tiny real data; outputs where the catalogue and the analysis identity put them.
Paired-end and single-end jobs; reads the pipeline must refuse (StepInputError naming the
sample, the file and the cause); tool failures whose error carries the tool's own line; the
step's log beside the results after success and after failure."""

from __future__ import annotations

import gzip
import importlib.util
import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from seqflow.analysis import report, steps
from seqflow.analysis.catalog import catalog
from seqflow.analysis.steps import SampleJob, StepError, StepInputError
from seqflow.config import REPO_ROOT


def _load_bad_reads():
    """tests/containers/bad_reads.py (importlib mode puts no test folder on sys.path)."""
    path = REPO_ROOT / "tests" / "containers" / "bad_reads.py"
    spec = importlib.util.spec_from_file_location("seqflow_test_bad_reads", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bad_reads = _load_bad_reads()

RUN = "241120_A01234_0042_AHXXXXXDSX"
SNPS = (4000, 12000)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = random.Random(5)
    d = tmp_path_factory.mktemp("runner")
    seq = [rng.choice("ACGT") for _ in range(20000)]
    ref = d / "ref" / "toy.fa"
    ref.parent.mkdir()
    ref.write_text(">chrT\n" + "\n".join("".join(seq[i:i + 60]) for i in range(0, len(seq), 60)) + "\n")
    (ref.parent / "toy.ploidy").write_text("*\t*\t*\t*\t2\n")
    for pos in SNPS:
        seq[pos - 1] = {"A": "C", "C": "G", "G": "T", "T": "A"}[seq[pos - 1]]
    (d / "mutated.fa").write_text(">chrT\n" + "".join(seq) + "\n")
    reads = {}
    for lane, seed in ((1, 1), (2, 2)):  # two lanes: the runner concatenates them
        subprocess.run(["wgsim", "-e", "0", "-r", "0", "-R", "0", "-1", "100", "-2", "100", "-N", "1000", "-S",
                        str(seed), str(d / "mutated.fa"), str(d / "a.fq"), str(d / "b.fq")],
                       check=True, capture_output=True)
        for end, fq in ((1, "a.fq"), (2, "b.fq")):
            gz = d / f"S1_S1_L00{lane}_R{end}_001.fastq.gz"
            with open(d / fq, "rb") as src, gzip.open(gz, "wb") as dst:
                shutil.copyfileobj(src, dst)
            reads.setdefault(end, []).append(str(gz))
    return {"dir": d, "ref": ref, "reads": reads}


def _job(data, aligner="bwa", **kw) -> SampleJob:
    d = data["dir"]
    fields = dict(run_id=RUN, pipeline_version="1.0.0", sample_id="S1", r1=data["reads"][1], r2=data["reads"][2],
                  reference_fasta=str(data["ref"]), reference="toy", aligner=aligner, caller="bcftools",
                  ploidy_file=str(data["ref"].with_suffix(".ploidy")), threads=2,
                  results_root=str(d / "results"), scratch_root=str(d / "scratch"))
    return SampleJob(**{**fields, **kw})


@pytest.mark.parametrize("aligner", ["bwa", "minimap2"])
def test_a_sample_through_every_step_lands_where_the_identity_and_catalogue_say(data, aligner):
    """Paired-end, two lanes; every step's log among its results."""
    steps.index_reference(data["ref"], aligner)
    job = _job(data, aligner)
    fastp = steps.qc_reads(job)
    aligned = steps.align(job, fastp["trimmed_r1"], fastp["trimmed_r2"])
    called = steps.call_variants(job, aligned["bam"])
    stats = {**steps.bam_qc(job, aligned["bam"]), **steps.vcf_stats(job, called["vcf"])}
    steps.drop_scratch(job)

    results = data["dir"] / "results" / RUN / "1.0.0" / "toy" / f"{aligner}-bcftools" / "S1"
    assert job.results_dir == results
    # the keys the DAG reads keep their names
    assert {"trimmed_r1", "trimmed_r2", "fastp_json"} <= set(fastp)
    assert {"bam", "markdup"} <= set(aligned) and "vcf" in called
    assert {"flagstat", "coverage", "samtools_stats", "bcftools_stats"} <= set(stats)
    outputs = {**fastp, **aligned, **called, **stats}
    declared = {name for s in catalog().sample_steps(aligner, "bcftools") for name in s.outputs}
    assert set(outputs) == declared
    intermediate = {n for s in catalog().sample_steps(aligner, "bcftools") for n, o in s.outputs.items()
                    if o.intermediate}
    for name, path in outputs.items():
        if name in intermediate:
            assert job.scratch_dir in Path(path).parents
        else:
            assert Path(path).parent == results and Path(path).is_file(), name
    # the trimmed reads were intermediates: dropped with the sample's scratch after its last step
    assert not job.scratch_dir.exists()
    # and beside each step's log, what it used (seqflow.analysis.steps.StepUsage)
    usage = [f"S1.{s.name}{steps.USAGE_SUFFIX}" for s in catalog().sample_steps(aligner, "bcftools")]
    assert sorted(p.name for p in results.iterdir()) == sorted(
        [Path(p).name for n, p in outputs.items() if n not in intermediate] + usage)
    for s in catalog().sample_steps(aligner, "bcftools"):
        assert (results / f"S1.{s.name}.log").read_text().startswith("== "), s.id

    calls = subprocess.run(["bcftools", "query", "-f", "%POS\t[%GT]\n", called["vcf"]], capture_output=True,
                           text=True, check=True).stdout.split()
    assert calls == [str(SNPS[0]), "1/1", str(SNPS[1]), "1/1"]  # diploid ploidy file

    manifest = json.loads(report.write_manifest(results.parent, {"run_id": RUN}).read_text())
    versions = manifest["tool_versions"]
    assert list(versions) == ["fastp", "align", "call_variants", "bam_qc", "vcf_stats"]
    assert set(versions["align"]["tools"]) == {aligner, "samtools"}
    assert all(entry["consistent"] and entry["samples"] == ["S1"] for entry in versions.values())


def test_a_job_without_the_ploidy_file_fails_naming_it(data):
    job = _job(data, ploidy_file="")
    with pytest.raises(StepError, match="no ploidy_file.*<name>.ploidy beside the FASTA of toy"):
        steps.call_variants(job, "x.bam")


def test_a_missing_index_fails_before_the_script_runs(data, tmp_path):
    bare = tmp_path / "bare.fa"
    shutil.copy(data["ref"], bare)
    job = _job(data, reference_fasta=str(bare))
    with pytest.raises(StepError, match=r"step align_bwa: input 'reference' needs .*bare\.fa\.fai"):
        steps.align(job, data["reads"][1][0], data["reads"][2][0])


def test_unknown_aligner_is_refused_naming_the_catalogues_aligners(data):
    with pytest.raises(ValueError, match="offers bwa, minimap2"):
        steps.index_reference(data["ref"], "bowtie2")


def test_a_failing_script_raises_with_its_exit_code_and_the_tools_own_error(data, tmp_path):
    job = _job(data, results_root=str(tmp_path / "results"))
    broken = tmp_path / "S1.bam"
    broken.write_text("not a bam")
    (tmp_path / "S1.bam.bai").write_text("")
    with pytest.raises(StepError) as info:
        steps.bam_qc(job, str(broken))
    err = info.value
    assert not isinstance(err, StepInputError) and err.exit_code == 1 and err.step == "bam_qc"
    first = str(err).splitlines()[0]
    assert first == (f"step bam_qc (samtools/bam_qc.sh) of sample S1 exited with 1: samtools flagstat "
                     f'exited with 1: Failed to read header for "{broken}"')
    assert err.cause == f'sample S1: samtools flagstat exited with 1: Failed to read header for "{broken}"'
    assert err.log == job.results_dir / "S1.bam_qc.log" and err.log.is_file()
    assert "== samtools flagstat" in str(err)  # the log's tail


def _bad_job(data, tmp_path, case, **kw):
    lane = 0  # lane 1 of the fixture: one FASTQ per end
    r1, r2, culprit = bad_reads.write_case(case, Path(data["reads"][1][lane]), Path(data["reads"][2][lane]),
                                           tmp_path / "reads")
    job = _job(data, r1=[str(r1)], r2=[str(r2)], results_root=str(tmp_path / "results"),
               scratch_root=str(tmp_path / "scratch"), **kw)
    return job, culprit


@pytest.mark.parametrize("case", list(bad_reads.CASES))
def test_reads_that_cannot_be_trusted_are_an_input_error_naming_the_sample_the_file_and_the_cause(
        data, tmp_path, case):
    job, culprit = _bad_job(data, tmp_path, case)
    with pytest.raises(StepInputError) as info:
        steps.qc_reads(job)
    err = info.value
    assert isinstance(err, StepError) and err.exit_code == steps.INPUT_ERROR_EXIT == 3 and err.step == "fastp"
    first = str(err).splitlines()[0]
    assert first.startswith("step fastp (fastp/fastp_qc.sh) of sample S1 exited with 3: input error: "), first
    assert str(culprit) in first and re.search(bad_reads.CASES[case][1], first), first
    assert err.cause.startswith("sample S1: input error: ") and err.cause.removeprefix("sample S1: ") in first
    # the log is kept beside the results with what the step used, and nothing else is published
    assert err.log == job.results_dir / "S1.fastp.log"
    assert sorted(p.name for p in job.results_dir.iterdir()) == ["S1.fastp.log", "S1.fastp.usage.jsonl"]
    assert [u["exit_code"] for u in steps.read_usage(job.results_dir / "S1.fastp.usage.jsonl")] == [3]
    assert err.log.read_text().splitlines()[-1].endswith(err.cause)


def test_a_lane_at_fault_is_named_when_lanes_were_joined(data, tmp_path):
    r1, _, _ = bad_reads.write_case("truncated_gzip", Path(data["reads"][1][1]), Path(data["reads"][2][1]),
                                    tmp_path / "reads")
    job = _job(data, r1=[data["reads"][1][0], str(r1)], results_root=str(tmp_path / "results"),
               scratch_root=str(tmp_path / "scratch"))
    with pytest.raises(StepInputError) as info:
        steps.qc_reads(job)
    lines = str(info.value).splitlines()
    assert "lanes_R1.fastq.gz is truncated or corrupt" in lines[0]
    assert lines[1] == f"R1 is the lanes {data['reads'][1][0]}, {r1} joined"
    assert lines[2] == f"R1 lane file {r1}: gzip: {r1}: unexpected end of file"


def test_a_job_without_reads_fails_naming_the_sample(data, tmp_path):
    job = _job(data, r1=[], r2=[], scratch_root=str(tmp_path))
    with pytest.raises(StepInputError, match="sample S1: the job lists no R1 FASTQ"):
        steps.qc_reads(job)
    job = _job(data, r1=[str(tmp_path / "gone_R1.fastq.gz")], scratch_root=str(tmp_path))
    with pytest.raises(StepError, match=r"sample S1: R1 FASTQ .*gone_R1.fastq.gz does not exist"):
        steps.qc_reads(job)


def test_mates_whose_names_differ_fail_the_alignment_with_bwas_own_message(data, tmp_path):
    """Reads that reach the alignment unchecked: bwa's own check, as an input error."""
    steps.index_reference(data["ref"], "bwa")
    r1, r2, _ = bad_reads.write_case("mate_names_differ", Path(data["reads"][1][0]), Path(data["reads"][2][0]),
                                     tmp_path / "reads")
    job = _job(data, results_root=str(tmp_path / "results"))
    with pytest.raises(StepInputError) as info:
        steps.align(job, str(r1), str(r2))
    first = str(info.value).splitlines()[0]
    assert first.startswith(f"step align_bwa (bwa/align.sh) of sample S1 exited with 3: input error: R1 file {r1} "
                            f"and R2 file {r2} do not pair up: bwa: [mem_sam_pe] paired reads have different names: ")
    assert "markdup" not in first
    assert (job.results_dir / "S1.align.log").is_file()


def test_a_corrupt_index_fails_with_bwas_own_error_line_not_a_later_stages(data, tmp_path):
    ref = tmp_path / "ref" / "toy.fa"
    ref.parent.mkdir()
    shutil.copy(data["ref"], ref)
    steps.index_reference(ref, "bwa")
    Path(f"{ref}.bwt").write_bytes(b"")  # there, so the runner's check passes; bwa cannot read it
    job = _job(data, reference_fasta=str(ref), results_root=str(tmp_path / "results"))
    with pytest.raises(StepError) as info:
        steps.align(job, data["reads"][1][0], data["reads"][2][0])
    err = info.value
    assert not isinstance(err, StepInputError) and err.exit_code == 1
    assert str(err).splitlines()[0] == ("step align_bwa (bwa/align.sh) of sample S1 exited with 1: bwa mem "
                                        "exited with 1: [fread] Unexpected end of file")
    assert "seqflow: the last 20 lines of" in str(err)  # the log's tail, as the script printed it
    assert err.log == job.results_dir / "S1.align.log" and "== samtools markdup" in err.log.read_text()


def test_a_failed_index_build_names_the_tool(tmp_path):
    fasta = tmp_path / "empty.fa"
    fasta.write_text("")
    with pytest.raises(StepError, match=r"index_reference_minimap2 .* exited with 1: reference .*empty\.fa: "
                                        r"samtools faidx exited with 1"):
        steps.index_reference(fasta, "minimap2")
    assert (tmp_path / "empty.fa.minimap2-index.log").is_file()


def test_an_aligned_job_with_r2_needs_its_trimmed_r2(data):
    with pytest.raises(StepError, match="the job has R2 FASTQs but no trimmed R2 was given"):
        steps.align(_job(data), data["reads"][1][0])


@pytest.mark.parametrize("aligner", ["bwa", "minimap2"])
def test_a_single_end_sample_through_every_step_calls_the_planted_snps(data, tmp_path, aligner):
    steps.index_reference(data["ref"], aligner)
    job = _job(data, aligner, r2=[], results_root=str(tmp_path / "results"), scratch_root=str(tmp_path / "scratch"))
    assert job.single_end
    fastp = steps.qc_reads(job)
    assert "trimmed_r2" not in fastp
    aligned = steps.align(job, fastp["trimmed_r1"])
    called = steps.call_variants(job, aligned["bam"])
    stats = {**steps.bam_qc(job, aligned["bam"]), **steps.vcf_stats(job, called["vcf"])}
    steps.drop_scratch(job)

    outputs = {**fastp, **aligned, **called, **stats}
    declared = {n for s in catalog().sample_steps(aligner, "bcftools") for n in s.outputs}
    assert set(outputs) == declared - {"trimmed_r2"}
    published = {Path(p).name for n, p in outputs.items() if n != "trimmed_r1"}
    usage = {f"S1.{s.name}{steps.USAGE_SUFFIX}" for s in catalog().sample_steps(aligner, "bcftools")}
    assert {p.name for p in job.results_dir.iterdir()} == published | usage
    report_ = json.loads(Path(fastp["fastp_json"]).read_text())
    assert report_["summary"]["sequencing"].startswith("single end")
    assert report_["read1_before_filtering"]["total_reads"] == 2000  # both lanes of R1, joined
    calls = subprocess.run(["bcftools", "query", "-f", "%POS\t[%GT]\n", called["vcf"]], capture_output=True,
                           text=True, check=True).stdout.split()
    assert calls == [str(SNPS[0]), "1/1", str(SNPS[1]), "1/1"]
    assert json.loads(Path(stats["flagstat"]).read_text())["QC-passed reads"]["paired in sequencing"] == 0


def test_step_scripts_map_is_derived_from_the_catalogue():
    assert steps.STEP_SCRIPTS == {s.id: s.script_relpath for s in catalog().steps}
    assert steps.ALIGNERS == ("bwa", "minimap2")
