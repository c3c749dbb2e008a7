"""Illumina-style demo run folders on the landing share.

:func:`generate_run` builds what a NovaSeq 6000 with on-instrument BCL
conversion leaves on the share, from a small real genome::

    <landing>/YYMMDD_<instrument>_<run number>_<A|B><flowcell>/
        RunInfo.xml
        SampleSheet.csv                      (v2, [BCLConvert_Data])
        Analysis/1/Data/fastq/<Sample_ID>_S<n>_L001_R<1|2>_001.fastq.gz
        CopyComplete.txt                     (written last)

The FASTQs sit where on-instrument (DRAGEN) BCL Convert writes them,
``Analysis/<n>/Data/fastq/``. Each sample carries its own seeded truth set of
SNPs and indels (:mod:`seqflow.demo.mutate`); the truth VCFs and a ``demo.json``
manifest go to ``<truth_root>/<run name>/``, beside the run and never inside it,
so the pipeline cannot see the answers.

The folder is assembled under a hidden ``.tmp-<run name>-*`` folder inside the
landing share and renamed into place when every file is flushed, so a watcher
never sees a half-built run; ``CopyComplete.txt`` is then the final write, as
on an instrument. The truth folder is renamed into place before the run is.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import os
import random
import re
import shutil
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from seqflow.config import DEFAULT_COMPLETION_FLAGS
from seqflow.fsutil import default_dir_mode, file_lock, fsync_path, fsync_tree
from seqflow.demo.mutate import plan_variants, sample_seed, write_mutated_genome, write_truth_vcf
from seqflow.demo.reads import DEFAULT_READ_LENGTH, IlluminaNames, simulate_reads
from seqflow.demo.references import demo_genome, ensure_demo_reference

log = logging.getLogger(__name__)

COMPLETION_FLAG = DEFAULT_COMPLETION_FLAGS[0]  # CopyComplete.txt
FASTQ_SUBDIR = Path("Analysis", "1", "Data", "fastq")
LANE = 1
INDEX_LENGTH = 8
MAX_SAMPLES = 96
#: RunInfo cycles: one extra cycle per read that BCL Convert trims (OverrideCycles Y150N1)
READ_CYCLES = DEFAULT_READ_LENGTH + 1

#: A reduced but self-consistent NovaSeq layout (real S4 flow cells have more tiles).
LANE_COUNT, SURFACE_COUNT, SWATH_COUNT, TILE_COUNT = 4, 2, 2, 4

INSTRUMENT_RE = re.compile(r"^[A-Za-z0-9]{1,20}$")
FLOWCELL_RE = re.compile(r"^[A-Z0-9]{9}$")
SAMPLE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
RUN_NAME_RE = re.compile(r"^(\d{6})_([A-Za-z0-9]+)_(\d{4})_([AB]?)([A-Z0-9]+)$")


@dataclass(frozen=True)
class DemoSample:
    """One sample of a demo run."""

    number: int  # the ``S<n>`` of its FASTQ names
    sample_id: str
    index: str
    index2: str

    def fastq_name(self, read: int) -> str:
        return f"{self.sample_id}_S{self.number}_L{LANE:03d}_R{read}_001.fastq.gz"


def truth_vcf_name(sample_id: str) -> str:
    """File name of a sample's truth set in ``<truth_root>/<run>/``."""
    return f"{sample_id}.truth.vcf.gz"


def default_flowcell(run_date: dt.date, instrument: str, run_number: int) -> str:
    """A plausible NovaSeq S4 flow-cell ID (``H????DSXY``), stable for a run's date, instrument and number."""
    alphabet = "ABCDEFGHJKLMNPRSTVWXY23456789"
    digest = hashlib.sha256(f"{run_date.isoformat()}/{instrument}/{run_number}".encode()).digest()
    return "H" + "".join(alphabet[b % len(alphabet)] for b in digest[:4]) + "DSXY"


def run_folder_name(run_date: dt.date, instrument: str, run_number: int, flowcell: str,
                    position: str = "A") -> str:
    """``YYMMDD_<instrument>_<NNNN>_<A|B><flowcell>`` after validating every part."""
    if not INSTRUMENT_RE.match(instrument):
        raise ValueError(f"instrument {instrument!r}: use 1-20 letters and digits (e.g. A01234)")
    if not 1 <= run_number <= 9999:
        raise ValueError(f"run number {run_number} must be within 1..9999")
    if not FLOWCELL_RE.match(flowcell):
        raise ValueError(f"flowcell {flowcell!r}: use 9 upper-case letters and digits (e.g. H5GTKDSXY)")
    if position not in ("A", "B"):
        raise ValueError(f"flow-cell position {position!r} must be 'A' or 'B'")
    return f"{run_date:%y%m%d}_{instrument}_{run_number:04d}_{position}{flowcell}"


