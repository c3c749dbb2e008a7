"""The gather step (``gather_calls.sh``, scope gather in ``containers/bcftools/steps.yaml``) on real
calls: the toy genome's reads aligned by the catalogue's steps, called whole and in three shards
(``call_variants.sh`` with ``regions``), the shards gathered: bcftools reads the gathered VCF and
it holds the whole-genome call's records, in order; a shard that is missing is an input error."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from seqflow.analysis.catalog import catalog

CONTIG, LENGTH = "chrT", 30000  # the toy genome's (conftest.py)
KEYS = ("0000-a", "0001-b", "0002-c")


def _run(impl, values) -> subprocess.CompletedProcess:
    return subprocess.run([str(impl.script_path()), *impl.argv(values)], capture_output=True, text=True)


def _ok(impl, values) -> None:
    proc = _run(impl, values)
    assert proc.returncode == 0, f"{impl.id}: {proc.stderr[-2000:]}"


def _records(vcf: Path) -> list[str]:
    return subprocess.run(["bcftools", "view", "-H", str(vcf)], capture_output=True, text=True,
                          check=True).stdout.splitlines()


@pytest.fixture(scope="module")
def shards(toy, tmp_path_factory):
    """The whole-genome call and three shards' calls of the toy sample (bwa, bcftools)."""
    d = tmp_path_factory.mktemp("gather")
    for name in ("toy.fa", "toy.ploidy", "r1.fastq.gz", "r2.fastq.gz"):
        shutil.copy(toy["dir"] / name, d / name)
    ref = d / "toy.fa"
    cat = catalog()
    _ok(cat.step("index_reference", aligner="bwa"), {"reference": ref, "out_dir": d})
    aligned = d / "aligned"
    _ok(cat.step("fastp"), {"sample_id": "S1", "r1": d / "r1.fastq.gz", "r2": d / "r2.fastq.gz",
                            "out_dir": aligned, "threads": 2})
    fastp_out = cat.step("fastp").output_paths(aligned, "S1")
    align = cat.step("align", aligner="bwa")
    _ok(align, {"sample_id": "S1", "reference": ref, "r1": fastp_out["trimmed_r1"], "r2": fastp_out["trimmed_r2"],
                "out_dir": aligned, "threads": 2})
    bam = align.output_paths(aligned, "S1")["bam"]
    call = cat.step("call_variants", caller="bcftools")
    base = {"sample_id": "S1", "reference": ref, "bam": bam, "ploidy_file": d / "toy.ploidy", "threads": 1}
    _ok(call, {**base, "out_dir": d / "whole"})
    third = LENGTH // 3
    for i, key in enumerate(KEYS):
        _ok(call, {**base, "out_dir": d / "shards" / key,
                   "regions": f"{CONTIG}:{i * third + 1}-{(i + 1) * third}"})
    return {"dir": d, "whole": d / "whole" / "S1.vcf.gz", "shards": d / "shards"}


def test_the_gathered_shards_hold_the_whole_genome_records_in_order(shards, tmp_path):
    gather = catalog().step("gather_calls")
    out = tmp_path / "out"
    _ok(gather, {"sample_id": "S1", "shards_dir": shards["shards"], "shard_keys": ",".join(KEYS),
                 "out_dir": out, "threads": 1})
    paths = gather.output_paths(out, "S1")
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths.values())
    whole = _records(shards["whole"])
    assert len(whole) >= 3  # the planted SNPs at least
    # one shard's records each: the gather concatenated all three
    assert all(_records(shards["shards"] / key / "S1.vcf.gz") for key in KEYS)
    assert _records(paths["vcf"]) == whole
    # the index is tabix's: a region query answers from it
    region = subprocess.run(["tabix", str(paths["vcf"]), f"{CONTIG}:20001-{LENGTH}"], capture_output=True,
                            text=True, check=True).stdout.splitlines()
    assert region == [r for r in whole if int(r.split("\t")[1]) > 20000]
    versions = json.loads(paths["call_variants_versions"].read_text())
    assert versions == json.loads((shards["shards"] / KEYS[0] / "S1.call_variants.versions.json").read_text())
    log = paths["call_variants_log"].read_text()
    assert "== bcftools concat" in log and all(f"== shard {key}" in log for key in KEYS)
    assert '== gather_calls versions: {"bcftools": ' in log


def test_a_missing_shard_is_an_input_error_and_writes_no_vcf(shards, tmp_path):
    gather = catalog().step("gather_calls")
    out = tmp_path / "out"
    proc = _run(gather, {"sample_id": "S1", "shards_dir": shards["shards"], "shard_keys": f"{KEYS[0]},0009-z",
                         "out_dir": out, "threads": 1})
    assert proc.returncode == 3, proc.stderr
    assert "shard 0009-z has no" in proc.stderr
    assert not (out / "S1.vcf.gz").exists() and (out / "S1.call_variants.log").is_file()


def test_shard_keys_that_are_not_keys_are_a_usage_error(shards, tmp_path):
    gather = catalog().step("gather_calls")
    proc = _run(gather, {"sample_id": "S1", "shards_dir": shards["shards"], "shard_keys": "../x",
                         "out_dir": tmp_path, "threads": 1})
    assert proc.returncode == 2 and "not a shard key" in proc.stderr
