"""Caller accuracy on human reads: SNP and indel precision, recall and F1 per sample, each caller side by side.

Samples (bench/README.md says what each truth is and is not):

* ``NA12878``: real HiSeq X reads of the Genome in a Bottle sample NA12878 on a 12,356-bp piece of chr22,
  with its GIAB truth calls (Debian ``freebayes``' examples, :mod:`seqflow.demo.giab_tiny`): the one real
  human truth set Debian ships; small, so its rates are coarse.
* ``HG02002``: real Illumina reads of the 1000 Genomes sample HG02002 (Debian ``nim-hts-examples``), the
  hs37d5 chr6 HLA class II region rebuilt from their MD tags (:mod:`seqflow.demo.human_reads`). Truth:
  the variants the original 1000 Genomes alignment shows by read counts alone, scored inside the
  positions it covers with >= 8 good reads.
* ``SIM-chr20``: a slice of the real GRCh37 chromosome 20 (Debian ``vt-examples``), diploid: planted SNPs
  and indels, a third homozygous, reads simulated with wgsim from both haplotypes (exact truth).

Every sample goes through the pipeline's own steps (fastp, align with bwa) once; then each caller's real
step script (``call_variants_bcftools``, ``call_variants_freebayes``) and the settings under test: the
bcftools pipeline of ``containers/bcftools/call_variants.sh`` with BAQ off (``-B``) and with
bcftools' default ``--max-depth 250``, and freebayes' QUAL threshold. Calls and truth are normalised and
matched by :mod:`seqflow.demo.scoring` (bcftools norm, exact alleles).

    nice -n 10 .venv/bin/python bench/caller_accuracy.py [--work DIR] [--chr20-kb 400] [--depth 30] [--samples NAME ...]
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "include"))

from seqflow.analysis.catalog import catalog  # noqa: E402
from seqflow.analysis.steps import run_step  # noqa: E402
from seqflow.demo.scoring import Score, score_vcf_by_type  # noqa: E402

VT_PACKAGE = "vt-examples"
VT_CHR20 = "usr/share/doc/vt/examples/ref/20.fa.gz"


@dataclass(frozen=True)
class Sample:
    name: str
    fasta: Path
    ploidy: Path
    r1: Path
    r2: Path
    truth: Path
    #: where the truth speaks (None: the whole reference)
    bed: Path | None
    what: str


# ------------------------------------------------------------------ helpers (tests/bench)


def bcftools_pipeline(ref: Path, bam: Path, ploidy: Path, out_vcf: Path, *, baq: bool = True,
                      max_depth: int = 1000, threads: int = 2) -> list[list[str]]:
    """The commands of containers/bcftools/call_variants.sh with the settings under test (mpileup, call, norm)."""
    mpileup = ["bcftools", "mpileup", "--threads", str(threads), "-f", str(ref), "--max-depth", str(max_depth),
               "-a", "FORMAT/AD,FORMAT/DP,INFO/AD", "-Ou"]
    if not baq:
        mpileup.append("-B")
    return [mpileup + [str(bam)],
            ["bcftools", "call", "--threads", str(threads), "-m", "-v", "--ploidy-file", str(ploidy), "-Ou"],
            ["bcftools", "norm", "--threads", str(threads), "-f", str(ref), "-m", "-any", "-Oz", "-o", str(out_vcf)]]


def run_pipeline(commands: list[list[str]]) -> None:
    procs: list[subprocess.Popen] = []
    prev = None
    for i, cmd in enumerate(commands):
        last = i == len(commands) - 1
        p = subprocess.Popen(cmd, stdin=prev, stdout=None if last else subprocess.PIPE, stderr=subprocess.DEVNULL)
        if prev is not None:
            prev.close()
        prev = p.stdout
        procs.append(p)
    codes = [p.wait() for p in procs]
    if any(codes):
        raise RuntimeError(f"pipeline failed {codes}: {' | '.join(c[0] + ' ' + c[1] for c in commands)}")


def restrict(vcf: Path, bed: Path | None, out: Path, *, min_qual: float | None = None) -> Path:
    """``vcf`` inside ``bed`` (and with QUAL >= ``min_qual``, FILTER cleared then), bgzipped, for scoring."""
    cmd = ["bcftools", "view", "-Oz", "-o", str(out)]
    if bed is not None:
        cmd += ["-T", str(bed)]
    if min_qual is not None:
        cmd += ["-i", f"QUAL>={min_qual}"]
    subprocess.run([*cmd, str(vcf)], check=True, capture_output=True)
    if min_qual is not None:  # the threshold replaces the step's LowQual filter
        cleared = out.with_name(out.name.replace(".vcf.gz", ".pass.vcf.gz"))
        subprocess.run(["bcftools", "annotate", "-x", "FILTER", "-Oz", "-o", str(cleared), str(out)], check=True,
                       capture_output=True)
        return cleared
    return out


def table(rows: list[tuple[str, str, dict[str, Score]]]) -> str:
    """Markdown table: one row per (sample, caller/settings), SNP and indel precision, recall, F1 (and TP/FP/FN)."""
    head = ("| sample | caller (settings) | SNP P | SNP R | SNP F1 | SNP TP/FP/FN | indel P | indel R | indel F1 "
            "| indel TP/FP/FN |")
    lines = [head, "|" + "---|" * 10]
    for sample, label, scores in rows:
        cells = [sample, label]
        for kind in ("SNP", "INDEL"):
            s = scores[kind]
            cells += [f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}", f"{s.tp}/{s.fp}/{s.fn}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------ samples


def na12878_giab(work: Path, cache: Path) -> Sample:
    from seqflow.demo import giab_tiny

    d = work / "NA12878"
    fasta = giab_tiny.write_fasta(d / "chr22_tiny.fa", cache)
    ploidy = d / "chr22_tiny.ploidy"
    ploidy.write_text("* * * * 2\n", encoding="ascii")
    r1_data, r2_data = giab_tiny.fastqs(d / "reads", cache)
    r1, r2 = d / "NA12878_R1.fastq.gz", d / "NA12878_R2.fastq.gz"
    r1.write_bytes(r1_data)
    r2.write_bytes(r2_data)
    truth = giab_tiny.truth_vcf(d / "NA12878.giab.vcf.gz", cache)
    pairs = sum(1 for _ in gzip.open(r1, "rt")) // 4
    return Sample("NA12878", fasta, ploidy, r1, r2, truth, None,
                  f"real reads, {pairs} pairs, GIAB truth on chr22 {giab_tiny.CONTIG_LENGTH} bp")


def hg02002(work: Path, cache: Path) -> Sample:
    from seqflow.demo import human_reads

    region = human_reads.build_region(work / "HG02002", cache)
    truth = human_reads.read_count_truth(region.original_bam, region.fasta, work / "HG02002" / "truth")
    return Sample("HG02002", region.fasta, region.ploidy, region.r1, region.r2, truth.vcf, truth.bed,
                  f"real reads, {region.read_pairs} pairs, truth {truth.confident_bases} bp")


def sim_chr20(work: Path, cache: Path, kb: int, depth: float) -> Sample:
    """A ``kb`` kb slice of GRCh37 chr20 from 30 Mb on, diploid with planted variants, ``depth``x wgsim reads."""
    import pysam

    from seqflow.demo.mutate import plan_variants, write_truth_vcf
    from seqflow.demo.reads import simulate_diploid_reads
    from seqflow.references.sources import cached_deb, read_deb_member

    d = work / "SIM-chr20"
    d.mkdir(parents=True, exist_ok=True)
    fasta = d / "grch37_20_slice.fa"
    if not fasta.with_suffix(".fa.fai").exists():
        start = 30_000_000
        seq = []
        with gzip.open(__import__("io").BytesIO(read_deb_member(cached_deb(VT_PACKAGE, cache), VT_CHR20)), "rt") as fa:
            pos = 0
            for line in fa:
                if line.startswith(">"):
                    continue
                line = line.strip()
                if pos + len(line) > start:
                    seq.append(line[max(0, start - pos):])
                pos += len(line)
                if sum(map(len, seq)) >= kb * 1000:
                    break
        s = "".join(seq)[:kb * 1000].upper()
        fasta.write_text(">20_30000001\n" + "\n".join(s[i:i + 60] for i in range(0, len(s), 60)) + "\n")
        pysam.faidx(str(fasta))
    ploidy = d / "grch37_20_slice.ploidy"
    ploidy.write_text("* * * * 2\n")
    truth = d / "truth.vcf.gz"
    r1, r2 = d / "SIM_R1.fastq.gz", d / "SIM_R2.fastq.gz"
    if not r2.exists():
        variants = plan_variants(fasta, seed=20, mean_spacing=1000, indel_fraction=0.2, max_indel=10)
        write_truth_vcf(variants, truth, reference_fasta=fasta, sample_id="SIM-chr20", seed=20)
        simulate_diploid_reads(fasta, variants, r1, r2, work=d, seed=20, depth=depth)
    return Sample("SIM-chr20", fasta, ploidy, r1, r2, truth, None,
                  f"GRCh37 chr20 {kb} kb, simulated {depth:g}x diploid")


# ------------------------------------------------------------------ run


def align(sample: Sample, out: Path) -> Path:
    (index,) = catalog().reference_steps("bwa")
    if not Path(f"{sample.fasta}.bwt").exists():
        run_step(index, index.argv({"reference": sample.fasta, "out_dir": sample.fasta.parent}))
    external = {"sample.r1": sample.r1, "sample.r2": sample.r2, "reference.fasta": sample.fasta}
    produced: dict[str, Path] = {}
    for name in ("fastp", "align"):
        impl = catalog().step(name, aligner="bwa")
        values = {n: external[i.source] if i.external else produced[i.output] for n, i in impl.inputs.items()}
        values.update(sample_id=sample.name, threads=2, out_dir=out)
        run_step(impl, impl.argv(values))
        produced.update({n: out / o.file_name(sample_id=sample.name) for n, o in impl.outputs.items()})
    return produced["bam"]


def score(sample: Sample, vcf: Path, work: Path, label: str, *, min_qual: float | None = None) -> dict[str, Score]:
    tag = label.replace(" ", "_").replace("/", "_").replace("=", "").replace(",", "")
    called = restrict(vcf, sample.bed, work / f"{tag}.called.vcf.gz", min_qual=min_qual)
    truth = restrict(sample.truth, sample.bed, work / "truth.scored.vcf.gz")
    return score_vcf_by_type(truth, called, sample.fasta)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out" / "caller_accuracy")
    parser.add_argument("--cache", type=Path, default=REPO / ".seqflow" / "testdata" / "debs")
    parser.add_argument("--chr20-kb", type=int, default=400)
    parser.add_argument("--depth", type=float, default=30.0)
    parser.add_argument("--samples", nargs="+", help="only these samples (NA12878, HG02002, SIM-chr20)")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    samples = [na12878_giab(args.work, args.cache), hg02002(args.work, args.cache),
               sim_chr20(args.work, args.cache, args.chr20_kb, args.depth)]
    if args.samples:
        samples = [s for s in samples if s.name in args.samples]
    rows: list[tuple[str, str, dict[str, Score]]] = []
    for sample in samples:
        work = args.work / sample.name / "calls"
        work.mkdir(parents=True, exist_ok=True)
        print(f"# {sample.name}: {sample.what}", flush=True)
        bam = align(sample, work)
        for caller in catalog().callers:
            impl = catalog().step("call_variants", caller=caller)
            out = work / caller
            t = time.monotonic()
            run_step(impl, impl.argv({"sample_id": sample.name, "reference": sample.fasta, "bam": bam,
                                      "out_dir": out, "ploidy_file": sample.ploidy, "threads": 2}))
            print(f"#   {impl.id}: {time.monotonic() - t:.1f} s", flush=True)
            rows.append((sample.name, f"{caller} (step)", score(sample, out / f"{sample.name}.vcf.gz", work,
                                                                f"{caller}-step")))
        for label, kw in (("bcftools (BAQ off, -B)", {"baq": False}),
                          ("bcftools (--max-depth 250)", {"max_depth": 250})):
            vcf = work / f"{label.split('(')[1].split(')')[0].replace(' ', '_').replace(',', '')}.vcf.gz"
            run_pipeline(bcftools_pipeline(sample.fasta, bam, sample.ploidy, vcf, **kw))
            rows.append((sample.name, label, score(sample, vcf, work, label)))
        fb = work / "freebayes" / f"{sample.name}.vcf.gz"
        for q in (1, 5, 10, 30):
            rows.append((sample.name, f"freebayes (QUAL>={q})", score(sample, fb, work, f"fb-q{q}", min_qual=q)))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
