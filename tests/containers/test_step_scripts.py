"""Each step script (the commands the images run on Batch and HealthOmics, and the local
profile runs as processes) on tiny real data, called with the arguments the step
catalogue declares: a random 30 kb genome with three planted SNPs, reads from wgsim."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from seqflow.analysis import qc
from seqflow.analysis.catalog import CALLERS, SOURCES, Step, catalog, containers_dir
from seqflow.paths import SAMPLE_ID_PATTERN

CONTIG = "chrT"  # the toy genome's (conftest.py)
COMMON = containers_dir() / "_common" / "seqflow_common.sh"


def _run(impl: Step, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(impl.script_path()), *map(str, args)], capture_output=True, text=True)


def _tool_version(tool: str) -> str:
    """What the tool itself says, parsed here independently of the shared helper."""
    if tool == "bwa":
        text = subprocess.run(["bwa"], capture_output=True, text=True).stderr
        return re.search(r"^Version: (\S+)", text, re.M).group(1)
    if tool == "fastp":
        return subprocess.run(["fastp", "--version"], capture_output=True, text=True).stderr.split()[1]
    if tool == "minimap2":
        return subprocess.run(["minimap2", "--version"], capture_output=True, text=True).stdout.strip()
    first = subprocess.run([tool, "--version"], capture_output=True).stdout.decode("latin-1").splitlines()[0]
    return first.split()[-1]


@pytest.fixture(scope="module")
def data(toy, tmp_path_factory):
    """The toy genome, copied: the index steps write beside this module's FASTA."""
    d = tmp_path_factory.mktemp("steps")
    for name in ("toy.fa", "toy.ploidy", "r1.fastq.gz", "r2.fastq.gz"):
        shutil.copy(toy["dir"] / name, d / name)
    return {"dir": d, "ref": d / "toy.fa", "alts": toy["alts"], "ploidy": d / "toy.ploidy"}


def _query(vcf: Path) -> set[tuple[int, str, str, str]]:
    out = subprocess.run(["bcftools", "query", "-f", "%POS\t%REF\t%ALT\t[%GT]\n", str(vcf)],
                         capture_output=True, text=True, check=True).stdout
    return {(int(p), r, a, gt) for p, r, a, gt in (line.split("\t") for line in out.splitlines())}


def _run_chain(data, aligner: str, caller: str, out: Path, ploidy: Path) -> dict[str, Path]:
    """Every step of a sample, as the catalogue orders and wires them; returns output name -> path."""
    ref = data["ref"]
    (index,) = catalog().reference_steps(aligner)
    proc = _run(index, *index.argv({"reference": ref, "out_dir": Path(ref).parent}))
    assert proc.returncode == 0, proc.stderr
    external = {"sample.r1": data["dir"] / "r1.fastq.gz", "sample.r2": data["dir"] / "r2.fastq.gz",
                "reference.fasta": ref, "reference.ploidy": ploidy}
    produced: dict[str, Path] = {}
    for impl in catalog().sample_steps(aligner, caller):
        values = {name: external[i.source] if i.external else produced[i.output] for name, i in impl.inputs.items()}
        values.update(sample_id="S1", threads=2, out_dir=out)
        proc = _run(impl, *impl.argv(values))
        assert proc.returncode == 0, f"{impl.id}: {proc.stderr[-2000:]}"
        produced.update(impl.output_paths(out, "S1"))
    return produced


@pytest.mark.parametrize("aligner", catalog().aligners)
def test_full_chain_writes_every_declared_output_and_calls_the_planted_snps(data, aligner):
    out = data["dir"] / f"out-{aligner}"
    produced = _run_chain(data, aligner, CALLERS[0], out, data["ploidy"])

    # index built once, beside the FASTA, with every declared file
    (index,) = catalog().reference_steps(aligner)
    for name, path in index.output_files(reference=str(data["ref"])).items():
        assert Path(path).is_file(), f"index_reference_{aligner}: {name} ({path}) missing"
    for name, path in produced.items():
        assert path.is_file() and path.stat().st_size > 0, f"{name}: {path} missing or empty"
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in produced.values()), \
        "a step wrote a file the catalogue does not declare (or left a temporary one)"

    # haploid ploidy file: each planted SNP is a hemizygous ALT call
    assert _query(produced["vcf"]) == {(pos, r, a, "1") for pos, (r, a) in data["alts"].items()}
    subprocess.run(["bcftools", "view", "-h", str(produced["vcf"])], check=True, capture_output=True)

    metrics = qc.sample_metrics({k: str(v) for k, v in produced.items()})
    assert metrics["read_pairs"] == 3000 and metrics["variants_called"] == 3 and metrics["pct_mapped"] > 99
    assert 25 < metrics["mean_depth"] < 35


