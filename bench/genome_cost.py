"""Cost model: CPU-seconds and peak memory of every pipeline step on human reads, projected to a 30x genome
and a 384-sample exome flow cell, and the Batch resources that follow from them.

What runs (``nice -n 10``, a few minutes on 2 cores): the reference is the real GRCh37 chromosome 20
(63 Mb, Debian ``vt-examples``), indexed by the catalogue's ``index_reference`` steps; the reads are
simulated with wgsim (30x, 2x150, diploid with planted variants: Debian has no real human reads of
this size with their reference) from a slice of it; the real HG02002 reads
(:mod:`seqflow.demo.human_reads`) run too, as a check of the per-read figures on real reads. Each
step is its real script through :func:`seqflow.analysis.steps.run_step` in a child process:
CPU-seconds are that child's ``getrusage(RUSAGE_CHILDREN)`` (every process of the step), peak
memory is the largest sum of the step's processes' RSS that psutil saw (sampled every 50 ms) and
the largest single process (``ru_maxrss``). ``markdup`` is inside the align step (fixmate | sort |
markdup); it is measured again alone on the aligned reads to show its share.

Per step the figures are per million read pairs (fastp, align, markdup, bam_qc) or per Mb called
(call_variants at 30x, vcf_stats). The projection multiplies them out for one 30x genome (400 M
pairs, 3,100 Mb) and 384 exomes (inputs below), on the c6i/m6i/r6i instance types at the On-Demand prices of the project's price
table (``include/seqflow/aws/prices/instance_prices.csv``, dated rows) and Spot at the fraction of them
that ``bench/prices.json`` assumes (inputs, printed with their dates). :func:`derive_resources` turns the
figures into each step's vCPUs, memory and timeout for the 30x genome; ``--write`` stores them in
``bench/genome_cost.json``, which ``tests/bench/test_genome_cost.py`` holds the step catalogue to.

    nice -n 10 .venv/bin/python bench/genome_cost.py [--slice-kb 1000] [--write]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "include"))

PRICES = REPO / "bench" / "prices.json"
TABLE = REPO / "bench" / "genome_cost.json"

#: the workloads the projection is for
GENOME_30X = {"name": "30x human genome", "read_pairs_m": 400.0, "called_mb": 3100.0, "samples": 1}
EXOME_FLOWCELL = {"name": "384-sample exome flow cell", "read_pairs_m": 25.0, "called_mb": 60.0, "samples": 384}
#: reference sizes (Mb): what the aligners hold in memory scales with it
HUMAN_MB = 3100.0
#: per-step unit: reads (M read pairs) or the genome called (Mb)
UNITS = {"fastp": "pairs", "align_bwa": "pairs", "align_minimap2": "pairs", "markdup": "pairs",
         "bam_qc": "pairs", "call_variants_bcftools": "mb", "call_variants_freebayes": "mb", "vcf_stats": "mb"}
#: the longest a job may run before it is split (scatter): the wall time the vCPUs are chosen for
TARGET_WALL_H = 6.0
MAX_VCPUS = 16
#: steps whose tools use the threads they are given (bwa mem -t, minimap2 -t, fastp --thread, samtools -@);
#: the others spend their time in one single-threaded process (bcftools mpileup, freebayes, bcftools stats),
#: their --threads only compress. Wall-clock efficiency is printed, not used: on this shared machine it
#: measures the other jobs' load as much as the step.
PARALLEL_STEPS = frozenset({"fastp", "align_bwa", "align_minimap2", "markdup", "bam_qc"})
#: memory a step takes per thread once the data is large, that a small run does not reach: the align
#: steps' ``samtools sort`` holds up to its default -m 768 MiB per thread before it spills to disk
PER_THREAD_MIB = {"align_bwa": 768, "align_minimap2": 768}


@dataclass
class Measure:
    step: str
    cpu_s: float
    wall_s: float
    peak_rss_mib: float
    max_process_rss_mib: float
    threads: int
    #: million read pairs or Mb called that ran
    units: float
    unit: str

    @property
    def cpu_per_unit(self) -> float:
        return self.cpu_s / self.units

    @property
    def efficiency(self) -> float:
        """CPU-seconds per wall-second per thread given (1.0: every thread busy all along)."""
        return min(1.0, self.cpu_s / (self.wall_s * self.threads)) if self.wall_s > 0 else 1.0


# ------------------------------------------------------------------ measuring


_CHILD = """
import json, resource, sys
sys.path.insert(0, {include!r})
from seqflow.analysis.steps import run_step
{body}
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({{"cpu_s": r.ru_utime + r.ru_stime, "maxrss_kib": r.ru_maxrss}}))
"""


def measure(body: str, *, step: str, threads: int, units: float, unit: str, interval: float = 0.05) -> Measure:
    """Run ``body`` (Python calling ``run_step``) in a child; its CPU time and its process tree's peak RSS."""
    import psutil

    code = _CHILD.format(include=str(REPO / "include"), body=body)
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            rss = 0
            for p in tree:
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(interval)
    out, err = proc.communicate()
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{step}: the measuring child failed:\n{err[-3000:]}")
    usage = json.loads(out.strip().splitlines()[-1])
    return Measure(step, usage["cpu_s"], wall, peak / 2**20, usage["maxrss_kib"] / 1024, threads, units, unit)


