"""Demo run folders: name, layout, RunInfo.xml, sample sheet, FASTQs, truth, atomicity."""

from __future__ import annotations

import datetime as dt
import gzip
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pysam
import pytest

from seqflow.demo import runfolder
from seqflow.demo.runfolder import FASTQ_SUBDIR, demo_samples, generate_run, parse_run_folder_name

NAME_RE = re.compile(r"^240305_A01234_0001_A(H[A-Z0-9]{4}DSXY)$")
DATE = dt.date(2024, 3, 5)


def _sections(sample_sheet: Path) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in sample_sheet.read_text().splitlines():
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = []
        elif line.strip() and current:
            sections[current].append(line)
    return sections


def _fastq_reads(path: Path) -> list[tuple[str, str]]:
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    return [(lines[i], lines[i + 1]) for i in range(0, len(lines), 4)]


def test_run_folder_name_and_files(lambda_run):
    run, truth, landing = lambda_run
    assert NAME_RE.match(run.name), run.name
    assert run.parent == landing
    files = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())
    fq = "Analysis/1/Data/fastq"
    assert files == sorted([
        "CopyComplete.txt", "RunInfo.xml", "SampleSheet.csv",
        f"{fq}/LAM-S01_S1_L001_R1_001.fastq.gz", f"{fq}/LAM-S01_S1_L001_R2_001.fastq.gz",
        f"{fq}/LAM-S02_S2_L001_R1_001.fastq.gz", f"{fq}/LAM-S02_S2_L001_R2_001.fastq.gz",
    ])
    # nothing half-built or hidden is left on the share, and no answers are inside the run
    assert [p.name for p in landing.iterdir()] == [run.name]
    assert not list(run.rglob("*.vcf*"))


def test_copy_complete_is_the_newest_file(lambda_run):
    run, _, _ = lambda_run
    flag = (run / "CopyComplete.txt").stat().st_mtime_ns
    others = [p.stat().st_mtime_ns for p in run.rglob("*") if p.name != "CopyComplete.txt"]
    assert all(flag >= m for m in others)


def test_run_info_matches_the_name(lambda_run):
    run, _, _ = lambda_run
    root = ET.parse(run / "RunInfo.xml").getroot()
    assert root.tag == "RunInfo"
    node = root.find("Run")
    assert node.get("Id") == run.name and node.get("Number") == "1"
    assert node.findtext("Flowcell") == NAME_RE.match(run.name).group(1)
    assert node.findtext("Instrument") == "A01234"
    assert node.findtext("Date") == "3/5/2024 8:00:00 AM"
    reads = [(r.get("Number"), r.get("NumCycles"), r.get("IsIndexedRead")) for r in node.find("Reads")]
    assert reads == [("1", "151", "N"), ("2", "8", "Y"), ("3", "8", "Y"), ("4", "151", "N")]
    layout = node.find("FlowcellLayout")
    n_tiles = 1
    for attr in ("LaneCount", "SurfaceCount", "SwathCount", "TileCount"):
        n_tiles *= int(layout.get(attr))
    assert len(layout.findall("TileSet/Tiles/Tile")) == n_tiles
    assert parse_run_folder_name(run.name)[:3] == (DATE, "A01234", 1)


def test_sample_sheet_v2_lists_the_samples(lambda_run):
    run, _, _ = lambda_run
    raw = (run / "SampleSheet.csv").read_bytes()
    assert b"\r\n" in raw
    sections = _sections(run / "SampleSheet.csv")
    assert list(sections) == ["Header", "Reads", "BCLConvert_Settings", "BCLConvert_Data"]
    header = dict(line.split(",", 1) for line in sections["Header"])
    assert header["FileFormatVersion"] == "2" and header["RunName"] == run.name
    assert header["InstrumentPlatform"]
    reads = dict(line.split(",") for line in sections["Reads"])
    assert reads == {"Read1Cycles": "151", "Read2Cycles": "151", "Index1Cycles": "8", "Index2Cycles": "8"}
    assert dict(line.split(",") for line in sections["BCLConvert_Settings"])["OverrideCycles"] == \
        "Y150N1;I8;I8;Y150N1"
    data = sections["BCLConvert_Data"]
    assert data[0] == "Lane,Sample_ID,Index,Index2"
    rows = [dict(zip(data[0].split(","), line.split(","))) for line in data[1:]]
    assert [r["Sample_ID"] for r in rows] == ["LAM-S01", "LAM-S02"]
    assert all(r["Lane"] == "1" for r in rows)
    indexes = [r["Index"] + r["Index2"] for r in rows]
    assert len(set(indexes)) == 2
    assert all(re.fullmatch(r"[ACGT]{8}", r[k]) for r in rows for k in ("Index", "Index2"))