def demo_samples(prefix: str, count: int) -> list[DemoSample]:
    """``count`` samples ``<prefix>-S01``… with distinct, well-separated 8-bp index pairs."""
    if not 1 <= count <= MAX_SAMPLES:
        raise ValueError(f"samples must be within 1..{MAX_SAMPLES}, got {count}")
    i7, i5 = _index_pool()
    samples = [DemoSample(n, f"{prefix}-S{n:02d}", i7[n - 1], i5[n - 1]) for n in range(1, count + 1)]
    for s in samples:
        if not SAMPLE_ID_RE.match(s.sample_id):
            raise ValueError(f"sample ID {s.sample_id!r}: use letters, digits, '-' and '_' only")
    return samples


@functools.cache
def _index_pool() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Deterministic i7 and i5 index lists of :data:`MAX_SAMPLES` each: GC 3-5 of 8,
    no triplet homopolymer, every two indexes of a list at Hamming distance >= 3
    (one sequencing error never turns one sample into another). Sample ``n`` gets
    the ``n``-th pair whatever the number of samples."""
    rng = random.Random(20240101)
    pools: tuple[list[str], list[str]] = ([], [])
    count = MAX_SAMPLES
    while min(len(p) for p in pools) < count:
        candidate = "".join(rng.choice("ACGT") for _ in range(INDEX_LENGTH))
        gc = sum(b in "GC" for b in candidate)
        if not 3 <= gc <= 5 or any(b * 3 in candidate for b in "ACGT"):
            continue
        for pool in pools:
            if len(pool) < count and candidate not in pools[0] + pools[1] and all(
                    sum(a != b for a, b in zip(candidate, other)) >= 3 for other in pool):
                pool.append(candidate)
                break
    return tuple(pools[0]), tuple(pools[1])


def _tiles() -> list[str]:
    """Tile names of the layout, ``<lane>_<surface><swath><tile:02d>``."""
    return [f"{lane}_{surface}{swath}{tile:02d}"
            for lane in range(1, LANE_COUNT + 1)
            for surface in range(1, SURFACE_COUNT + 1)
            for swath in range(1, SWATH_COUNT + 1)
            for tile in range(1, TILE_COUNT + 1)]


def run_info_xml(run_name: str, run_number: int, flowcell: str, instrument: str, run_date: dt.date, *,
                 paired: bool = True) -> str:
    """RunInfo.xml of a NovaSeq 6000 run (schema version 5), paired 151+8+8+151 cycles (single-end:
    151+8, without the index read 2 and read 2)."""
    root = ET.Element("RunInfo", {"Version": "5"})
    run = ET.SubElement(root, "Run", {"Id": run_name, "Number": str(run_number)})
    ET.SubElement(run, "Flowcell").text = flowcell
    ET.SubElement(run, "Instrument").text = instrument
    # NovaSeq 6000 writes a US-style timestamp here (older instruments wrote YYMMDD)
    ET.SubElement(run, "Date").text = f"{run_date.month}/{run_date.day}/{run_date.year} 8:00:00 AM"
    reads = ET.SubElement(run, "Reads")
    layout_reads = ((1, READ_CYCLES, "N"), (2, INDEX_LENGTH, "Y"), (3, INDEX_LENGTH, "Y"), (4, READ_CYCLES, "N"))
    for number, cycles, indexed in layout_reads if paired else layout_reads[:2]:
        ET.SubElement(reads, "Read", {"Number": str(number), "NumCycles": str(cycles),
                                      "IsIndexedRead": indexed})
    layout = ET.SubElement(run, "FlowcellLayout", {
        "LaneCount": str(LANE_COUNT), "SurfaceCount": str(SURFACE_COUNT),
        "SwathCount": str(SWATH_COUNT), "TileCount": str(TILE_COUNT)})
    tile_set = ET.SubElement(layout, "TileSet", {"TileNamingConvention": "FourDigit"})
    tiles = ET.SubElement(tile_set, "Tiles")
    for name in _tiles():
        ET.SubElement(tiles, "Tile").text = name
    channels = ET.SubElement(run, "ImageChannels")
    for channel in ("Red", "Green"):
        ET.SubElement(channels, "Name").text = channel
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def sample_sheet_csv(run_name: str, samples: list[DemoSample], description: str) -> str:
    """SampleSheet.csv v2 for BCL Convert: 150-bp reads from 151 cycles, dual 8-bp indexes, lane 1."""
    if "," in description:
        raise ValueError("the run description must not contain commas")
    lines = [
        "[Header]",
        "FileFormatVersion,2",
        f"RunName,{run_name}",
        f"RunDescription,{description}",
        "InstrumentPlatform,NovaSeq6000",
        "IndexOrientation,Forward",
        "",
        "[Reads]",
        f"Read1Cycles,{READ_CYCLES}",
        f"Read2Cycles,{READ_CYCLES}",
        f"Index1Cycles,{INDEX_LENGTH}",
        f"Index2Cycles,{INDEX_LENGTH}",
        "",
        "[BCLConvert_Settings]",
        "SoftwareVersion,4.2.7",
        f"OverrideCycles,Y{DEFAULT_READ_LENGTH}N1;I{INDEX_LENGTH};I{INDEX_LENGTH};Y{DEFAULT_READ_LENGTH}N1",
        "FastqCompressionFormat,gzip",
        "",
        "[BCLConvert_Data]",
        "Lane,Sample_ID,Index,Index2",
        *(f"{LANE},{s.sample_id},{s.index},{s.index2}" for s in samples),
    ]
    return "\r\n".join(lines) + "\r\n"  # instruments and LIMS write CRLF sample sheets


def generate_run(
    landing: Path,
    truth_root: Path,
    references_root: Path,
    *,
    reference: str,
    run_date: dt.date,
    instrument: str = "A01234",
    run_number: int = 1,
    flowcell: str | None = None,
    position: str = "A",
    samples: int = 2,
    coverage: float = 30.0,
    seed: int = 42,
    mean_spacing: int | None = None,
    threads: int | None = None,
) -> Path:
    """Build a demo run folder in ``landing`` and return its path.

    Args:
        reference: a demo genome (:data:`seqflow.demo.references.DEMO_GENOMES`), registered in the
            reference catalogue at ``references_root`` on first use.
        run_date: the date in the run name (what the daily DAG looks for).
        flowcell: 9 upper-case alphanumerics; default: derived from the date,
            instrument and run number, so separate runs get separate flow cells.
        position: flow-cell side, ``A`` or ``B``.
        samples: number of samples (1-96), named ``<prefix>-S01``…
        coverage: mean depth of the simulated reads per sample.
        seed: run seed; each sample's truth and reads derive from it, the run
            name and the sample ID, so the same arguments give the same files.
        mean_spacing: one variant per this many bp (default of
            :func:`seqflow.demo.mutate.plan_variants`).

    Idempotent: a run that already has its ``CopyComplete.txt`` is returned as is.
    """
    if not isinstance(run_date, dt.date):
        raise TypeError("run_date must be a datetime.date")
    if not 0 < coverage <= 1000:
        raise ValueError(f"coverage must be within (0, 1000], got {coverage}")
    source = demo_genome(reference)
    flowcell = flowcell or default_flowcell(run_date, instrument, run_number)
    name = run_folder_name(run_date, instrument, run_number, flowcell, position)
    sample_list = demo_samples(source.sample_prefix, samples)
    landing, truth_root = Path(landing), Path(truth_root)
    run_dir, truth_dir = landing / name, truth_root / name

    if (run_dir / COMPLETION_FLAG).is_file():
        log.info("run %s already complete in %s", name, landing)
        return run_dir
    landing.mkdir(parents=True, exist_ok=True)
    truth_root.mkdir(parents=True, exist_ok=True)
    with file_lock(truth_root / f".{name}.lock"):
        if (run_dir / COMPLETION_FLAG).is_file():
            return run_dir
        if run_dir.exists():
            # only possible after a crash between the rename and the flag
            if _is_complete_demo_run(run_dir, truth_dir, sample_list):
                _write_flag(run_dir)
                return run_dir
            raise RuntimeError(f"{run_dir} exists without {COMPLETION_FLAG} and is not a complete demo run; "
                               "remove it to regenerate")
        fasta = ensure_demo_reference(reference, Path(references_root)).resolve()
        _remove_stale(landing, truth_root, name)
        started = time.monotonic()
        tmp_run = _make_temp_dir(landing, f".tmp-{name}-")
        tmp_truth = _make_temp_dir(truth_root, f".tmp-{name}-")
        work = _make_temp_dir(truth_root, f".work-{name}-")
        try:
            description = (f"seqflow demo; reference={reference}; samples={samples}; "
                           f"coverage={coverage:g}x; seed={seed}")
            (tmp_run / "RunInfo.xml").write_text(
                run_info_xml(name, run_number, flowcell, instrument, run_date), encoding="utf-8")
            (tmp_run / "SampleSheet.csv").write_bytes(
                sample_sheet_csv(name, sample_list, description).encode("ascii"))
            fastq_dir = tmp_run / FASTQ_SUBDIR
            fastq_dir.mkdir(parents=True)
            tiles = tuple(int(t.split("_")[1]) for t in _tiles() if t.startswith(f"{LANE}_"))
            manifest_samples = []
            density = {"mean_spacing": mean_spacing} if mean_spacing else {}
            for s in sample_list:
                s_seed = sample_seed(seed, f"{name}/{s.sample_id}")
                variants = plan_variants(fasta, seed=s_seed, **density)
                truth_vcf = tmp_truth / truth_vcf_name(s.sample_id)
                write_truth_vcf(variants, truth_vcf, reference_fasta=fasta, sample_id=s.sample_id, seed=seed)
                genome = write_mutated_genome(fasta, variants, work / f"{s.sample_id}.fa")
                log.info("%s: %d variants planted; simulating %gx reads", s.sample_id, len(variants), coverage)
                pairs = simulate_reads(
                    genome, fastq_dir / s.fastq_name(1), fastq_dir / s.fastq_name(2),
                    seed=s_seed, coverage=coverage, threads=threads,
                    names=IlluminaNames(instrument, run_number, flowcell, LANE, s.index, s.index2, tiles),
                )
                genome.unlink()
                kinds = Counter(v.kind for v in variants)
                manifest_samples.append({
                    "sample_id": s.sample_id, "sample_number": s.number, "index": s.index, "index2": s.index2,
                    "fastq": [str(FASTQ_SUBDIR / s.fastq_name(r)) for r in (1, 2)],
                    "truth_vcf": truth_vcf.name, "read_pairs": pairs,
                    "variants": {"total": len(variants), "snp": kinds["SNP"], "ins": kinds["INS"],
                                 "del": kinds["DEL"]},
                })
                log.info("%s: %d read pairs written (%.0f s elapsed)", s.sample_id, pairs,
                         time.monotonic() - started)
            manifest = {
                "run_name": name, "reference": reference, "reference_fasta": str(fasta),
                "run_date": run_date.isoformat(), "instrument": instrument, "run_number": run_number,
                "flowcell": flowcell, "coverage": coverage, "seed": seed,
                "read_length": DEFAULT_READ_LENGTH, "samples": manifest_samples,
            }
            (tmp_truth / "demo.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            fsync_tree(tmp_truth)
            fsync_tree(tmp_run)
            # truth first: a visible run always has its truth set beside it
            if truth_dir.exists():
                shutil.rmtree(truth_dir)  # left by an attempt that died before its run appeared
            os.rename(tmp_truth, truth_dir)
            os.rename(tmp_run, run_dir)
            fsync_path(truth_root)
            fsync_path(landing)
            _write_flag(run_dir)
        finally:
            for leftover in (tmp_run, tmp_truth, work):
                shutil.rmtree(leftover, ignore_errors=True)
        log.info("run %s ready in %s (%.0f s)", name, landing, time.monotonic() - started)
    return run_dir


def _make_temp_dir(parent: Path, prefix: str) -> Path:
    """A hidden temporary folder with the usual folder permissions (``mkdtemp`` uses 0700)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(path, default_dir_mode())
    return path