def step_body(step_id: str, argv: list[str]) -> str:
    return f"run_step({step_id!r}, {argv!r})"


# ------------------------------------------------------------------ the model (tests/bench)


def prices(path: Path = PRICES) -> dict:
    """The instance types of ``bench/prices.json``'s families with On-Demand prices from the project's price
    table (:func:`seqflow.aws.costs.load_prices`, dated rows) and Spot as the file's assumed fraction of them."""
    from seqflow.aws.costs import load_prices

    spot = json.loads(path.read_text())
    region, fraction = spot["region"], spot["spot_fraction_of_on_demand"]
    table = load_prices()
    instances: dict[str, dict] = {f: {} for f in spot["families"]}
    dates = set()
    for (r, name), price in table.prices.items():
        family = name.split(".")[0]
        if r == region and family in instances:
            instances[family][name] = {"vcpus": price.vcpus, "memory_gib": price.memory_gib,
                                       "on_demand": price.usd_per_hour, "spot": price.usd_per_hour * fraction}
            dates.add(price.as_of)
    missing = [f for f, types in instances.items() if not types]
    if missing:
        raise ValueError(f"the price table has no {region} rows of {missing}")
    return {"region": region, "instances": instances,
            "date": f"On-Demand as of {', '.join(sorted(dates))}; Spot {fraction:.0%} of it, assumed "
                    f"{spot['spot_date']}"}


def pick_instance(vcpus: int, memory_mib: int, table: dict) -> tuple[str, dict]:
    """The cheapest (On-Demand) instance type of ``table`` with at least ``vcpus`` and ``memory_mib``."""
    fits = [(spec["on_demand"], name, spec) for family in table["instances"].values() for name, spec in family.items()
            if spec["vcpus"] >= vcpus and spec["memory_gib"] * 1024 >= memory_mib]
    if not fits:
        raise ValueError(f"no instance type in the price table has {vcpus} vCPUs and {memory_mib} MiB")
    _, name, spec = min(fits)
    return name, spec


def scale(m: Measure, workload: dict) -> float:
    """How many of the measure's units the workload has per sample (M read pairs or Mb called)."""
    return workload["read_pairs_m"] if m.unit == "pairs" else workload["called_mb"]


def derive_resources(m: Measure, workload: dict, *, index_mib: float = 0.0) -> dict[str, int]:
    """vCPUs, memory (MiB) and timeout (s) of a step's Batch job for one sample of ``workload``.

    * vCPUs: for a step of :data:`PARALLEL_STEPS`, enough that its core-hours end within
      :data:`TARGET_WALL_H`, a power of two up to :data:`MAX_VCPUS`; 1 for the others (one
      single-threaded process does the work: more vCPUs would idle; scattering shortens them).
    * memory: the measured peak of the step's processes, plus what grows with the reference (the
      aligner's index, ``index_mib`` at human size less the measured one) and with the data
      (:data:`PER_THREAD_MIB` per vCPU), with 50 % headroom,
      rounded up to a whole GiB, at least 2 GiB per vCPU (what the instances offer anyway).
    * timeout: twice the projected wall time at those vCPUs, rounded up to the hour, at least 1 h.
    """
    core_h = m.cpu_per_unit * scale(m, workload) / 3600
    if m.step in PARALLEL_STEPS:
        need = core_h / TARGET_WALL_H
        vcpus = min(MAX_VCPUS, 2 ** max(0, math.ceil(math.log2(max(need, 1)))))
    else:
        vcpus = 1
    wall_h = core_h / vcpus
    memory = (m.peak_rss_mib + index_mib + PER_THREAD_MIB.get(m.step, 0) * vcpus) * 1.5
    memory_mib = max(2048 * vcpus, 1024 * math.ceil(memory / 1024))
    timeout = max(3600, 3600 * math.ceil(2 * wall_h))
    return {"vcpus": vcpus, "memory_mib": int(memory_mib), "timeout_seconds": int(timeout)}