def test_fastq_pairs_are_equal_150bp_and_named_for_the_run(lambda_run):
    run, truth, _ = lambda_run
    flowcell = NAME_RE.match(run.name).group(1)
    sheet = _sections(run / "SampleSheet.csv")["BCLConvert_Data"][1:]
    for n, line in enumerate(sheet, start=1):
        _, sample_id, index, index2 = line.split(",")
        r1 = _fastq_reads(run / FASTQ_SUBDIR / f"{sample_id}_S{n}_L001_R1_001.fastq.gz")
        r2 = _fastq_reads(run / FASTQ_SUBDIR / f"{sample_id}_S{n}_L001_R2_001.fastq.gz")
        assert len(r1) == len(r2) > 1000  # ~8x of 48.5 kb in 2 x 150 bp pairs
        assert all(len(seq) == 150 for _, seq in r1 + r2)
        assert [h.split()[0] for h, _ in r1] == [h.split()[0] for h, _ in r2]
        assert r1[0][0].startswith(f"@A01234:1:{flowcell}:1:")
        assert r1[0][0].endswith(f" 1:N:0:{index}+{index2}") and r2[0][0].endswith(f" 2:N:0:{index}+{index2}")


def test_reads_carry_the_truth_variants(lambda_run, lambda_fasta: Path):
    """Without aligning: the 25-mer around each planted variant in the sample's
    genome occurs in its reads, and the reference 25-mer around SNPs does not."""
    run, truth, _ = lambda_run
    from seqflow.demo.mutate import Variant, apply_variants

    ref = pysam.FastaFile(str(lambda_fasta)).fetch("NC_001416.1")
    comp = str.maketrans("ACGT", "TGCA")
    with pysam.VariantFile(str(truth / "LAM-S01.truth.vcf.gz")) as vcf:
        variants = [Variant(r.chrom, r.pos, r.ref, r.alts[0]) for r in vcf]
    genome = apply_variants(ref, variants)
    text = "\n".join(seq for r in (1, 2)
                     for _, seq in _fastq_reads(run / FASTQ_SUBDIR / f"LAM-S01_S1_L001_R{r}_001.fastq.gz"))
    text += "\n" + text.translate(comp)[::-1]
    shift, found, ref_found = 0, 0, 0
    for v in variants:
        start = v.pos - 1 + shift
        alt_kmer = genome[start - 12:start + len(v.alt) + 12]
        found += alt_kmer in text
        if v.kind == "SNP":
            ref_found += ref[v.pos - 13:v.pos + 12] in text
        shift += len(v.alt) - len(v.ref)
    assert found >= 0.9 * len(variants)  # at 8x a few sites may lack an error-free spanning read
    assert ref_found == 0


def test_truth_sets_sit_beside_the_run_and_differ_between_samples(lambda_run):
    run, truth, _ = lambda_run
    assert truth.name == run.name and truth.parent != run.parent
    keys = {}
    for sample_id in ("LAM-S01", "LAM-S02"):
        vcf = truth / f"{sample_id}.truth.vcf.gz"
        assert Path(f"{vcf}.tbi").is_file()
        with pysam.VariantFile(str(vcf)) as reader:
            assert list(reader.header.samples) == [sample_id]
            records = list(reader)
        kinds = {r.info["VT"] for r in records}
        assert kinds == {"SNP", "INS", "DEL"}
        assert all(1 <= abs(len(r.alts[0]) - len(r.ref)) <= 10 for r in records if r.info["VT"] != "SNP")
        assert len(records) >= 20
        keys[sample_id] = {(r.pos, r.ref, r.alts[0]) for r in records}
    assert keys["LAM-S01"] != keys["LAM-S02"]
    assert (truth / "demo.json").is_file()


