"""The HealthOmics germline workflow: valid WDL 1.0 that is the step catalogue's pipeline.

Its tasks are the catalogue's per-sample step implementations and call the scripts the
images carry with the catalogue's arguments; its inputs, outputs, wiring and resources
are the catalogue's; its Sample_ID check is seqflow.paths'. The task commands are also
run for real (bash, the repository's scripts on PATH as in the images, real tools), and
the StartRun parameters of seqflow.aws.omics.inputs are checked against the workflow.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import WDL

from seqflow.analysis.catalog import NO_FILE, SOURCES, Step, catalog, containers_dir
from seqflow.aws.omics.inputs import companion_input, image_input, start_run_parameters, workflow_inputs
from seqflow.paths import SAMPLE_ID_PATTERN

REPO = Path(__file__).resolve().parents[4]
WORKFLOW_DIR = REPO / "include" / "seqflow" / "workflows" / "germline"
MAIN_WDL = WORKFLOW_DIR / "main.wdl"
# the project's venv first; else the miniwdl beside the interpreter running the tests
MINIWDL = next(
    (p for p in (REPO / ".venv" / "bin" / "miniwdl", Path(sys.executable).parent / "miniwdl") if p.exists()),
    Path(shutil.which("miniwdl") or "miniwdl"),
)
SELECTIONS = [(a, c) for a in catalog().aligners for c in catalog().callers]


def _sample_impls() -> dict[str, Step]:
    return {s.id: s for s in catalog().steps if s.scope == "sample"}


@pytest.fixture(scope="module")
def document() -> WDL.Document:
    return WDL.load(str(MAIN_WDL))


@pytest.fixture(scope="module")
def tasks(document) -> dict[str, WDL.Tree.Task]:
    return {t.name: t for t in document.tasks}


def _calls(body, conditions=()) -> list[tuple[WDL.Tree.Call, tuple[str, ...]]]:
    """Every call of the workflow with the conditions (``if`` expressions) it sits under."""
    found = []
    for node in body:
        if isinstance(node, WDL.Tree.Call):
            found.append((node, conditions))
        elif isinstance(node, WDL.Tree.Conditional):
            found += _calls(node.body, (*conditions, _text(node.expr)))
        elif isinstance(node, WDL.Tree.Scatter):
            found += _calls(node.body, conditions)
    return found


def _text(expr) -> str:
    """An expression as its source text."""
    pos = expr.pos
    lines = MAIN_WDL.read_text().splitlines()[pos.line - 1:pos.end_line]
    if len(lines) == 1:
        return lines[0][pos.column - 1:pos.end_column - 1]
    return "\n".join([lines[0][pos.column - 1:], *lines[1:-1], lines[-1][:pos.end_column - 1]])


def _refs(expr, decls: dict[str, WDL.Tree.Decl]) -> set[str]:
    """Names an expression reads (``fastq_r1``, ``align_bwa.bam``), through the workflow's own declarations."""
    names: set[str] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, WDL.Expr.Ident):
            if node.name in decls and decls[node.name].expr is not None and node.name not in workflow_inputs():
                stack.append(decls[node.name].expr)
            else:
                names.add(node.name)
        stack.extend(node.children)
    return names


# ---------------------------------------------------------------- WDL validity