def project(measures: list[Measure], workload: dict, resources: dict[str, dict], table: dict) -> list[dict]:
    """Per step and in total: core-hours, wall hours, instance type, On-Demand and Spot dollars, for ``workload``."""
    rows = []
    for m in measures:
        if m.step not in resources:
            continue
        r = resources[m.step]
        core_h = m.cpu_per_unit * scale(m, workload) / 3600 * workload["samples"]
        wall_h = core_h / workload["samples"] / r["vcpus"]
        name, spec = pick_instance(r["vcpus"], r["memory_mib"], table)
        # the job holds r["vcpus"] of the instance for wall_h; Batch packs jobs, so pay for that share
        share = r["vcpus"] / spec["vcpus"]
        inst_h = wall_h * share * workload["samples"]
        rows.append({"step": m.step, "core_h": core_h, "wall_h": wall_h, "instance": name,
                     "on_demand": inst_h * spec["on_demand"], "spot": inst_h * spec["spot"]})
    return rows


def print_table(measures: list[Measure]) -> str:
    lines = ["| step | unit | ran | threads | CPU s | wall s | efficiency | CPU s per unit | peak RSS MiB "
             "(tree / one process) |", "|" + "---|" * 9]
    for m in measures:
        u = "M pairs" if m.unit == "pairs" else "Mb"
        lines.append(f"| {m.step} | {u} | {m.units:.3f} | {m.threads} | {m.cpu_s:.1f} | {m.wall_s:.1f} | "
                     f"{m.efficiency:.2f} | {m.cpu_per_unit:.1f} | {m.peak_rss_mib:.0f} / {m.max_process_rss_mib:.0f} |")
    return "\n".join(lines)


def print_projection(rows: list[dict], workload: dict, table: dict) -> str:
    lines = [f"### {workload['name']}: {workload['samples']} x ({workload['read_pairs_m']:g} M read pairs, "
             f"{workload['called_mb']:g} Mb called); prices {table['date']} ({table['region']})",
             "| step | core-hours | wall h per sample | instance | On-Demand $ | Spot $ |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['step']} | {r['core_h']:.2f} | {r['wall_h']:.2f} | {r['instance']} | "
                     f"{r['on_demand']:.2f} | {r['spot']:.2f} |")
    return "\n".join(lines)


# ------------------------------------------------------------------ data


def chr20(work: Path, cache: Path) -> Path:
    """GRCh37 chromosome 20 from Debian vt-examples, as a plain FASTA with its .fai (once)."""
    import gzip
    import io

    import pysam

    from seqflow.references.sources import cached_deb, read_deb_member

    fasta = work / "grch37_chr20.fa"
    if not Path(f"{fasta}.fai").exists():
        raw = read_deb_member(cached_deb("vt-examples", cache), "usr/share/doc/vt/examples/ref/20.fa.gz")
        with gzip.open(io.BytesIO(raw), "rb") as src, open(fasta, "wb") as dst:
            dst.write(src.read())
        pysam.faidx(str(fasta))
    (work / "grch37_chr20.ploidy").write_text("* * * * 2\n")
    return fasta


def reads(work: Path, fasta: Path, slice_kb: int, depth: float = 30.0) -> tuple[Path, Path, int, float]:
    """wgsim 2x150 reads, diploid with planted variants, of a ``slice_kb`` kb slice from 30 Mb on."""
    import pysam

    from seqflow.demo.mutate import plan_variants
    from seqflow.demo.reads import simulate_diploid_reads

    r1, r2 = work / "sim_R1.fastq.gz", work / "sim_R2.fastq.gz"
    part = work / "slice.fa"
    if not r2.exists():
        with pysam.FastaFile(str(fasta)) as fa:
            seq = fa.fetch("20", 30_000_000, 30_000_000 + slice_kb * 1000)
        part.write_text(">20\n" + "\n".join(seq[i:i + 60] for i in range(0, len(seq), 60)) + "\n")
        pysam.faidx(str(part))
        variants = plan_variants(part, seed=7, mean_spacing=1000, indel_fraction=0.15, max_indel=10)
        simulate_diploid_reads(part, variants, r1, r2, work=work, seed=7, depth=depth)
    n = sum(1 for _ in subprocess.run(["zcat", str(r1)], capture_output=True).stdout.splitlines()) // 4
    return r1, r2, n, slice_kb / 1000


