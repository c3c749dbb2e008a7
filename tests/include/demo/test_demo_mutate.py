"""Truth sets: composition, spacing, normalisation, determinism, VCF and mutated genome."""

from __future__ import annotations

from pathlib import Path

import pysam
import pytest

from seqflow.demo.mutate import (
    Variant,
    apply_variants,
    make_truth_set,
    plan_variants,
    sample_seed,
    write_truth_vcf,
)


def test_truth_set_has_snps_and_short_insertions_and_deletions(lambda_fasta: Path):
    variants = plan_variants(lambda_fasta, seed=7)
    kinds = {v.kind for v in variants}
    assert len(variants) >= 20
    assert kinds == {"SNP", "INS", "DEL"}
    assert all(1 <= v.length <= 10 for v in variants)
    assert all(v.length == 1 for v in variants if v.kind == "SNP")


def test_variants_are_spaced_away_from_ends_and_match_the_reference(lambda_fasta: Path):
    seq = pysam.FastaFile(str(lambda_fasta)).fetch("NC_001416.1")
    variants = plan_variants(lambda_fasta, seed=11, min_distance=50, edge_margin=300)
    assert [v.pos for v in variants] == sorted(v.pos for v in variants)
    for a, b in zip(variants, variants[1:]):
        assert b.pos - a.end >= 50
    for v in variants:
        assert 300 < v.pos and v.end <= len(seq) - 300
        assert seq[v.pos - 1:v.end] == v.ref
        assert v.ref[0] == v.alt[0] or v.kind == "SNP"
        # already left-aligned: the anchor differs from the last inserted/deleted base
        if v.kind == "DEL":
            assert v.ref[-1] != v.ref[0]
        if v.kind == "INS":
            assert v.alt[-1] != v.alt[0]


def test_truth_is_deterministic_per_seed_and_differs_between_samples(lambda_fasta: Path):
    assert plan_variants(lambda_fasta, seed=5) == plan_variants(lambda_fasta, seed=5)
    assert plan_variants(lambda_fasta, seed=5) != plan_variants(lambda_fasta, seed=6)
    assert sample_seed(42, "EC-S01") == sample_seed(42, "EC-S01") != sample_seed(42, "EC-S02")
    assert sample_seed(42, "EC-S01") > 0


def test_density_is_configurable(lambda_fasta: Path):
    sparse = plan_variants(lambda_fasta, seed=1, mean_spacing=2000, min_variants=0)
    dense = plan_variants(lambda_fasta, seed=1, mean_spacing=500)
    assert len(sparse) == 48502 // 2000
    assert len(dense) == 48502 // 500


def test_impossible_density_is_refused(lambda_fasta: Path):
    with pytest.raises(ValueError, match="could not place"):
        plan_variants(lambda_fasta, seed=1, mean_spacing=10, min_distance=50)


def test_apply_variants_builds_the_alternate_sequence():
    seq = "AAAACCCCGGGGTTTT"
    variants = [Variant("c", 2, "A", "T"), Variant("c", 7, "CCG", "C"), Variant("c", 12, "G", "GAC")]
    assert apply_variants(seq, variants) == "AT" + "AACC" + "C" + "GG" + "GAC" + "TTTT"
    with pytest.raises(ValueError, match="does not match"):
        apply_variants(seq, [Variant("c", 1, "C", "A")])


def test_truth_vcf_is_sorted_bgzipped_indexed_vcf42_with_contigs(lambda_fasta: Path, tmp_path: Path):
    vcf = tmp_path / "S1.truth.vcf.gz"
    genome = tmp_path / "S1.fa"
    variants = make_truth_set(lambda_fasta, vcf, genome, sample_id="S1", seed=3)
    assert vcf.read_bytes()[:4] == b"\x1f\x8b\x08\x04"  # BGZF block header
    assert Path(f"{vcf}.tbi").is_file()
    with pysam.VariantFile(str(vcf)) as reader:
        assert reader.header.version == "VCFv4.2"
        assert dict((k, v.length) for k, v in reader.header.contigs.items()) == {"NC_001416.1": 48502}
        assert list(reader.header.samples) == ["S1"]
        records = list(reader)
        # the index works: a region query returns the records inside it
        first = records[0]
        assert [r.pos for r in reader.fetch("NC_001416.1", first.pos - 1, first.pos)] == [first.pos]
    assert [(r.chrom, r.pos, r.ref, r.alts[0]) for r in records] == [
        (v.chrom, v.pos, v.ref, v.alt) for v in variants]
    assert all(r.samples["S1"]["GT"] == (1, 1) and list(r.filter) == ["PASS"] for r in records)
    # the mutated genome differs from the reference by exactly the truth set
    ref_seq = pysam.FastaFile(str(lambda_fasta)).fetch("NC_001416.1")
    mutated = "".join(genome.read_text().splitlines()[1:])
    assert mutated == apply_variants(ref_seq, variants)
    assert len(mutated) - len(ref_seq) == sum(len(v.alt) - len(v.ref) for v in variants)


def test_truth_vcf_bytes_are_reproducible(lambda_fasta: Path, tmp_path: Path):
    variants = plan_variants(lambda_fasta, seed=9)
    a = write_truth_vcf(variants, tmp_path / "a.vcf.gz", reference_fasta=lambda_fasta, sample_id="X", seed=9)
    b = write_truth_vcf(variants, tmp_path / "b.vcf.gz", reference_fasta=lambda_fasta, sample_id="X", seed=9)
    assert a.read_bytes() == b.read_bytes()
