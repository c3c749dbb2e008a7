"""Each step script (the commands the images run on Batch and HealthOmics, and the local
profile runs as processes) on tiny real data, called with the arguments the step
catalogue declares: a random 30 kb genome with three planted SNPs, reads from wgsim.
Paired-end and single-end reads; reads the pipeline must refuse (exit 3, the cause and
the file on stderr); tool failures that name the tool's own error; every step's log."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from seqflow.analysis import qc, steps
from seqflow.analysis.catalog import CALLERS, NO_FILE, SOURCES, Step, catalog, containers_dir
from seqflow.paths import SAMPLE_ID_PATTERN

CONTIG = "chrT"  # the toy genome's (conftest.py)
COMMON = containers_dir() / "_common" / "seqflow_common.sh"
CAUSE = "seqflow-error: "


def _load_bad_reads():
    spec = importlib.util.spec_from_file_location("seqflow_test_bad_reads", Path(__file__).with_name("bad_reads.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bad_reads = _load_bad_reads()


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


def _run_chain(data, aligner: str, caller: str, out: Path, ploidy: Path, *, single_end: bool = False
               ) -> dict[str, Path]:
    """Every step of a sample, as the catalogue orders and wires them; returns output name -> path.

    ``single_end``: no R2, as the catalogue says the steps then go without it.
    """
    ref = data["ref"]
    (index,) = catalog().reference_steps(aligner)
    proc = _run(index, *index.argv({"reference": ref, "out_dir": Path(ref).parent}))
    assert proc.returncode == 0, proc.stderr
    external = {"sample.r1": data["dir"] / "r1.fastq.gz", "sample.r2": data["dir"] / "r2.fastq.gz",
                "reference.fasta": ref, "reference.ploidy": ploidy}
    absent = catalog().absent(aligner, caller, {"sample.r2"} if single_end else set())
    produced: dict[str, Path] = {}
    for impl in catalog().sample_steps(aligner, caller):
        gone = absent.inputs[impl.name]
        values = {name: None if name in gone else external[i.source] if i.external else produced[i.output]
                  for name, i in impl.inputs.items()}
        values.update(sample_id="S1", threads=2, out_dir=out)
        argv = impl.argv(values)
        # "-" stands for each absent input (and for regions, the whole genome: not an input)
        assert [v for a, v in zip(impl.arguments, argv) if a.kind == "input"].count(NO_FILE) == len(gone), impl.id
        proc = _run(impl, *argv)
        assert proc.returncode == 0, f"{impl.id}: {proc.stderr[-2000:]}"
        produced.update({n: out / o.file_name(sample_id="S1") for n, o in impl.present_outputs(gone).items()})
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

    # every step kept its tools' stderr beside its outputs, one section per tool
    for impl in catalog().sample_steps(aligner, CALLERS[0]):
        text = produced[impl.log_output.name].read_text()
        assert text.startswith("== ") and CAUSE not in text, impl.id
    assert "== bwa mem (exit 0)" in produced["align_log"].read_text() or aligner != "bwa"
    assert "Read1 before filtering" in produced["fastp_log"].read_text()


@pytest.mark.parametrize("aligner", catalog().aligners)
def test_single_end_reads_go_through_every_step_and_call_the_planted_snps(data, aligner):
    out = data["dir"] / f"out-se-{aligner}"
    produced = _run_chain(data, aligner, CALLERS[0], out, data["ploidy"], single_end=True)

    assert "trimmed_r2" not in produced
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in produced.values())
    assert _query(produced["vcf"]) == {(pos, r, a, "1") for pos, (r, a) in data["alts"].items()}
    fastp = json.loads(produced["fastp_json"].read_text())
    assert fastp["summary"]["sequencing"].startswith("single end")
    assert fastp["read1_before_filtering"]["total_reads"] == 3000 and "read2_before_filtering" not in fastp
    flagstat = json.loads(produced["flagstat"].read_text())["QC-passed reads"]
    assert flagstat["paired in sequencing"] == 0 and flagstat["primary mapped %"] > 99
    markdup = dict(line.split(": ") for line in produced["markdup"].read_text().splitlines() if ": " in line)
    assert markdup["PAIRED"] == "0" and int(markdup["SINGLE"]) == 3000
    assert "SN\t0\tnumber of SNPs:\t3" in produced["bcftools_stats"].read_text()


def _fastp(data, r1, r2, out):
    impl = catalog().step("fastp")
    return _run(impl, *impl.argv({"sample_id": "S1", "r1": r1, "r2": r2, "out_dir": out, "threads": 2}))


@pytest.mark.parametrize("case", list(bad_reads.CASES))
def test_fastp_refuses_reads_it_cannot_trust_with_exit_3_naming_the_file_and_the_cause(data, tmp_path, case):
    r1, r2, culprit = bad_reads.write_case(case, data["dir"] / "r1.fastq.gz", data["dir"] / "r2.fastq.gz",
                                           tmp_path / "reads")
    out = tmp_path / "out"
    proc = _fastp(data, r1, r2, out)

    assert proc.returncode == steps.INPUT_ERROR_EXIT == 3, proc.stderr[-2000:]
    cause = proc.stderr.splitlines()[-1]
    assert cause.startswith(f"{CAUSE}sample S1: input error: "), cause
    assert str(culprit) in cause and re.search(bad_reads.CASES[case][1], cause), cause
    # nothing that looks like a result; the log is kept and ends with the cause
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["S1.fastp.log"]
    assert (out / "S1.fastp.log").read_text().splitlines()[-1] == cause
    assert "seqflow: the last 20 lines of" in proc.stderr


def test_read_counts_that_differ_are_counted_exactly(data, tmp_path):
    r1, r2, _ = bad_reads.write_case("read_counts_differ", data["dir"] / "r1.fastq.gz", data["dir"] / "r2.fastq.gz",
                                     tmp_path)
    cause = _fastp(data, r1, r2, tmp_path / "out").stderr.splitlines()[-1]
    assert re.search(r"has 3000 reads but R2 file \S+ has 2999", cause), cause


def test_single_end_fastp_checks_its_one_file_too(data, tmp_path):
    r1, _, _ = bad_reads.write_case("truncated_gzip", data["dir"] / "r1.fastq.gz", data["dir"] / "r2.fastq.gz",
                                    tmp_path)
    proc = _fastp(data, r1, None, tmp_path / "out")
    assert proc.returncode == 3 and f"R1 file {r1} is truncated" in proc.stderr.splitlines()[-1]


def test_bwa_mates_whose_names_differ_are_an_input_error_with_bwas_own_message(data, tmp_path):
    """The fastp step checks the names first; the alignment keeps bwa's own check and says what bwa said."""
    r1, r2, _ = bad_reads.write_case("mate_names_differ", data["dir"] / "r1.fastq.gz", data["dir"] / "r2.fastq.gz",
                                     tmp_path / "reads")
    (index,) = catalog().reference_steps("bwa")
    assert _run(index, data["ref"], data["ref"].parent).returncode == 0
    impl = catalog().step("align", aligner="bwa")
    out = tmp_path / "out"
    proc = _run(impl, "S1", data["ref"], r1, r2, out, 2)
    assert proc.returncode == 3, proc.stderr[-2000:]
    cause = proc.stderr.splitlines()[-1]
    assert cause.startswith(f"{CAUSE}sample S1: input error: R1 file {r1} and R2 file {r2} do not pair up: "
                            "bwa: [mem_sam_pe] paired reads have different names: "), cause
    assert "markdup" not in cause
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["S1.align.log"]