@pytest.mark.parametrize("aligner", catalog().aligners)
def test_every_step_records_the_versions_of_the_tools_it_declares(data, aligner):
    out = data["dir"] / f"out-{aligner}"
    if not out.is_dir():
        _run_chain(data, aligner, CALLERS[0], out, data["ploidy"])
    steps = [*catalog().reference_steps(aligner), *catalog().sample_steps(aligner, CALLERS[0])]
    for impl in steps:
        if impl.scope == "sample":
            path = out / impl.versions_output.file_name(sample_id="S1")
        else:
            path = Path(impl.versions_output.file_name(reference=str(data["ref"])))
        recorded = json.loads(path.read_text())
        assert list(recorded) == list(impl.tools), impl.id
        assert recorded == {tool: _tool_version(tool) for tool in impl.tools}, impl.id


def test_the_ploidy_file_decides_the_genotypes(data):
    """A diploid default with a haploid first half: the same reads, other genotypes."""
    out = data["dir"] / "out-ploidy"
    ploidy = data["dir"] / "mixed.ploidy"
    ploidy.write_text(f"{CONTIG}\t1\t10000\t*\t1\n*\t*\t*\t*\t2\n")
    produced = _run_chain(data, "bwa", CALLERS[0], out, ploidy)
    calls = {pos: gt for pos, _r, _a, gt in _query(produced["vcf"])}
    assert calls == {5000: "1", 15000: "1/1", 25000: "1/1"}


def test_call_variants_refuses_a_number_where_the_ploidy_file_goes(data):
    impl = catalog().step("call_variants", caller=CALLERS[0])
    out = data["dir"] / "out-number"
    proc = _run(impl, "S1", data["ref"], data["dir"] / "x.bam", out, 2)
    assert proc.returncode == 2 and "PLOIDY_FILE '2' is not a file" in proc.stderr
    assert not out.exists() or not list(out.iterdir())


def test_usage_errors_exit_2():
    for impl in catalog().steps:
        proc = _run(impl)
        assert proc.returncode == 2, impl.id
        assert "usage:" in proc.stderr, impl.id


@pytest.mark.parametrize("bad", ["-rf", "../S1", "S1.x", "S 1", "S1\n", "", "é1", "a" * 101])
def test_every_sample_step_refuses_an_invalid_sample_id_before_writing(data, tmp_path, bad):
    placeholder = tmp_path / "in.txt"
    placeholder.write_text("x")
    for impl in catalog().steps:
        if impl.scope != "sample":
            continue
        values = {name: placeholder for name in impl.inputs}
        values.update(out_dir=tmp_path / "out", threads=2)
        args = [bad if a.name == "sample_id" else values[a.name] for a in impl.arguments]
        proc = _run(impl, *args)
        assert proc.returncode == 2, (impl.id, bad)
        assert "invalid SAMPLE_ID" in proc.stderr, impl.id
        assert not (tmp_path / "out").exists(), f"{impl.id} wrote before checking the sample id"


def test_threads_must_be_a_whole_number(data, tmp_path):
    impl = catalog().step("bam_qc")
    proc = _run(impl, "S1", tmp_path / "x.bam", tmp_path / "out", "2;rm")
    assert proc.returncode == 2 and "invalid THREADS" in proc.stderr


def test_failed_step_leaves_no_finished_looking_output(data):
    impl = catalog().step("align", aligner="bwa")
    out = data["dir"] / "out-fail"
    reads = (data["dir"] / "r1.fastq.gz", data["dir"] / "r2.fastq.gz")
    proc = _run(impl, "S1", data["dir"] / "missing.fa", *reads, out, 1)
    assert proc.returncode != 0
    finished = [p.name for p in out.iterdir() if not p.name.startswith(".")] if out.exists() else []
    assert finished == []


def test_minimap2_alignment_needs_the_prebuilt_index(data, tmp_path):
    ref = tmp_path / "bare.fa"
    shutil.copy(data["ref"], ref)
    impl = catalog().step("align", aligner="minimap2")
    proc = _run(impl, "S1", ref, data["dir"] / "r1.fastq.gz", data["dir"] / "r2.fastq.gz", tmp_path / "o", 1)
    assert proc.returncode == 2 and "index_reference.sh" in proc.stderr


def test_the_shared_helper_applies_the_sample_id_rule_of_paths():
    text = COMMON.read_text()
    assert f"SEQFLOW_SAMPLE_ID_PATTERN='{SAMPLE_ID_PATTERN}'" in text
    for value, ok in [("S1", True), ("LAM-S01_a", True), ("a" * 100, True), ("-x", False), ("S1\n", False),
                      ("a" * 101, False), ("S.1", False)]:
        proc = subprocess.run(["bash", "-c", f'. "{COMMON}"; seqflow_check_sample_id "$1"', "x", value],
                              capture_output=True, text=True)
        assert (proc.returncode == 0) is ok, value
        assert (re.fullmatch(SAMPLE_ID_PATTERN, value) is not None) is ok, value


def test_every_script_sources_the_shared_helper_and_every_source_is_known():
    for impl in catalog().steps:
        text = impl.script_path().read_text()
        assert '. "$common"' in text and "seqflow_write_versions" in text, impl.id
        if impl.scope == "sample":
            assert 'seqflow_check_sample_id "$sample"' in text, impl.id
    assert {i.source for s in catalog().steps for i in s.inputs.values() if i.external} <= set(SOURCES)