def test_same_arguments_give_identical_files_and_a_second_call_is_a_no_op(
        lambda_run, tmp_path: Path, references_root: Path, monkeypatch: pytest.MonkeyPatch):
    run, truth, landing = lambda_run
    again = generate_run(tmp_path / "landing", tmp_path / "truth", references_root, reference="lambda",
                         run_date=DATE, samples=2, coverage=8.0, seed=42)
    assert again.name == run.name
    fastqs = [str(FASTQ_SUBDIR / p.name) for p in (run / FASTQ_SUBDIR).iterdir()]
    for rel in ["SampleSheet.csv", "RunInfo.xml", *fastqs]:
        assert (again / rel).read_bytes() == (run / rel).read_bytes(), rel
    for sample_id in ("LAM-S01", "LAM-S02"):
        name = f"{sample_id}.truth.vcf.gz"
        assert (tmp_path / "truth" / run.name / name).read_bytes() == (truth / name).read_bytes()

    def must_not_run(*args, **kwargs):
        raise AssertionError("a complete run must not be regenerated")

    monkeypatch.setattr(runfolder, "simulate_reads", must_not_run)
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    assert generate_run(landing, truth.parent, references_root, reference="lambda",
                        run_date=DATE, samples=2, coverage=8.0, seed=42) == run
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before


def test_another_seed_or_date_gives_other_data(lambda_run, tmp_path: Path, references_root: Path):
    run, truth, _ = lambda_run
    other = generate_run(tmp_path / "l", tmp_path / "t", references_root, reference="lambda",
                         run_date=DATE, samples=1, coverage=1.0, seed=43)
    assert other.name == run.name
    assert (tmp_path / "t" / run.name / "LAM-S01.truth.vcf.gz").read_bytes() != \
        (truth / "LAM-S01.truth.vcf.gz").read_bytes()
    later = generate_run(tmp_path / "l", tmp_path / "t", references_root, reference="lambda",
                         run_date=DATE + dt.timedelta(days=1), samples=1, coverage=1.0, seed=42)
    assert later.name.startswith("240306_A01234_0001_A") and later.name[-9:] != run.name[-9:]


def test_a_failed_build_leaves_nothing_visible(tmp_path: Path, references_root: Path,
                                               monkeypatch: pytest.MonkeyPatch):
    landing, truth = tmp_path / "landing", tmp_path / "truth"
    real = runfolder.simulate_reads
    calls = []

    def flaky(*args, **kwargs):
        # while building, the share shows only the hidden temporary folder
        assert all(p.name.startswith(".tmp-") for p in landing.iterdir())
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(runfolder, "simulate_reads", flaky)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_run(landing, truth, references_root, reference="lambda", run_date=DATE,
                     samples=2, coverage=1.0)
    assert list(landing.iterdir()) == []
    assert [p.name for p in truth.iterdir() if not p.name.endswith(".lock")] == []

    monkeypatch.setattr(runfolder, "simulate_reads", real)
    run = generate_run(landing, truth, references_root, reference="lambda", run_date=DATE,
                       samples=2, coverage=1.0)
    assert (run / "CopyComplete.txt").is_file()


def test_a_run_that_lost_only_its_flag_is_finished(lambda_run, tmp_path: Path, references_root: Path):
    landing, truth = tmp_path / "landing", tmp_path / "truth"
    run = generate_run(landing, truth, references_root, reference="lambda", run_date=DATE,
                       samples=1, coverage=1.0)
    (run / "CopyComplete.txt").unlink()
    assert generate_run(landing, truth, references_root, reference="lambda", run_date=DATE,
                        samples=1, coverage=1.0) == run
    assert (run / "CopyComplete.txt").is_file()

    (run / "CopyComplete.txt").unlink()
    (run / "RunInfo.xml").unlink()
    with pytest.raises(RuntimeError, match="not a complete demo run"):
        generate_run(landing, truth, references_root, reference="lambda", run_date=DATE,
                     samples=1, coverage=1.0)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"flowcell": "h5gtk/SXY"}, "flowcell"),
    ({"instrument": "A0/../x"}, "instrument"),
    ({"run_number": 10000}, "run number"),
    ({"samples": 0}, "samples"),
    ({"coverage": 0.0}, "coverage"),
    ({"reference": "hg38"}, "unknown demo genome"),
])
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path: Path, kwargs, message):
    args = {"reference": "lambda", "run_date": DATE} | kwargs
    with pytest.raises(ValueError, match=message):
        generate_run(tmp_path / "landing", tmp_path / "truth", tmp_path / "refs", **args)
    assert list(tmp_path.iterdir()) == []


def test_sample_indexes_are_distinct_and_well_separated():
    samples = demo_samples("EC", 96)
    assert [s.sample_id for s in samples[:2]] == ["EC-S01", "EC-S02"]
    for attr in ("index", "index2"):
        seqs = [getattr(s, attr) for s in samples]
        assert len(set(seqs)) == 96
        assert all(sum(a != b for a, b in zip(x, y)) >= 3 for i, x in enumerate(seqs) for y in seqs[i + 1:])
    assert demo_samples("EC", 3) == samples[:3]