def test_a_tool_failure_names_the_tool_and_its_own_first_error_line(data, tmp_path):
    """bwa cannot find its index: every later stage fails too, the cause is bwa's line."""
    bare = tmp_path / "bare.fa"
    shutil.copy(data["ref"], bare)
    impl = catalog().step("align", aligner="bwa")
    out = tmp_path / "out"
    proc = _run(impl, "S1", bare, data["dir"] / "r1.fastq.gz", data["dir"] / "r2.fastq.gz", out, 1)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == (
        f"{CAUSE}sample S1: bwa mem exited with 1: [E::bwa_idx_load_from_disk] fail to locate the index files")
    log = (out / "S1.align.log").read_text()
    for stage in ("bwa mem (exit 1)", "samtools fixmate", "samtools sort", "samtools markdup"):
        assert f"== {stage}" in log
    assert log.index("fail to locate the index files") < log.index("[markdup]")


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
        values.update(out_dir=tmp_path / "out", threads=2, regions="-")
        args = [bad if a.name == "sample_id" else values[a.name] for a in impl.arguments]
        proc = _run(impl, *args)
        assert proc.returncode == 2, (impl.id, bad)
        assert "invalid SAMPLE_ID" in proc.stderr, impl.id
        assert not (tmp_path / "out").exists(), f"{impl.id} wrote before checking the sample id"


