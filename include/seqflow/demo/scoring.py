"""Score a call set against a demo truth set.

Both VCFs go through ``bcftools norm -f <reference> -m -any`` (left-align
indels, split multi-allelic records) so that equivalent representations compare
equal; variants are then matched exactly on ``(chrom, pos, ref, alt)``. A call
counts when its ALT is a real allele (not ``*`` or symbolic), its FILTER is
``PASS`` or ``.`` (unless ``pass_only=False``) and the scored sample's genotype
carries that ALT (sites-only VCFs count every record).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import pysam

from seqflow.fsutil import run_tool

Key = tuple[str, int, str, str]


@dataclass(frozen=True)
class Score:
    """Counts and rates of one comparison.

    With nothing called, precision is 1.0 (no false claim was made); with nothing
    to find, recall is 1.0; F1 is 0.0 when both precision and recall are 0.
    """

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float

    @classmethod
    def from_counts(cls, tp: int, fp: int, fn: int) -> Score:
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return cls(tp, fp, fn, precision, recall, f1)

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def __str__(self) -> str:
        return (f"TP={self.tp} FP={self.fp} FN={self.fn} precision={self.precision:.4f} "
                f"recall={self.recall:.4f} F1={self.f1:.4f}")


def normalised_variants(vcf: Path, reference_fasta: Path, *, sample: str | None = None,
                        pass_only: bool = True) -> set[Key]:
    """The scored ALT alleles of ``vcf`` after ``bcftools norm``, as ``(chrom, pos, ref, alt)``.

    ``sample`` names the genotype column to score (default: the first one).
    """
    vcf, reference_fasta = Path(vcf), Path(reference_fasta)
    for path, what in ((vcf, "VCF"), (reference_fasta, "reference FASTA")):
        if not path.is_file():
            raise FileNotFoundError(f"{what} not found: {path}")
    with tempfile.TemporaryDirectory(prefix="seqflow-score-") as tmp:
        out = Path(tmp) / "norm.vcf"
        # -c w: a REF that disagrees with the reference is warned about, and then
        # simply fails to match the truth, instead of aborting the comparison.
        run_tool(["bcftools", "norm", "--no-version", "-f", reference_fasta, "-m", "-any",
                  "-c", "w", "-O", "v", "-o", out, vcf], what=f"bcftools norm {vcf.name}")
        keys: set[Key] = set()
        with pysam.VariantFile(os.fspath(out)) as reader:
            samples = list(reader.header.samples)
            if sample is not None and sample not in samples:
                raise ValueError(f"{vcf}: no sample {sample!r} (samples: {', '.join(samples) or 'none'})")
            column = sample if sample is not None else (samples[0] if samples else None)
            for rec in reader:
                if not rec.alts:
                    continue
                if pass_only and any(f != "PASS" for f in rec.filter.keys()):
                    continue
                if column is not None:
                    gt = rec.samples[column].get("GT") or ()
                    carried = {a for a in gt if a is not None and a > 0}
                else:
                    carried = set(range(1, len(rec.alts) + 1))
                for i, alt in enumerate(rec.alts, start=1):
                    if i not in carried or alt == "*" or alt.startswith("<") or "[" in alt or "]" in alt:
                        continue
                    keys.add((rec.chrom, rec.pos, rec.ref.upper(), alt.upper()))
        return keys


def _kind(key: Key) -> str:
    return "SNP" if len(key[2]) == len(key[3]) else "INDEL"


def score_vcf(truth_vcf: Path, called_vcf: Path, reference_fasta: Path, *,
              sample: str | None = None, pass_only: bool = True) -> Score:
    """Compare ``called_vcf`` with ``truth_vcf`` over ``reference_fasta``.

    Args:
        sample: genotype column of ``called_vcf`` to score (default: the first).
        pass_only: ignore calls whose FILTER is set to anything but PASS.
    """
    return score_vcf_by_type(truth_vcf, called_vcf, reference_fasta,
                             sample=sample, pass_only=pass_only)["ALL"]


def score_vcf_by_type(truth_vcf: Path, called_vcf: Path, reference_fasta: Path, *,
                      sample: str | None = None, pass_only: bool = True) -> dict[str, Score]:
    """Like :func:`score_vcf`, with separate scores: keys ``ALL``, ``SNP`` and ``INDEL``.

    ``SNP`` covers equal-length REF/ALT pairs (including MNPs), ``INDEL`` the rest.
    """
    truth = normalised_variants(truth_vcf, reference_fasta)
    called = normalised_variants(called_vcf, reference_fasta, sample=sample, pass_only=pass_only)
    scores = {}
    for kind in ("ALL", "SNP", "INDEL"):
        t = {k for k in truth if kind in ("ALL", _kind(k))}
        c = {k for k in called if kind in ("ALL", _kind(k))}
        scores[kind] = Score.from_counts(len(t & c), len(c - t), len(t - c))
    return scores
