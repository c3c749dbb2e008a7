"""Scoring a call set against a truth set: exact counts after normalisation."""

from __future__ import annotations

from pathlib import Path

import pysam
import pytest

from seqflow.demo.mutate import plan_variants, write_truth_vcf
from seqflow.demo.scoring import Score, score_vcf, score_vcf_by_type

HEADER = """##fileformat=VCFv4.2
##contig=<ID={contig},length={length}>
##FILTER=<ID=LowQual,Description="low quality">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tcalled
"""


def _write_vcf(path: Path, rows: list[tuple], contig: str, length: int) -> Path:
    lines = [HEADER.format(contig=contig, length=length)]
    for chrom, pos, ref, alt, *rest in rows:
        flt = rest[0] if rest else "PASS"
        gt = rest[1] if len(rest) > 1 else "1/1"
        lines.append(f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t50\t{flt}\t.\tGT\t{gt}\n")
    path.write_text("".join(lines))
    return path


@pytest.fixture(scope="module")
def truth(lambda_fasta: Path, tmp_path_factory: pytest.TempPathFactory):
    variants = plan_variants(lambda_fasta, seed=21)
    vcf = write_truth_vcf(variants, tmp_path_factory.mktemp("score") / "t.truth.vcf.gz",
                          reference_fasta=lambda_fasta, sample_id="t")
    return vcf, variants


def test_truth_against_itself_is_perfect(truth, lambda_fasta: Path):
    vcf, variants = truth
    assert score_vcf(vcf, vcf, lambda_fasta) == Score(len(variants), 0, 0, 1.0, 1.0, 1.0)


def test_one_missed_and_one_extra_call_give_exact_rates(truth, lambda_fasta: Path, tmp_path: Path):
    vcf, variants = truth
    n = len(variants)
    rows = [(v.chrom, v.pos, v.ref, v.alt) for v in variants]
    contig = variants[0].chrom

    missed = score_vcf(vcf, _write_vcf(tmp_path / "missed.vcf", rows[1:], contig, 48502), lambda_fasta)
    assert (missed.tp, missed.fp, missed.fn) == (n - 1, 0, 1)
    assert missed.precision == 1.0 and missed.recall == pytest.approx((n - 1) / n)
    assert missed.f1 == pytest.approx(2 * (n - 1) / (2 * n - 1))

    ref_base = pysam.FastaFile(str(lambda_fasta)).fetch(contig, 99, 100)
    extra_row = (contig, 100, ref_base, "A" if ref_base != "A" else "C")
    extra = score_vcf(vcf, _write_vcf(tmp_path / "extra.vcf", [extra_row, *rows], contig, 48502), lambda_fasta)
    assert (extra.tp, extra.fp, extra.fn) == (n, 1, 0)
    assert extra.precision == pytest.approx(n / (n + 1)) and extra.recall == 1.0


def test_representations_are_normalised_before_matching(tmp_path: Path):
    # a small reference with a homopolymer (TTTTT at 5-9) for an ambiguous deletion
    ref = tmp_path / "mini.fa"
    seq = "ACGATTTTTGCAGGCATCGACTGACGATCGATGCAGCTAGCATGCACGTA"
    ref.write_text(f">mini\n{seq}\n")
    pysam.faidx(str(ref))
    truth = _write_vcf(tmp_path / "truth.vcf", [("mini", 4, "AT", "A"), ("mini", 20, "G", "T")], "mini", len(seq))
    # the caller wrote the deletion right-shifted and the SNP inside a multi-allelic record
    called = _write_vcf(tmp_path / "called.vcf", [("mini", 8, "TT", "T"), ("mini", 20, "G", "T,C", "PASS", "1/2")],
                        "mini", len(seq))
    s = score_vcf(truth, called, ref)
    assert (s.tp, s.fp, s.fn) == (2, 1, 0)  # the second ALT (C) of the split record is the false positive
    by_type = score_vcf_by_type(truth, called, ref)
    assert (by_type["INDEL"].tp, by_type["SNP"].tp, by_type["SNP"].fp) == (1, 1, 1)


def test_filtered_and_reference_genotypes_are_not_calls(tmp_path: Path):
    ref = tmp_path / "mini.fa"
    seq = "ACGATTTTTGCAGGCATCGACTGACGATCGATGCAGCTAGCATGCACGTA"
    ref.write_text(f">mini\n{seq}\n")
    pysam.faidx(str(ref))
    truth = _write_vcf(tmp_path / "truth.vcf", [("mini", 20, "G", "T"), ("mini", 30, "T", "A")], "mini", len(seq))
    called = _write_vcf(tmp_path / "called.vcf", [("mini", 20, "G", "T", "LowQual"), ("mini", 30, "T", "A", ".", "0/0"),
                                                  ("mini", 40, "A", "G", ".", "0/1")], "mini", len(seq))
    assert (lambda s: (s.tp, s.fp, s.fn))(score_vcf(truth, called, ref)) == (0, 1, 2)
    assert (lambda s: (s.tp, s.fp, s.fn))(score_vcf(truth, called, ref, pass_only=False)) == (1, 1, 1)


@pytest.mark.parametrize(("counts", "expected"), [
    ((0, 0, 0), (1.0, 1.0, 1.0)),   # nothing to find, nothing called
    ((0, 0, 5), (1.0, 0.0, 0.0)),   # nothing called
    ((0, 3, 0), (0.0, 1.0, 0.0)),   # nothing to find, only false calls
    ((3, 1, 1), (0.75, 0.75, 0.75)),
])
def test_rates_are_defined_when_denominators_are_zero(counts, expected):
    s = Score.from_counts(*counts)
    assert (s.precision, s.recall, s.f1) == pytest.approx(expected)


def test_missing_input_is_named(truth, tmp_path: Path, lambda_fasta: Path):
    with pytest.raises(FileNotFoundError, match="nope.vcf"):
        score_vcf(truth[0], tmp_path / "nope.vcf", lambda_fasta)