def test_threads_must_be_a_whole_number(data, tmp_path):
    impl = catalog().step("bam_qc")
    proc = _run(impl, "S1", tmp_path / "x.bam", tmp_path / "out", "2;rm")
    assert proc.returncode == 2 and "invalid THREADS" in proc.stderr


def test_failed_step_leaves_no_finished_looking_output_only_its_log(data):
    impl = catalog().step("align", aligner="bwa")
    out = data["dir"] / "out-fail"
    reads = (data["dir"] / "r1.fastq.gz", data["dir"] / "r2.fastq.gz")
    proc = _run(impl, "S1", data["dir"] / "missing.fa", *reads, out, 1)
    assert proc.returncode != 0
    finished = [p.name for p in out.iterdir() if not p.name.startswith(".")] if out.exists() else []
    assert finished == ["S1.align.log"]


def _helper(body: str, tmp_path: Path) -> subprocess.CompletedProcess:
    script = f'set -euo pipefail; . "{COMMON}"; seqflow_begin "{tmp_path}/S1.x.log" "sample S1"; {body}'
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True)


def test_the_shared_helper_names_the_first_error_line_not_a_later_warning(tmp_path):
    tool = 'echo "[M::x] starting" >&2; echo "[E::x] the real error" >&2; echo "warning: later" >&2; exit 4'
    proc = _helper(f"seqflow_run tool bash -c '{tool}'", tmp_path)
    assert proc.returncode == 4
    assert proc.stderr.splitlines()[-1] == f"{CAUSE}sample S1: tool exited with 4: [E::x] the real error"
    assert (tmp_path / "S1.x.log").read_text().splitlines() == [
        "== tool", "[M::x] starting", "[E::x] the real error", "warning: later",
        f"{CAUSE}sample S1: tool exited with 4: [E::x] the real error"]


def test_the_shared_helper_keeps_2_and_3_for_usage_and_input_errors(tmp_path):
    """A tool that happens to exit 3 is a tool failure (1), not an input error."""
    assert _helper("seqflow_run tool bash -c 'exit 3'", tmp_path).returncode == 1
    assert _helper("seqflow_run tool bash -c 'exit 2'", tmp_path).returncode == 1
    assert _helper("false", tmp_path).stderr.splitlines()[-1] == f"{CAUSE}sample S1: the command 'false' exited with 1"
    proc = _helper('seqflow_input_error "R1 file x.fastq.gz has no reads"', tmp_path)
    assert proc.returncode == 3
    assert proc.stderr.splitlines()[-1] == f"{CAUSE}sample S1: input error: R1 file x.fastq.gz has no reads"
    killed = _helper("seqflow_run tool bash -c 'kill -9 $$'", tmp_path)
    assert killed.returncode == 137 and "tool was killed by signal 9 (SIGKILL: out of memory" in killed.stderr


