"""The freebayes caller (containers/freebayes/call_variants.sh), run as the catalogue declares it:
on the toy genome's planted SNPs, on real human reads (HG02002 from Debian's nim-hts-examples,
aligned by the pipeline's own steps) with bcftools judging the VCF, a calling shard, and the
ploidy file's lines it must refuse."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from seqflow.analysis.catalog import Step, catalog
from seqflow.demo import human_reads
from seqflow.demo.scoring import normalised_variants

CAUSE = "seqflow-error: "


def _seqflow_home() -> Path:
    return Path(os.environ.get("SEQFLOW_HOME", Path(__file__).resolve().parents[2] / ".seqflow"))


def _run(impl: Step, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(impl.script_path()), *map(str, args)], capture_output=True, text=True)


def _chain(ref: Path, ploidy: Path, r1: Path, r2: Path, out: Path, sample: str) -> dict[str, Path]:
    """index, fastp, align (bwa) and the freebayes call_variants, wired as the catalogue says."""
    (index,) = catalog().reference_steps("bwa")
    assert _run(index, *index.argv({"reference": ref, "out_dir": ref.parent})).returncode == 0
    external = {"sample.r1": r1, "sample.r2": r2, "reference.fasta": ref, "reference.ploidy": ploidy}
    produced: dict[str, Path] = {}
    for impl in catalog().sample_steps("bwa", "freebayes"):
        if impl.name not in ("fastp", "align", "call_variants"):
            continue
        values = {n: external[i.source] if i.external else produced[i.output] for n, i in impl.inputs.items()}
        values.update(sample_id=sample, threads=2, out_dir=out)
        proc = _run(impl, *impl.argv(values))
        assert proc.returncode == 0, f"{impl.id}: {proc.stderr[-2000:]}"
        produced.update({n: out / o.file_name(sample_id=sample) for n, o in impl.outputs.items()})
    return produced


def _records(vcf: Path, fmt: str = "%POS\t%REF\t%ALT\t%FILTER\t[%GT]\n") -> list[list[str]]:
    out = subprocess.run(["bcftools", "query", "-f", fmt, str(vcf)], capture_output=True, text=True, check=True)
    return [line.split("\t") for line in out.stdout.splitlines()]


@pytest.fixture(scope="module")
def toy_run(toy, tmp_path_factory):
    d = tmp_path_factory.mktemp("freebayes-toy")
    for name in ("toy.fa", "toy.ploidy", "r1.fastq.gz", "r2.fastq.gz"):
        shutil.copy(toy["dir"] / name, d / name)
    produced = _chain(d / "toy.fa", d / "toy.ploidy", d / "r1.fastq.gz", d / "r2.fastq.gz", d / "out", "S1")
    return {"dir": d, "produced": produced, "alts": toy["alts"]}


def test_freebayes_is_a_caller_of_the_catalogue_with_the_bcftools_callers_outputs():
    assert "freebayes" in catalog().callers
    fb, bc = (catalog().step("call_variants", caller=c) for c in ("freebayes", "bcftools"))
    assert fb.id == "call_variants_freebayes" and fb.image == "freebayes"
    assert fb.outputs == bc.outputs and fb.inputs.keys() == bc.inputs.keys()


def test_toy_planted_snps_are_called_haploid_and_only_declared_outputs_are_left(toy_run):
    produced, out = toy_run["produced"], toy_run["dir"] / "out"
    calls = {(int(p), r, a, gt) for p, r, a, f, gt in _records(produced["vcf"]) if f == "PASS"}
    assert calls == {(pos, r, a, "1") for pos, (r, a) in toy_run["alts"].items()}
    impl = catalog().step("call_variants", caller="freebayes")
    left = {p.name for p in out.iterdir()}
    assert {o.file_name(sample_id="S1") for o in impl.outputs.values()} <= left
    assert not [n for n in left if n.startswith(".tmp")], "a temporary file was left behind"
    versions = produced["call_variants_versions"].read_text()
    assert '"freebayes": "1.3.6"' in versions and '"bcftools": ' in versions
    assert "== freebayes (exit 0)" in produced["call_variants_log"].read_text()


def test_a_calling_shard_keeps_only_its_region(toy_run, tmp_path):
    d = toy_run["dir"]
    impl = catalog().step("call_variants", caller="freebayes")
    bam = toy_run["produced"]["bam"]
    proc = _run(impl, "S1", d / "toy.fa", bam, tmp_path, d / "toy.ploidy", 2, "chrT:10001-20000")
    assert proc.returncode == 0, proc.stderr
    assert [int(r[0]) for r in _records(tmp_path / "S1.vcf.gz") if r[3] == "PASS"] == [15000]


def test_a_sex_specific_ploidy_line_is_refused_as_an_input_error(toy_run, tmp_path):
    d = toy_run["dir"]
    ploidy = tmp_path / "sexed.ploidy"
    ploidy.write_text("chrT 1 30000 M 1\n* * * * 2\n")
    impl = catalog().step("call_variants", caller="freebayes")
    proc = _run(impl, "S1", d / "toy.fa", toy_run["produced"]["bam"], tmp_path / "out", ploidy, 2)
    assert proc.returncode == 3
    assert f"{CAUSE}sample S1: input error: {ploidy}: sex-specific line" in proc.stderr
    assert not (tmp_path / "out" / "S1.vcf.gz").exists()


def test_real_human_reads_give_a_valid_diploid_vcf_that_finds_the_reads_variants(tmp_path):
    """HG02002's real reads, realigned by the pipeline: bcftools reads the VCF, and it holds the
    read-count truth's SNPs (the 1000 Genomes alignment's), heterozygous ones as 0/1."""
    region = human_reads.build_region(tmp_path / "hg", _seqflow_home() / "testdata" / "nim-hts-examples")
    assert region.read_pairs > 1500 and region.covered > 40000
    truth = human_reads.read_count_truth(region.original_bam, region.fasta, tmp_path / "truth")
    produced = _chain(region.fasta, region.ploidy, region.r1, region.r2, tmp_path / "out", "HG02002")
    vcf = produced["vcf"]
    stats = subprocess.run(["bcftools", "stats", str(vcf)], capture_output=True, text=True, check=True).stdout
    snps = int(next(line.split("\t")[3] for line in stats.splitlines() if "number of SNPs:" in line))
    assert snps > 50
    subprocess.run(["bcftools", "index", "-t", "-f", "-o", str(tmp_path / "check.tbi"), str(vcf)], check=True)
    gts = {r[4] for r in _records(vcf) if r[3] == "PASS"}
    assert gts <= {"0/1", "1/1", "1/2"} and "0/1" in gts
    want = {k for k in normalised_variants(truth.vcf, region.fasta) if len(k[2]) == len(k[3])}
    got = normalised_variants(vcf, region.fasta)
    assert len(want & got) >= 0.9 * len(want), f"freebayes found {len(want & got)} of {len(want)} truth SNPs"


def test_the_ploidy_files_contig_lines_become_freebayes_copy_numbers(toy_run, tmp_path):
    """chrT:1-10000 haploid, the rest diploid (the default line): the SNP at 5,000 is called 1, the
    others 1/1, as bcftools reads the same file."""
    d = toy_run["dir"]
    ploidy = tmp_path / "mixed.ploidy"
    ploidy.write_text("chrT\t1\t10000\t*\t1\n*\t*\t*\t*\t2\n")
    impl = catalog().step("call_variants", caller="freebayes")
    proc = _run(impl, "S1", d / "toy.fa", toy_run["produced"]["bam"], tmp_path, ploidy, 2)
    assert proc.returncode == 0, proc.stderr
    gts = {int(p): gt for p, r, a, f, gt in _records(tmp_path / "S1.vcf.gz") if f == "PASS"}
    assert gts == {5000: "1", 15000: "1/1", 25000: "1/1"}
