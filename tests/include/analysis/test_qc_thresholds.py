"""Per-sample thresholds, judged on the real tools' own reports: fastp's JSON and samtools flagstat's."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest

from seqflow.analysis import qc


def _genome(path: Path, seed: int, length: int = 20000) -> Path:
    rng = random.Random(seed)
    path.write_text(">c1\n" + "".join(rng.choice("ACGT") for _ in range(length)) + "\n")
    return path


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """fastp and flagstat reports of 500 simulated read pairs of genome A, aligned to A and to an unrelated B."""
    work = tmp_path_factory.mktemp("thresholds")
    a, b = _genome(work / "a.fa", 1), _genome(work / "b.fa", 2)
    r1, r2 = work / "r1.fq", work / "r2.fq"
    subprocess.run(["wgsim", "-N", "500", "-1", "100", "-2", "100", "-S", "5", str(a), str(r1), str(r2)],
                   check=True, capture_output=True)
    subprocess.run(["fastp", "-i", str(r1), "-I", str(r2), "-o", str(work / "t1.fq"), "-O", str(work / "t2.fq"),
                    "-j", str(work / "s.fastp.json"), "-h", "/dev/null"], check=True, capture_output=True)
    out = {}
    for name, ref in (("same", a), ("other", b)):
        subprocess.run(["bwa", "index", str(ref)], check=True, capture_output=True)
        sam = subprocess.run(["bwa", "mem", str(ref), str(work / "t1.fq"), str(work / "t2.fq")], check=True,
                             capture_output=True).stdout
        flagstat = subprocess.run(["samtools", "flagstat", "-O", "json", "-"], input=sam, check=True,
                                  capture_output=True).stdout
        (work / f"{name}.flagstat.json").write_bytes(flagstat)
        out[name] = {"fastp_json": str(work / "s.fastp.json"), "flagstat": str(work / f"{name}.flagstat.json")}
    return out


def test_a_sample_above_both_limits_passes(reports):
    assert qc.reads_after_filtering(Path(reports["same"]["fastp_json"]).read_text()) == 1000  # both mates
    assert qc.threshold_failure("S1", reports["same"], qc.Thresholds(min_reads=1000, min_mapped_pct=90)) is None


def test_too_few_reads_fails_naming_the_count_the_limit_and_the_file(reports):
    why = qc.threshold_failure("S1", reports["same"], qc.Thresholds(min_reads=5000))
    assert why.startswith("sample S1: 1000 read(s) left after fastp's filters, below min_reads 5000")
    assert reports["same"]["fastp_json"] in why


def test_reads_of_another_genome_fail_on_the_mapping_rate(reports):
    mapped = json.loads(Path(reports["other"]["flagstat"]).read_text())["QC-passed reads"]["mapped %"]
    assert mapped < 10
    why = qc.threshold_failure("S1", reports["other"], qc.Thresholds())
    assert f"{mapped:.2f}% of QC-passed reads mapped, below min_mapped_pct 50" in why