def index_mib(fasta: Path, aligner: str) -> float:
    """What the aligner loads of its index (MiB): bwa's .bwt, .sa and .pac; minimap2's .mmi."""
    suffixes = (".bwt", ".sa", ".pac") if aligner == "bwa" else (".mmi",)
    return sum(Path(f"{fasta}{s}").stat().st_size for s in suffixes) / 2**20


# ------------------------------------------------------------------ run


def run(work: Path, cache: Path, slice_kb: int, threads: int) -> tuple[list[Measure], dict[str, float], list[Measure]]:
    from seqflow.analysis.catalog import catalog

    work.mkdir(parents=True, exist_ok=True)
    fasta = chr20(work, cache)
    ploidy = work / "grch37_chr20.ploidy"
    for aligner in catalog().aligners:
        (index,) = catalog().reference_steps(aligner)
        if not all(Path(p).exists() for p in index.output_files(reference=str(fasta)).values()
                   if not p.endswith(".log")):
            print(f"# indexing chr20 for {aligner} (once)", flush=True)
            subprocess.run([str(index.script_path()), *index.argv({"reference": fasta, "out_dir": work})],
                           check=True, capture_output=True)
    r1, r2, pairs, called_mb = reads(work, fasta, slice_kb)
    mp = pairs / 1e6
    print(f"# reads: {pairs} pairs (2x150, 30x over {slice_kb} kb of GRCh37 chr20); reference chr20 (63 Mb)",
          flush=True)
    out = work / "out"
    out.mkdir(exist_ok=True)
    S = "SIM"
    m: list[Measure] = []
    fastp = catalog().step("fastp")
    m.append(measure(step_body("fastp", fastp.argv({"sample_id": S, "r1": r1, "r2": r2, "out_dir": out,
                                                    "threads": threads})),
                     step="fastp", threads=threads, units=mp, unit="pairs"))
    t1, t2 = out / f"{S}.trimmed_R1.fastq.gz", out / f"{S}.trimmed_R2.fastq.gz"
    for name, o in fastp.outputs.items():
        if name == "trimmed_r1":
            t1 = out / o.file_name(sample_id=S)
        if name == "trimmed_r2":
            t2 = out / o.file_name(sample_id=S)
    bams = {}
    for aligner in catalog().aligners:
        impl = catalog().step("align", aligner=aligner)
        o = out / aligner
        m.append(measure(step_body(impl.id, impl.argv({"sample_id": S, "reference": fasta, "r1": t1, "r2": t2,
                                                        "out_dir": o, "threads": threads})),
                         step=impl.id, threads=threads, units=mp, unit="pairs"))
        bams[aligner] = o / impl.outputs["bam"].file_name(sample_id=S)
    bam = bams["bwa"]
    # markdup alone, on the aligned reads in name order (what align.sh streams into it)
    md = out / "markdup"
    md.mkdir(exist_ok=True)
    body = (f"import subprocess\nsubprocess.run('samtools collate -@ {threads} -O {bam} {md}/c "
            f"| samtools fixmate -m -@ {threads} - - | samtools sort -u -@ {threads} -T {md}/s - "
            f"| samtools markdup -@ {threads} - {md}/md.bam', shell=True, check=True, capture_output=True)")
    m.append(measure(body, step="markdup", threads=threads, units=mp, unit="pairs"))
    for caller in catalog().callers:
        impl = catalog().step("call_variants", caller=caller)
        o = out / caller
        m.append(measure(step_body(impl.id, impl.argv({"sample_id": S, "reference": fasta, "bam": bam, "out_dir": o,
                                                        "ploidy_file": ploidy, "threads": threads})),
                         step=impl.id, threads=threads, units=called_mb, unit="mb"))
    vcf = out / "bcftools" / f"{S}.vcf.gz"
    qc = catalog().step("bam_qc")
    m.append(measure(step_body("bam_qc", qc.argv({"sample_id": S, "bam": bam, "out_dir": out / "qc",
                                                  "threads": threads})),
                     step="bam_qc", threads=threads, units=mp, unit="pairs"))
    vs = catalog().step("vcf_stats")
    m.append(measure(step_body("vcf_stats", vs.argv({"sample_id": S, "reference": fasta, "vcf": vcf,
                                                     "out_dir": out / "qc", "threads": threads})),
                     step="vcf_stats", threads=threads, units=called_mb, unit="mb"))
    idx = {f"align_{a}": index_mib(fasta, a) for a in catalog().aligners}

    # the same per-read figures on real reads (HG02002, 2,039 pairs: start-up weighs more there)
    from seqflow.demo import human_reads

    region = human_reads.build_region(work / "HG02002", cache)
    ro = work / "HG02002" / "out"
    real: list[Measure] = []
    rmp = region.read_pairs / 1e6
    real.append(measure(step_body("fastp", fastp.argv({"sample_id": "HG02002", "r1": region.r1, "r2": region.r2,
                                                       "out_dir": ro, "threads": threads})),
                        step="fastp", threads=threads, units=rmp, unit="pairs"))
    (bidx,) = catalog().reference_steps("bwa")
    subprocess.run([str(bidx.script_path()), *bidx.argv({"reference": region.fasta, "out_dir": region.fasta.parent})],
                   check=True, capture_output=True)
    a = catalog().step("align", aligner="bwa")
    real.append(measure(step_body(a.id, a.argv({"sample_id": "HG02002", "reference": region.fasta,
                                                "r1": ro / "HG02002.trimmed_R1.fastq.gz",
                                                "r2": ro / "HG02002.trimmed_R2.fastq.gz", "out_dir": ro,
                                                "threads": threads})),
                        step=a.id, threads=threads, units=rmp, unit="pairs"))
    return m, idx, real


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out" / "genome_cost")
    parser.add_argument("--cache", type=Path, default=REPO / ".seqflow" / "testdata" / "debs")
    parser.add_argument("--slice-kb", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", action="store_true", help=f"store the derived resources in {TABLE.name}")
    parser.add_argument("--from-table", action="store_true",
                        help=f"do not measure: derive and project from the measures stored in {TABLE.name}")
    args = parser.parse_args(argv)
    table = prices()
    if args.from_table:
        stored = json.loads(TABLE.read_text())
        measures, real = [Measure(**m) for m in stored["measured"]], [Measure(**m) for m in stored["real_reads"]]
        idx = stored["index_mib_measured"]
    else:
        measures, idx, real = run(args.work, args.cache, args.slice_kb, args.threads)
    print(f"## per step, measured (simulated 30x reads on GRCh37 chr20; load average {os.getloadavg()[0]:.1f})")
    print(print_table(measures))
    print("## the same steps on real reads (HG02002)")
    print(print_table(real))
    human_index = {step: mib * HUMAN_MB / 63.0 - mib for step, mib in idx.items()}
    resources = {m.step: derive_resources(m, GENOME_30X, index_mib=human_index.get(m.step, 0.0))
                 for m in measures if m.step != "markdup"}
    print(f"## derived Batch resources (30x genome; index at human size: "
          + ", ".join(f"{s} +{v:.0f} MiB" for s, v in human_index.items()) + ")")
    print("| step | vCPUs | memory MiB | timeout s |\n|---|---|---|---|")
    for step, r in resources.items():
        print(f"| {step} | {r['vcpus']} | {r['memory_mib']} | {r['timeout_seconds']} |")
    for workload in (GENOME_30X, EXOME_FLOWCELL):
        rows = project(measures, workload, resources, table)
        print(print_projection(rows, workload, table))
        for aligner, caller in (("bwa", "bcftools"), ("minimap2", "bcftools"), ("bwa", "freebayes")):
            chosen = [r for r in rows if r["step"] in ("fastp", f"align_{aligner}", f"call_variants_{caller}",
                                                       "bam_qc", "vcf_stats")]
            print(f"total {aligner}+{caller}: {sum(r['core_h'] for r in chosen):.1f} core-hours, "
                  f"On-Demand ${sum(r['on_demand'] for r in chosen):.2f}, Spot ${sum(r['spot'] for r in chosen):.2f}"
                  f" ({workload['samples']} sample(s))")
    if args.write:
        TABLE.write_text(json.dumps({
            "comment": "Written by bench/genome_cost.py --write; tests/bench/test_genome_cost.py holds "
                       "containers/*/steps.yaml resources to it.",
            "workload": GENOME_30X, "target_wall_h": TARGET_WALL_H,
            "measured": [asdict(m) for m in measures], "real_reads": [asdict(m) for m in real],
            "index_mib_measured": idx, "index_mib_at_human_size": human_index,
            "resources": resources}, indent=1) + "\n")
        print(f"wrote {TABLE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
