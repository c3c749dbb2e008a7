"""The local runner (seqflow.analysis.steps): the catalogue's scripts as processes, for one
sample job, on tiny real data; outputs where the catalogue and the analysis identity put them."""

from __future__ import annotations

import gzip
import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from seqflow.analysis import report, steps
from seqflow.analysis.catalog import catalog
from seqflow.analysis.steps import SampleJob, StepError

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
    assert sorted(p.name for p in results.iterdir()) == sorted(
        Path(p).name for n, p in outputs.items() if n not in intermediate)

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


def test_a_failing_script_raises_with_its_exit_code_and_stderr(data, tmp_path):
    job = _job(data)
    broken = tmp_path / "S1.bam"
    broken.write_text("not a bam")
    (tmp_path / "S1.bam.bai").write_text("")
    with pytest.raises(StepError, match=r"step bam_qc \(samtools/bam_qc.sh\) exited with"):
        steps.bam_qc(job, str(broken))


def test_step_scripts_map_is_derived_from_the_catalogue():
    assert steps.STEP_SCRIPTS == {s.id: s.script_relpath for s in catalog().steps}
    assert steps.ALIGNERS == ("bwa", "minimap2")