def _remove_stale(landing: Path, truth_root: Path, name: str) -> None:
    """Delete temporary folders of earlier attempts at this run (we hold its lock)."""
    for parent, prefixes in ((landing, (f".tmp-{name}-",)), (truth_root, (f".tmp-{name}-", f".work-{name}-"))):
        for entry in parent.iterdir():
            if entry.is_dir() and entry.name.startswith(prefixes):
                log.info("removing leftover %s", entry)
                shutil.rmtree(entry, ignore_errors=True)


def _write_flag(run_dir: Path) -> None:
    flag = run_dir / COMPLETION_FLAG
    with open(flag, "wb") as handle:
        handle.flush()
        os.fsync(handle.fileno())
    fsync_path(run_dir)


def _is_complete_demo_run(run_dir: Path, truth_dir: Path, samples: list[DemoSample]) -> bool:
    needed = [run_dir / "RunInfo.xml", run_dir / "SampleSheet.csv", truth_dir / "demo.json"]
    for s in samples:
        needed += [run_dir / FASTQ_SUBDIR / s.fastq_name(r) for r in (1, 2)]
        needed += [truth_dir / truth_vcf_name(s.sample_id)]
    return all(p.is_file() for p in needed)


def parse_run_folder_name(name: str) -> tuple[dt.date, str, int, str, str]:
    """Split a run folder name into (date, instrument, run number, position, flowcell)."""
    m = RUN_NAME_RE.match(name)
    if not m:
        raise ValueError(f"{name!r} is not an Illumina run folder name (YYMMDD_<instrument>_<NNNN>_<flowcell>)")
    date = dt.datetime.strptime(m.group(1), "%y%m%d").date()
    return date, m.group(2), int(m.group(3)), m.group(4), m.group(5)