def test_miniwdl_check_passes_strictly():
    result = subprocess.run(
        [str(MINIWDL), "check", "--strict", "--suppress", "CommandShellCheck", str(MAIN_WDL)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for task in _sample_impls():
        assert f"call {task}" in result.stdout


def test_is_wdl_1_0(document):
    assert document.wdl_version == "1.0"
    assert document.workflow.name == "germline"


# ---------------------------------------------------------------- the workflow's interface


def test_workflow_inputs_are_the_catalogues(document):
    expected = workflow_inputs()
    declared = {d.name: d for d in document.workflow.inputs}
    assert set(declared) == set(expected)
    for name, spec in expected.items():
        decl = declared[name]
        assert str(decl.type).rstrip("?") == spec.type, name
        assert (not decl.type.optional and decl.expr is None) is spec.required, name
        if spec.default is not None:
            assert decl.expr is not None and decl.expr.value == spec.default, f"{name}: default is not the catalogue's"


def test_parameter_template_describes_exactly_the_workflow_inputs(document):
    template = json.loads((WORKFLOW_DIR / "parameters.json").read_text())
    inputs = {decl.name: decl for decl in document.workflow.inputs}
    assert set(template) == set(inputs)
    for name, decl in inputs.items():
        optional = decl.type.optional or decl.expr is not None
        assert template[name]["optional"] is optional, name
        assert template[name]["description"].strip(), name


def test_minimap2_needs_no_bwa_index_and_bwa_no_minimap2_index(document):
    required = {d.name for d in document.workflow.inputs if not d.type.optional and d.expr is None}
    assert required == {"sample_id", "aligner", "caller", "fastq_r1", "fastq_r2", "reference_fasta", "reference_fai",
                        "reference_ploidy", "fastp_image", "samtools_image", "bcftools_image"}
    for aligner in catalog().aligners:
        for suffix_name in catalog().index_suffixes(aligner):
            assert f"reference_{suffix_name}" in {d.name for d in document.workflow.inputs}


def test_workflow_outputs_are_the_catalogues_published_outputs(document):
    decls = {d.name: d for d in document.workflow.body if isinstance(d, WDL.Tree.Decl)}
    outputs = {d.name: d for d in document.workflow.outputs}
    published = {name: s for s in _sample_impls().values() for name, o in s.outputs.items() if not o.intermediate}
    assert set(outputs) == set(published)
    for name, decl in outputs.items():
        producers = {s.id for s in _sample_impls().values() if s.name == published[name].name}
        assert _refs(decl.expr, decls) == {f"{p}.{name}" for p in producers}, name


# ---------------------------------------------------------------- tasks


def test_tasks_are_the_sample_step_implementations(tasks):
    assert set(tasks) == set(_sample_impls())


@pytest.mark.parametrize("step_id", sorted(_sample_impls()))
def test_task_inputs_and_outputs_are_the_steps(tasks, step_id):
    impl, task = _sample_impls()[step_id], tasks[step_id]
    expected = {"sample_id", "docker_image", "cpu", "memory_gb"}
    for name, inp in impl.inputs.items():
        expected |= {name} | {f"{name}_{c.output}" for c in inp.companions}
    assert {d.name for d in task.inputs} == expected
    assert {o.name: _text(o.expr) for o in task.outputs} == {
        name: '"' + out.template.replace("{sample_id}", "~{sample_id}") + '"' for name, out in impl.outputs.items()}
    # an output written only with an optional input is optional (File?): absent for single-end reads
    assert {o.name for o in task.outputs if o.type.optional} == {n for n, o in impl.outputs.items() if o.only_with}
    assert {"docker", "cpu", "memory"} <= set(task.runtime)
    assert str(task.runtime["docker"].expr) == "docker_image"
    assert _text(task.runtime["memory"]) == '"~{memory_gb} GiB"'


@pytest.mark.parametrize("step_id", sorted(_sample_impls()))
def test_task_command_runs_the_images_script_with_the_catalogues_arguments(tasks, step_id):
    impl, task = _sample_impls()[step_id], tasks[step_id]
    command = "".join(p if isinstance(p, str) else "~{" + _text(p.expr) + "}" for p in task.command.parts)
    # an optional input (R2 of single-end reads) is a File? that reaches the script as "-" when absent
    declared = {d.name: d for d in task.inputs}
    for part in task.command.parts:
        if not isinstance(part, str) and isinstance(part.expr, WDL.Expr.Ident) and part.expr.name in impl.inputs:
            optional = impl.inputs[part.expr.name].optional
            assert part.options == ({"default": NO_FILE} if optional else {}), (step_id, part.expr.name)
            assert declared[part.expr.name].type.optional is optional, (step_id, part.expr.name)
    assert re.search(r"\b(fastp|bwa|minimap2|samtools|bcftools|tabix)\s", command.replace(impl.script, "")) is None, \
        "the task re-implements the step instead of calling its script"
    links = dict(re.findall(r'ln -s "~\{(\w+)\}" (\S+)', command))
    (line,) = [ln.strip() for ln in command.splitlines() if ln.strip().startswith(impl.script + " ")]
    args = shlex.split(line)[1:]
    assert len(args) == len(impl.arguments), line
    for arg, value in zip(impl.arguments, args):
        if arg.name == "sample_id":
            assert value == "$sample"
        elif arg.name == "threads":
            assert value == "~{cpu}"
        elif arg.name == "regions":
            assert value == "-"  # the workflow calls the whole genome in one task (no scattered calling)
        elif arg.kind == "output_dir":
            assert value == "."
        else:
            assert value in (f"~{{{arg.name}}}", links.get(arg.name)), (arg.name, value)
            for comp in impl.inputs[arg.name].companions:
                # a file beside the input lies beside it under the input's name plus its suffix
                assert links[f"{arg.name}_{comp.output}"] == value + comp.suffix, comp.ref


def test_every_task_checks_the_sample_id_with_the_rule_of_paths(tasks):
    for name, task in tasks.items():
        command = "".join(p if isinstance(p, str) else "" for p in task.command.parts)
        patterns = re.findall(r'\[\[ "\$sample" =~ (\S+) \]\]', command)
        assert patterns == [SAMPLE_ID_PATTERN], name
        assert 'sample=$(head -n 1 "' in command, name


# ---------------------------------------------------------------- wiring


def test_calls_are_wired_as_the_catalogue_reads_inputs(document):
    decls = {d.name: d for d in document.workflow.body if isinstance(d, WDL.Tree.Decl)}
    calls = {call.name: (call, conditions) for call, conditions in _calls(document.workflow.body)}
    impls = _sample_impls()
    assert set(calls) == set(impls)
    for step_id, (call, conditions) in calls.items():
        impl = impls[step_id]
        if impl.selector:
            assert conditions == (f'{impl.selector[0]} == "{impl.selector[1]}"',), step_id
        else:
            assert conditions == (), step_id
        assert {"sample_id", "docker_image", "cpu", "memory_gb"} <= set(call.inputs)
        assert _refs(call.inputs["docker_image"], decls) == {image_input(impl.image)}
        assert _refs(call.inputs["cpu"], decls) == {f"{step_id}_cpu"}
        assert _refs(call.inputs["memory_gb"], decls) == {f"{step_id}_memory_gb"}
        for name, inp in impl.inputs.items():
            wired = {name: inp.source, **{f"{name}_{c.output}": c for c in inp.companions}}
            for task_input, source in wired.items():
                got = _refs(call.inputs[task_input], decls)
                if isinstance(source, str) and inp.external:
                    assert got == {SOURCES[source].workflow_input}, (step_id, task_input)
                elif isinstance(source, str):
                    producers = {s.id for s in impls.values() if s.name == inp.producer}
                    assert got == {f"{p}.{inp.output}" for p in producers}, (step_id, task_input)
                elif inp.external:
                    assert got == {companion_input(inp.source, source.output)}, (step_id, task_input)
                else:
                    producers = {s.id for s in impls.values() if s.name == source.step}
                    assert got == {f"{p}.{source.output}" for p in producers}, (step_id, task_input)


# ---------------------------------------------------------------- StartRun parameters


def _job(aligner: str) -> dict:
    return {"run_id": "241120_A01234_0042_AHXXXXXDSX", "pipeline_version": "1.0.0", "sample_id": "S1",
            "r1": "s3://raw/runs/R/S1_R1.fastq.gz", "r2": "s3://raw/runs/R/S1_R2.fastq.gz", "aligner": aligner,
            "caller": "bcftools", "reference": "GRCh38", "reference_fasta": "s3://raw/references/GRCh38/GRCh38.fa",
            "ploidy_file": "s3://raw/references/GRCh38/GRCh38.ploidy"}


IMAGES = {image_input(i): f"123.dkr.ecr.eu-west-1.amazonaws.com/seqflow/{i}:1" for i in catalog().images}


@pytest.mark.parametrize("aligner", catalog().aligners)
def test_start_run_parameters_are_workflow_inputs_and_give_what_the_aligner_needs(document, aligner):
    parameters = start_run_parameters(_job(aligner), IMAGES)
    declared = {d.name: d for d in document.workflow.inputs}
    assert set(parameters) <= set(declared)
    assert {n for n, d in declared.items() if not d.type.optional and d.expr is None} <= set(parameters)
    fasta = "s3://raw/references/GRCh38/GRCh38.fa"
    assert {n: v for n, v in parameters.items() if n.startswith("reference_")} == {
        "reference_fasta": fasta, "reference_ploidy": "s3://raw/references/GRCh38/GRCh38.ploidy",
        **{f"reference_{n}": fasta + s for n, s in catalog().index_suffixes(aligner).items()}}
    other = [a for a in catalog().aligners if a != aligner]
    for name in other:
        assert image_input(name) not in parameters
    assert parameters[image_input(aligner)] == IMAGES[image_input(aligner)]
    assert (parameters["aligner"], parameters["caller"], parameters["sample_id"]) == (aligner, "bcftools", "S1")
    # every parameter matches its declared type: File inputs are S3 URIs, the rest strings
    for name, value in parameters.items():
        assert isinstance(value, str), name
        if str(declared[name].type).rstrip("?") == "File":
            assert value.startswith("s3://"), name


def test_start_run_parameters_refuse_what_the_workflow_would_fail_on():
    with pytest.raises(ValueError, match="ploidy_file must be the s3:// URI of a file"):
        start_run_parameters({**_job("bwa"), "ploidy_file": ""}, IMAGES)
    with pytest.raises(ValueError, match="unknown aligner 'bowtie2'"):
        start_run_parameters({**_job("bwa"), "aligner": "bowtie2"}, IMAGES)
    with pytest.raises(LookupError, match=r"no ECR image for \['minimap2_image'\]"):
        start_run_parameters(_job("minimap2"), {k: v for k, v in IMAGES.items() if k != "minimap2_image"})
    with pytest.raises(ValueError, match="invalid sample id"):
        start_run_parameters({**_job("bwa"), "sample_id": "-rf"}, IMAGES)
    assert not any(k.endswith("_image") for k in start_run_parameters(_job("bwa"), None))


# ---------------------------------------------------------------- the task commands, run


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    rng = random.Random(3)
    d = tmp_path_factory.mktemp("wdl")
    seq = [rng.choice("ACGT") for _ in range(20000)]
    (d / "genome.fa").write_text(">chrW\n" + "\n".join("".join(seq[i:i + 60]) for i in range(0, len(seq), 60)) + "\n")
    seq[9999] = {"A": "C", "C": "G", "G": "T", "T": "A"}[seq[9999]]
    (d / "mutated.fa").write_text(">chrW\n" + "".join(seq) + "\n")
    subprocess.run(["wgsim", "-e", "0", "-r", "0", "-R", "0", "-1", "100", "-2", "100", "-N", "2000", "-S", "9",
                    str(d / "mutated.fa"), str(d / "a.fq"), str(d / "b.fq")], check=True, capture_output=True)
    for src, dst in (("a.fq", "R1.fastq.gz"), ("b.fq", "R2.fastq.gz")):
        with open(d / src, "rb") as fin, gzip.open(d / dst, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    (d / "genome.ploidy").write_text("*\t*\t*\t*\t2\n")
    return d


def _localised(tmp: Path, name: str, path: Path) -> Path:
    """Each input in a folder of its own, as an engine localises it."""
    target = tmp / "localised" / name / path.name
    target.parent.mkdir(parents=True)
    shutil.copy(path, target)
    return target


def _image_bin(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for impl in catalog().steps:
        shutil.copy2(impl.script_path(), bin_dir / impl.script)  # name clashes: same script, same contract
    shutil.copy2(containers_dir() / "_common" / "seqflow_common.sh", bin_dir)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


@pytest.mark.parametrize("single_end", [False, True], ids=["paired", "single-end"])
@pytest.mark.parametrize("aligner", catalog().aligners)
def test_the_task_commands_run_the_scripts_and_produce_the_declared_outputs(tasks, toy, tmp_path, aligner,
                                                                            single_end):
    """Each task command as the engine renders it, in bash, with the images' /usr/local/bin on PATH;
    single-end: the R2 inputs unbound (null), as the engine leaves an absent File?."""
    ref = tmp_path / "genome.fa"
    shutil.copy(toy / "genome.fa", ref)
    subprocess.run([str(catalog().reference_steps(aligner)[0].script_path()), str(ref)], check=True)
    env = _image_bin(tmp_path)
    bin_dir = tmp_path / "bin"
    sample_id_file = tmp_path / "sample_id.txt"
    sample_id_file.write_text("S1\n")
    absent = catalog().absent(aligner, "bcftools", {"sample.r2"} if single_end else set())
    external = {"fastq_r1": toy / "R1.fastq.gz", "fastq_r2": toy / "R2.fastq.gz", "reference_fasta": ref,
                "reference_ploidy": toy / "genome.ploidy",
                **{companion_input("reference.fasta", n): Path(f"{ref}{s}")
                   for n, s in catalog().index_suffixes(aligner).items()}}
    produced: dict[str, Path] = {}
    for impl in catalog().sample_steps(aligner, "bcftools"):
        bin_dir.joinpath(impl.script).write_bytes(impl.script_path().read_bytes())  # this image's script
        task = tasks[impl.id]
        values: dict[str, Path] = {}
        bindings = WDL.Env.Bindings()
        for name, inp in impl.inputs.items():
            if name in absent.inputs[impl.name]:
                bindings = bindings.bind(name, WDL.Value.Null())
                continue
            values[name] = external[SOURCES[inp.source].workflow_input] if inp.external else produced[inp.output]
            for comp in inp.companions:
                values[f"{name}_{comp.output}"] = (external[companion_input(inp.source, comp.output)]
                                                   if inp.external else produced[comp.output])
        bindings = bindings.bind("sample_id_file", WDL.Value.File(str(sample_id_file)))
        bindings = bindings.bind("cpu", WDL.Value.Int(2))
        for name, path in values.items():
            bindings = bindings.bind(name, WDL.Value.File(str(_localised(tmp_path / impl.id, name, path))))
        script = task.command.eval(bindings, WDL.StdLib.Base("1.0")).value
        workdir = tmp_path / impl.id / "work"
        workdir.mkdir(parents=True)
        done = subprocess.run(["bash", "-c", script], cwd=workdir, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{impl.id}: {done.stderr[-2000:]}"
        for output in task.outputs:
            path = workdir / _text(output.expr).strip('"').replace("~{sample_id}", "S1")
            if output.name in absent.outputs:
                assert output.type.optional and not path.exists(), f"{impl.id}: {output.name}"
                continue
            assert path.is_file() and path.stat().st_size > 0, f"{impl.id}: {output.name}"
            produced[output.name] = path
    calls = subprocess.run(["bcftools", "query", "-f", "%POS\t[%GT]\n", str(produced["vcf"])],
                           capture_output=True, text=True, check=True).stdout.split()
    assert calls == ["10000", "1/1"]
    assert json.loads(produced["align_versions"].read_text()).keys() == {aligner, "samtools"}
    paired = json.loads(produced["flagstat"].read_text())["QC-passed reads"]["paired in sequencing"]
    assert (paired == 0) is single_end


def test_a_task_whose_reads_cannot_be_trusted_exits_3_with_the_cause_last_on_stderr(tasks, toy, tmp_path):
    """What HealthOmics puts in the task's CloudWatch log: the log's tail, then the cause."""
    data = (toy / "R1.fastq.gz").read_bytes()
    truncated = tmp_path / "R1.fastq.gz"
    truncated.write_bytes(data[: len(data) // 2])
    sample_id_file = tmp_path / "sample_id.txt"
    sample_id_file.write_text("S1\n")
    bindings = WDL.Env.Bindings()
    for name, value in {"sample_id_file": WDL.Value.File(str(sample_id_file)), "cpu": WDL.Value.Int(1),
                        "r1": WDL.Value.File(str(truncated)), "r2": WDL.Value.File(str(toy / "R2.fastq.gz"))}.items():
        bindings = bindings.bind(name, value)
    script = tasks["fastp"].command.eval(bindings, WDL.StdLib.Base("1.0")).value
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(["bash", "-c", script], cwd=work, env=_image_bin(tmp_path), capture_output=True, text=True)
    assert done.returncode == 3
    assert done.stderr.splitlines()[-1].startswith(f"seqflow-error: sample S1: input error: R1 file {truncated} is "
                                                   "truncated or corrupt")
    assert (work / "S1.fastp.log").is_file()


def test_a_task_refuses_an_invalid_sample_id_before_running_its_script(tasks, tmp_path):
    task = tasks["bam_qc"]
    sample_id_file = tmp_path / "sample_id.txt"
    sample_id_file.write_text("../../etc\n")
    bindings = WDL.Env.Bindings()
    for name, value in {"sample_id_file": WDL.Value.File(str(sample_id_file)), "cpu": WDL.Value.Int(1),
                        "bam": WDL.Value.File("x.bam"), "bam_bai": WDL.Value.File("x.bam.bai")}.items():
        bindings = bindings.bind(name, value)
    script = task.command.eval(bindings, WDL.StdLib.Base("1.0")).value
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2 and "sample_id must match" in done.stderr
    assert not (tmp_path / "aln").exists()
