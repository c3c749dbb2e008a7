"""The helpers of bench/caller_accuracy.py (the benchmark itself is not part of the suite): the bcftools
settings under test are the step script's pipeline with one setting changed, the scoring window and
QUAL threshold, and the side-by-side table."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from seqflow.analysis.catalog import catalog
from seqflow.demo.scoring import Score

BENCH = Path(__file__).resolve().parents[2] / "bench" / "caller_accuracy.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("caller_accuracy", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_default_bcftools_settings_are_the_step_scripts_own(bench):
    script = catalog().step("call_variants", caller="bcftools").script_path().read_text()
    mpileup, call, norm = bench.bcftools_pipeline(Path("r.fa"), Path("s.bam"), Path("p"), Path("o.vcf.gz"))
    for flags in ("--max-depth 1000", "-a FORMAT/AD,FORMAT/DP,INFO/AD", "-m -v --ploidy-file", "-m -any"):
        assert flags in script and flags in " ".join(mpileup + call + norm), flags
    assert "-B" not in mpileup
    no_baq, = [c for c in bench.bcftools_pipeline(Path("r.fa"), Path("s.bam"), Path("p"), Path("o"), baq=False,
                                                  max_depth=250)[:1]]
    assert "-B" in no_baq and no_baq[no_baq.index("--max-depth") + 1] == "250"


def _vcf(path: Path) -> Path:
    path.write_text("##fileformat=VCFv4.2\n##contig=<ID=c,length=1000>\n"
                    '##FILTER=<ID=LowQual,Description="QUAL below 20">\n'
                    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                    "c\t10\t.\tA\tC\t5\tLowQual\t.\nc\t500\t.\tG\tT\t60\tPASS\t.\nc\t900\t.\tT\tA\t70\tPASS\t.\n")
    gz = path.with_suffix(".vcf.gz")
    subprocess.run(["bcftools", "view", "-Oz", "-o", str(gz), str(path)], check=True)
    return gz


def test_restrict_keeps_the_bed_and_a_qual_threshold_replaces_the_filter(bench, tmp_path):
    vcf = _vcf(tmp_path / "in.vcf")
    bed = tmp_path / "w.bed"
    bed.write_text("c\t0\t600\n")
    pos = lambda p: subprocess.run(["bcftools", "query", "-f", "%POS:%FILTER\n", str(p)], capture_output=True,  # noqa: E731
                                   text=True, check=True).stdout.split()
    assert pos(bench.restrict(vcf, bed, tmp_path / "a.vcf.gz")) == ["10:LowQual", "500:PASS"]
    assert pos(bench.restrict(vcf, bed, tmp_path / "b.vcf.gz", min_qual=1)) == ["10:.", "500:."]
    assert pos(bench.restrict(vcf, None, tmp_path / "c.vcf.gz", min_qual=65)) == ["900:."]


def test_the_table_has_one_row_per_sample_and_caller_with_snp_and_indel_scores(bench):
    s = {"SNP": Score.from_counts(9, 1, 0), "INDEL": Score.from_counts(1, 0, 1), "ALL": Score.from_counts(10, 1, 1)}
    text = bench.table([("HG02002", "bcftools (step)", s), ("HG02002", "freebayes (step)", s)])
    lines = text.splitlines()
    assert len(lines) == 4 and lines[0].startswith("| sample | caller (settings) | SNP P")
    assert lines[2] == "| HG02002 | bcftools (step) | 0.900 | 1.000 | 0.947 | 9/1/0 | 1.000 | 0.500 | 0.667 | 1/0/1 |"