def test_a_pipeline_failure_is_the_first_stage_that_failed_by_itself(tmp_path):
    """A stage killed by SIGPIPE failed because a later one stopped reading: the cause is that later one."""
    body = ('d=$(mktemp -d); set +e; yes 2> "$d/1.stderr" | { echo "boom: disk full" >&2; exit 5; } 2> "$d/2.stderr"; '
            's=("${PIPESTATUS[@]}"); set -e; seqflow_pipeline_end "$d" "yes=${s[0]}" "writer=${s[1]}" '
            '|| seqflow_pipeline_failed')
    proc = _helper(body, tmp_path)
    assert proc.returncode == 5
    assert proc.stderr.splitlines()[-1] == f"{CAUSE}sample S1: writer exited with 5: boom: disk full"


def test_the_exit_statuses_and_the_cause_line_are_the_runners():
    text = COMMON.read_text()
    assert f"SEQFLOW_EXIT_INPUT={steps.INPUT_ERROR_EXIT}\n" in text
    assert f"SEQFLOW_EXIT_USAGE={steps.USAGE_EXIT}\n" in text
    assert f'SEQFLOW_CAUSE_PREFIX="{steps.CAUSE_PREFIX}"' in text
    assert f"SEQFLOW_LOG_TAIL={steps.TAIL_LINES}\n" in text
    readme = (containers_dir() / "README.md").read_text()
    assert "exit 3" in readme and f"`{NO_FILE}`" in readme


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
        assert "seqflow_begin " in text, impl.id
        # a tool's stderr goes to the step's log (a pipeline's stages through DIR/<n>.stderr, which
        # seqflow_pipeline_end appends to it), never to a file that is deleted
        targets = set(re.findall(r"2>>?\s*(\S+)", text))
        assert targets <= {'"$SEQFLOW_LOG"', '"$tmp/1.stderr"', '"$tmp/2.stderr"', '"$tmp/3.stderr"',
                           '"$tmp/4.stderr"', '"$tmp/5.stderr"', '"$tmp/check.stderr"', '"$2.gzip"', "/dev/null"}, (impl.id, targets)
        if impl.scope == "sample":
            assert 'seqflow_check_sample_id "$sample"' in text, impl.id
            assert f'seqflow_begin "$out/$sample.{impl.name}.log"' in text, impl.id
    assert {i.source for s in catalog().steps for i in s.inputs.values() if i.external} <= set(SOURCES)


def test_both_callers_read_their_arguments_with_the_shared_helper(tmp_path):
    """seqflow_call_variants_args: REGIONS become CONTIG START END lines (a contig name may hold '-'
    and '.', as the catalogue's do), anything else is a usage error naming the region; both callers'
    scripts read their arguments with it."""
    ploidy = tmp_path / "ref.ploidy"
    ploidy.write_text("*\t*\t*\t*\t2\n")
    script = f'. "{COMMON}"; seqflow_call_variants_args S1 ref.fa s.bam out "{ploidy}" 2 "$1"; printf "%s" "$regions_tsv"'

    def parse(regions: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-c", script, "call_variants.sh", regions], capture_output=True, text=True)

    ok = parse("chr1:1-100,HLA-A.2:5-6")
    assert ok.returncode == 0 and ok.stdout == "chr1\t1\t100\nHLA-A.2\t5\t6\n"
    assert parse("-").stdout == ""
    for bad in ("chr1:1-100,", "chr1:1-100,,chr2:1-2", "chr1:100", "chr 1:1-2", "chr1:1-2;rm", "c:h:1-2"):
        proc = parse(bad)
        assert proc.returncode == 2 and "is not CONTIG:START-END" in proc.stderr, bad
    for caller in CALLERS:
        text = catalog().step("call_variants", caller=caller).script_path().read_text()
        assert 'seqflow_call_variants_args "$@"' in text and '"$#"' not in text, caller
