"""Each step script (the commands the images run on Batch and the local profile
runs as processes) on tiny real data: lambda phage with three planted SNPs."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from seqflow.analysis import qc
from seqflow.analysis.steps import STEP_SCRIPTS, containers_dir

SNPS = {5000: None, 20000: None, 40000: None}  # 1-based positions; ALT chosen below


def _script(step: str) -> str:
    return str(containers_dir() / STEP_SCRIPTS[step])


def _run(step: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([_script(step), *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from seqflow.demo.references import fetch_reference

    cache = Path(os.environ.get("SEQFLOW_TEST_CACHE", Path(__file__).resolve().parents[2] / ".seqflow" / "testcache"))
    ref_src = fetch_reference("lambda", cache / "references")
    d = tmp_path_factory.mktemp("steps")
    ref = d / "lambda.fa"
    shutil.copy(ref_src, ref)
    lines = ref.read_text().splitlines()
    seq = list("".join(lines[1:]))
    alts = {}
    for pos in SNPS:
        alt = {"A": "C", "C": "G", "G": "T", "T": "A"}[seq[pos - 1]]
        alts[pos] = (seq[pos - 1], alt)
        seq[pos - 1] = alt
    mutated = d / "mutated.fa"
    mutated.write_text(lines[0] + "\n" + "".join(seq) + "\n")
    subprocess.run(["wgsim", "-e", "0", "-r", "0", "-R", "0", "-1", "150", "-2", "150", "-N", "5000", "-S", "3",
                    str(mutated), str(d / "r1.fq"), str(d / "r2.fq")], check=True, capture_output=True)
    for n in ("r1", "r2"):
        with open(d / f"{n}.fq", "rb") as src, gzip.open(d / f"{n}.fastq.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
    return {"dir": d, "ref": ref, "alts": alts, "contig": lines[0][1:].split()[0]}


@pytest.mark.parametrize("aligner", ["bwa", "minimap2"])
def test_full_chain_calls_the_planted_snps(data, aligner):
    d, ref = data["dir"], data["ref"]
    out = d / f"out-{aligner}"
    steps = [
        ("index_" + aligner, [ref]),
        ("fastp", ["S1", d / "r1.fastq.gz", d / "r2.fastq.gz", out / "fastp", 2]),
        ("align_" + aligner, ["S1", ref, out / "fastp/S1.trimmed_R1.fastq.gz", out / "fastp/S1.trimmed_R2.fastq.gz", out, 2]),
        ("call", ["S1", ref, out / "S1.bam", out, 1, 2]),
        ("bam_qc", ["S1", out / "S1.bam", out, 2]),
        ("vcf_stats", ["S1", ref, out / "S1.vcf.gz", out]),
    ]
    for step, args in steps:
        proc = _run(step, *args)
        assert proc.returncode == 0, f"{step}: {proc.stderr[-2000:]}"

    # index built once: a second call is a no-op thanks to the marker
    assert Path(f"{ref}.seqflow-index-{aligner}.ok").exists()
    for name in ("S1.bam", "S1.bam.bai", "S1.vcf.gz", "S1.vcf.gz.tbi", "S1.flagstat.json", "S1.coverage.tsv",
                 "S1.samtools_stats.txt", "S1.bcftools_stats.txt", "S1.markdup.txt"):
        assert (out / name).stat().st_size > 0, name
    assert not list(out.glob(".tmp-*")), "temporary folders left behind"

    calls = subprocess.run(["bcftools", "query", "-f", "%CHROM\t%POS\t%REF\t%ALT\t[%GT]\n", str(out / "S1.vcf.gz")],
                           capture_output=True, text=True, check=True).stdout.split("\n")
    got = {(int(c.split("\t")[1]), c.split("\t")[2], c.split("\t")[3]) for c in calls if c}
    assert got == {(pos, ref_base, alt) for pos, (ref_base, alt) in data["alts"].items()}

    outputs = {"fastp_json": out / "fastp/S1.fastp.json", "flagstat": out / "S1.flagstat.json",
               "markdup": out / "S1.markdup.txt", "coverage": out / "S1.coverage.tsv",
               "bcftools_stats": out / "S1.bcftools_stats.txt"}
    metrics = qc.sample_metrics(outputs)
    assert metrics["read_pairs"] == 5000 and metrics["variants_called"] == 3 and metrics["pct_mapped"] > 99
    assert 28 < metrics["mean_depth"] < 33


def test_usage_errors_exit_2(data):
    for step in STEP_SCRIPTS:
        proc = _run(step)
        assert proc.returncode == 2, step
        assert "usage:" in proc.stderr
    proc = _run("call", "S1", data["ref"], "x.bam", data["dir"] / "o", 3)
    assert proc.returncode == 2 and "PLOIDY must be 1 or 2" in proc.stderr


def test_failed_step_leaves_no_finished_looking_output(data):
    out = data["dir"] / "out-fail"
    proc = _run("align_bwa", "S1", data["dir"] / "missing.fa", data["dir"] / "r1.fastq.gz",
                data["dir"] / "r2.fastq.gz", out, 1)
    assert proc.returncode != 0
    assert not (out / "S1.bam").exists()

