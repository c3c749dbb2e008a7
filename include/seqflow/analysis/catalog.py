"""The step catalogue: the one contract of every pipeline step, read from ``containers/<tool>/steps.yaml``.

Each image folder declares the steps its image runs (like an nf-core module's
``main.nf`` + ``meta.yml``): the script, its ordered arguments, the inputs and
outputs with their file-name templates, the tools whose versions the step
records, the resources, and for alternatives the ``aligner`` or ``caller`` value
that selects it. Everything that runs or describes a step reads it from here:
the local runner (:mod:`seqflow.analysis.steps`), the Batch submissions
(:mod:`seqflow.aws.batch`), the Batch job definitions (``terraform/modules/batch``
decodes the same YAML), the HealthOmics workflow inputs
(:mod:`seqflow.aws.omics.inputs`) and the tests that hold the WDL to it.

An input may be ``optional`` (the R2 of single-end reads): when it is absent the script gets
:data:`NO_FILE` (``-``) in its place, and the outputs declared ``only_with`` that input are not
written, so the later inputs read from them are absent too (:meth:`StepCatalog.absent`). Every
step keeps its tools' stderr in a log among its outputs (``{sample_id}.<step>.log``).

A step has one name everywhere (``fastp``, ``align``, ...). An implementation
chosen by an aligner or a caller has the id ``<name>_<value>`` (``align_bwa``,
``call_variants_bcftools``): the name of its Batch job definition and of its
WDL task; a step without alternatives has its name as id.

Where the catalogue is read from: ``SEQFLOW_CONTAINERS_DIR`` or the
repository's ``containers/`` when they hold ``*/steps.yaml``, else the copy
bundled in the package (``seqflow/workflows/steps_catalogue.json``), which is
what an installed package (the Airflow image, MWAA) has. The bundle is
generated, never edited: ``python -m seqflow.analysis.catalog --write-bundle``;
a test fails when it differs from the YAML.
"""

from __future__ import annotations

import json
import os
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from seqflow.config import REPO_ROOT
from seqflow.paths import UnsafePathError, check_sample_id, check_tool_name

CATALOGUE_FILE = "steps.yaml"
#: the catalogue as an installed package carries it (generated from containers/*/steps.yaml)
BUNDLE = Path(__file__).resolve().parents[1] / "workflows" / "steps_catalogue.json"

#: ``gather``: a step that joins the outputs of a sample step run once per shard (``gather_calls``:
#: the calling shards' VCFs, seqflow.analysis.scatter) into that step's outputs; it reads a folder of
#: shards (value ``shards_dir``, the shards in ``shard_keys``), not catalogue inputs
SCOPES = ("sample", "reference", "gather")
#: what an argument is: a value (sample_id, threads), an input file, or the output folder
KINDS = ("value", "input", "output_dir")
#: value arguments the runners know how to fill (``regions``: the calling shard, :data:`WHOLE_GENOME` when
#: not given)
VALUES = ("sample_id", "threads", "regions", "shards_dir", "shard_keys")
#: the ``regions`` value that means the whole genome (seqflow.references.intervals.WHOLE_GENOME)
WHOLE_GENOME = "-"
#: what may choose between implementations of a step
SELECTORS = ("aligner", "caller")
VERSIONS_SUFFIX = ".versions.json"
#: every step's log (its tools' stderr) is the one output whose file name ends so
LOG_SUFFIX = ".log"
#: the argument that stands for an optional input that is absent (no R2 for single-end reads)
NO_FILE = "-"

_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")
_STEP_KEYS = {"name", "script", "scope", "tools", "arguments", "inputs", "outputs", "resources", *SELECTORS}
_RESOURCE_KEYS = ("vcpus", "memory_mib", "timeout_seconds")


class CatalogError(ValueError):
    """The step catalogue breaks a rule; the message names the file, the step and the rule."""


@dataclass(frozen=True)
class Source:
    """Where an input from outside the pipeline comes from."""

    name: str
    #: key of a sample job (``SampleJob`` field, Batch/HealthOmics job dict) that holds it
    job_key: str
    #: input of the HealthOmics workflow that receives it
    workflow_input: str
    #: file-name template companions of this input are suffixes of (reference files only)
    template: str | None = None


#: inputs from outside the pipeline: the sample's reads and the reference catalogue's files
SOURCES: dict[str, Source] = {
    "sample.r1": Source("sample.r1", "r1", "fastq_r1"),
    "sample.r2": Source("sample.r2", "r2", "fastq_r2"),
    "reference.fasta": Source("reference.fasta", "reference_fasta", "reference_fasta", "{reference}"),
    "reference.ploidy": Source("reference.ploidy", "ploidy_file", "reference_ploidy"),
}


@dataclass(frozen=True)
class Argument:
    name: str
    kind: str


@dataclass(frozen=True)
class Companion:
    """A file that must lie beside an input: ``<input path><suffix>`` (an index, a BAI, a TBI)."""

    step: str
    output: str
    suffix: str

    @property
    def ref(self) -> str:
        return f"{self.step}.{self.output}"


@dataclass(frozen=True)
class Input:
    name: str
    #: ``sample.r1``, ``reference.fasta``, ... (:data:`SOURCES`) or ``<step>.<output>``
    source: str
    companions: tuple[Companion, ...] = ()
    #: may be absent (the script then gets :data:`NO_FILE`)
    optional: bool = False

    @property
    def external(self) -> bool:
        return self.source in SOURCES

    @property
    def producer(self) -> str | None:
        """The step whose output this is (None for an external input)."""
        return None if self.external else self.source.split(".", 1)[0]

    @property
    def output(self) -> str | None:
        return None if self.external else self.source.split(".", 1)[1]


@dataclass(frozen=True)
class Output:
    name: str
    template: str
    #: only feeds later steps (the local runner keeps it on scratch, not in the results)
    intermediate: bool = False
    #: written only when this (optional) input of the step is given: ``trimmed_r2`` with ``r2``
    only_with: str | None = None

    def file_name(self, **values: str) -> str:
        return self.template.format(**values)


@dataclass(frozen=True)
class Resources:
    vcpus: int
    memory_mib: int
    timeout_seconds: int


@dataclass(frozen=True)
class Step:
    """One implementation of a step, as one image runs it."""

    name: str
    image: str
    script: str
    scope: str
    tools: tuple[str, ...]
    arguments: tuple[Argument, ...]
    inputs: dict[str, Input]
    outputs: dict[str, Output]
    resources: Resources
    #: ("aligner", "bwa"), ("caller", "bcftools") or None
    selector: tuple[str, str] | None = None
    #: where it is declared (``containers/bwa/steps.yaml``), for messages
    origin: str = field(default="", compare=False)

    @property
    def id(self) -> str:
        """``<name>`` or, for an alternative, ``<name>_<value>``: Batch job definition and WDL task name."""
        return f"{self.name}_{self.selector[1]}" if self.selector else self.name

    @property
    def aligner(self) -> str | None:
        return self.selector[1] if self.selector and self.selector[0] == "aligner" else None

    @property
    def caller(self) -> str | None:
        return self.selector[1] if self.selector and self.selector[0] == "caller" else None

    @property
    def label(self) -> str:
        return f"step {self.name}" + (f" ({self.selector[0]} {self.selector[1]})" if self.selector else "")

    @property
    def versions_output(self) -> Output:
        """The output that records the tool versions."""
        return next(o for o in self.outputs.values() if o.template.endswith(VERSIONS_SUFFIX))

    @property
    def log_output(self) -> Output:
        """The output that keeps the tools' stderr (``{sample_id}.<name>.log``)."""
        return next(o for o in self.outputs.values() if o.template.endswith(LOG_SUFFIX))

    def present_outputs(self, absent_inputs: Iterable[str] = ()) -> dict[str, Output]:
        """The outputs the step writes when its optional inputs ``absent_inputs`` are not given."""
        absent = set(absent_inputs)
        return {n: o for n, o in self.outputs.items() if o.only_with is None or o.only_with not in absent}

    @property
    def script_relpath(self) -> str:
        """``<image>/<script>``, relative to the containers folder."""
        return f"{self.image}/{self.script}"

    def script_path(self, containers: str | Path | None = None) -> Path:
        """The script in the containers folder (default :func:`containers_dir`)."""
        return Path(containers if containers is not None else containers_dir()) / self.image / self.script

    def argument(self, name: str) -> Argument:
        for arg in self.arguments:
            if arg.name == name:
                return arg
        raise KeyError(f"{self.label} has no argument {name!r}")

    @property
    def output_dir_argument(self) -> str | None:
        return next((a.name for a in self.arguments if a.kind == "output_dir"), None)

    def argv(self, values: Mapping[str, Any]) -> list[str]:
        """The script's arguments, in order, from named values.

        ``values`` maps argument names to values: ``sample_id``, each input's
        path, the output folder (``out_dir``) and ``threads`` (default: the
        step's vCPUs). Values are validated: a sample id against the Sample_ID
        rule, threads as a whole number.
        """
        argv: list[str] = []
        for arg in self.arguments:
            value = values.get(arg.name)
            if value is None or value == "":
                if arg.name == "threads":
                    value = self.resources.vcpus
                elif arg.name == "regions":
                    value = WHOLE_GENOME
                elif arg.kind == "input" and self.inputs[arg.name].optional:
                    value = NO_FILE
                else:
                    raise CatalogError(f"{self.label}: no value for argument {arg.name!r} ({arg.kind})")
            if arg.name == "sample_id":
                check_sample_id(value)
            elif arg.name == "threads" and not (str(value).isdigit() and int(value) >= 1):
                raise CatalogError(f"{self.label}: threads must be a whole number >= 1, got {value!r}")
            argv.append(str(value))
        return argv

    def output_files(self, sample_id: str | None = None, **inputs: str) -> dict[str, str]:
        """Output name -> file name: ``{sample_id}.bam`` for a sample step (in its output folder),
        ``<fasta>.amb`` for a reference step (beside its input, given by name: ``reference=...``)."""
        if self.scope in ("sample", "gather"):
            return {n: o.file_name(sample_id=check_sample_id(sample_id)) for n, o in self.outputs.items()}
        missing = [name for name in self.inputs if name not in inputs]
        if missing:
            raise CatalogError(f"{self.label}: output file names need the input(s) {missing}")
        return {n: o.file_name(**{k: str(v) for k, v in inputs.items()}) for n, o in self.outputs.items()}

    def output_paths(self, out_dir: str | Path, sample_id: str) -> dict[str, Path]:
        """Output name -> path in ``out_dir`` (sample steps)."""
        return {name: Path(out_dir) / file for name, file in self.output_files(sample_id).items()}

    def companion_files(self, input_name: str, path: str) -> list[str]:
        """The files that must lie beside input ``input_name`` at ``path`` (``path`` + each suffix)."""
        return [f"{path}{c.suffix}" for c in self.inputs[input_name].companions]


@dataclass(frozen=True)
class Absent:
    """What the sample steps go without when some external inputs are absent (:meth:`StepCatalog.absent`)."""

    #: step name -> its inputs that are absent (the script gets :data:`NO_FILE` for each)
    inputs: dict[str, frozenset[str]]
    #: outputs that are not written (output names are unique across the sample steps)
    outputs: frozenset[str]


@dataclass(frozen=True)
class StepCatalog:
    """Every step implementation of every image, validated."""

    steps: tuple[Step, ...]
    #: where it was read from (a folder or the bundle)
    origin: str = ""

    # -- what the catalogue offers -------------------------------------------------------

    @property
    def aligners(self) -> tuple[str, ...]:
        """Every ``aligner`` value some step is selected by, sorted."""
        return tuple(sorted({s.selector[1] for s in self.steps if s.selector and s.selector[0] == "aligner"}))

    @property
    def callers(self) -> tuple[str, ...]:
        return tuple(sorted({s.selector[1] for s in self.steps if s.selector and s.selector[0] == "caller"}))

    @property
    def images(self) -> tuple[str, ...]:
        return tuple(sorted({s.image for s in self.steps}))

    def names(self, scope: str | None = None) -> list[str]:
        """Step names (each once), in declaration order of the folders."""
        seen: dict[str, None] = {}
        for s in self.steps:
            if scope is None or s.scope == scope:
                seen.setdefault(s.name)
        return list(seen)

    def implementations(self, name: str) -> list[Step]:
        found = [s for s in self.steps if s.name == name]
        if not found:
            raise KeyError(f"no step {name!r} in the step catalogue ({self.origin}); steps: {', '.join(self.names())}")
        return found

    def by_id(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(f"no step implementation {step_id!r} in the step catalogue; ids: "
                       f"{', '.join(s.id for s in self.steps)}")

    # -- choosing ------------------------------------------------------------------------

    def check_choice(self, aligner: str | None = None, caller: str | None = None) -> None:
        """Raise ValueError unless ``aligner``/``caller`` (when given) are offered by the catalogue."""
        if aligner is not None and aligner not in self.aligners:
            raise ValueError(f"unknown aligner {aligner!r}; the step catalogue offers {', '.join(self.aligners)}")
        if caller is not None and caller not in self.callers:
            raise ValueError(f"unknown caller {caller!r}; the step catalogue offers {', '.join(self.callers)}")

    def step(self, name: str, *, aligner: str | None = None, caller: str | None = None) -> Step:
        """The implementation of step ``name`` that ``aligner``/``caller`` select."""
        self.check_choice(aligner, caller)
        impls = self.implementations(name)
        if len(impls) == 1 and impls[0].selector is None:
            return impls[0]
        kind = impls[0].selector[0]  # type: ignore[index]
        value = aligner if kind == "aligner" else caller
        if value is None:
            raise ValueError(f"step {name} has one implementation per {kind}: name the {kind}")
        return next(s for s in impls if s.selector[1] == value)  # type: ignore[index]

    def sample_steps(self, aligner: str, caller: str) -> list[Step]:
        """The per-sample steps for ``aligner`` and ``caller``, in the order they run.

        The order follows the data: a step runs after the steps whose outputs it
        reads; among steps that are ready together, the one with the longer
        chain of steps after it goes first (so the VCF is not kept waiting by a
        QC step), then by name.
        """
        chosen = {n: self.step(n, aligner=aligner, caller=caller) for n in self.names("sample")}
        return [chosen[n] for n in _run_order(chosen)]

    def reference_steps(self, aligner: str) -> list[Step]:
        """The per-reference steps (indexing) for ``aligner``."""
        return [self.step(n, aligner=aligner) for n in self.names("reference")]

    @property
    def sample_step_names(self) -> tuple[str, ...]:
        """The per-sample step names in run order (the same for every aligner and caller)."""
        return tuple(s.name for s in self.sample_steps(self.aligners[0], self.callers[0]))

    def absent(self, aligner: str, caller: str, sources: Iterable[str]) -> Absent:
        """What the sample steps go without when the external inputs ``sources`` (``sample.r2``) are absent.

        An absent source leaves out the optional inputs read from it, the outputs
        written ``only_with`` those, and in turn the optional inputs read from
        those outputs (single-end reads: fastp's ``r2``, its ``trimmed_r2``, the
        alignment's ``r2``). A required input that would be absent is an error.
        """
        missing = set(sources)
        unknown = missing - set(SOURCES)
        if unknown:
            raise ValueError(f"unknown input source(s) {sorted(unknown)}; sources: {sorted(SOURCES)}")
        inputs: dict[str, frozenset[str]] = {}
        outputs: set[str] = set()
        for impl in self.sample_steps(aligner, caller):
            gone = {name for name, inp in impl.inputs.items()
                    if (inp.source in missing if inp.external else inp.output in outputs)}
            required = sorted(name for name in gone if not impl.inputs[name].optional)
            if required:
                what = ", ".join(f"{n} ({impl.inputs[n].source})" for n in required)
                raise ValueError(f"{impl.label} cannot run without its input(s) {what}")
            inputs[impl.name] = frozenset(gone)
            outputs |= set(impl.outputs) - set(impl.present_outputs(gone))
        return Absent(inputs, frozenset(outputs))

    def index_suffixes(self, aligner: str) -> dict[str, str]:
        """Index files the alignment with ``aligner`` needs beside the FASTA: output name -> suffix."""
        align = self.step("align", aligner=aligner)
        return {c.output: c.suffix for i in align.inputs.values() if i.source == "reference.fasta"
                for c in i.companions}


# -- reading -------------------------------------------------------------------------------


def containers_dir() -> Path:
    """Folder holding ``<tool>/<script>.sh`` and ``<tool>/steps.yaml`` (``SEQFLOW_CONTAINERS_DIR``)."""
    return Path(os.environ.get("SEQFLOW_CONTAINERS_DIR", REPO_ROOT / "containers"))


def read_documents(containers: str | Path) -> dict[str, Any]:
    """``{"<image>/steps.yaml": parsed YAML}`` of every image folder, sorted."""
    import yaml

    root = Path(containers)
    docs: dict[str, Any] = {}
    for path in sorted(root.glob(f"*/{CATALOGUE_FILE}")):
        label = f"{path.parent.name}/{CATALOGUE_FILE}"
        try:
            docs[label] = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise CatalogError(f"containers/{label}: not valid YAML: {exc}") from None
    return docs


def load_catalog(containers: str | Path | None = None) -> StepCatalog:
    """Read and validate the catalogue from a containers folder (default: see the module docstring)."""
    if containers is None:
        return default_catalog()
    root = Path(containers)
    docs = read_documents(root)
    if not docs:
        raise CatalogError(f"{root}: no */{CATALOGUE_FILE}: the step catalogue is empty")
    return catalog_from_documents(docs, origin=str(root), scripts_dir=root)


def load_bundle(path: str | Path = BUNDLE) -> StepCatalog:
    """The catalogue bundled in the package."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogError(f"{path}: cannot read the bundled step catalogue: {exc}") from None
    return catalog_from_documents(data["files"], origin=f"{path} (bundled copy)")


@lru_cache(maxsize=1)
def default_catalog() -> StepCatalog:
    """The catalogue of this installation, read once per process."""
    root = containers_dir()
    if any(root.glob(f"*/{CATALOGUE_FILE}")):
        return load_catalog(root)
    return load_bundle()


def bundle_text(containers: str | Path | None = None) -> str:
    """The bundle's content for the YAML files in ``containers`` (default: the repository's)."""
    root = Path(containers) if containers is not None else REPO_ROOT / "containers"
    docs = read_documents(root)
    catalog_from_documents(docs, origin=str(root), scripts_dir=root)  # never bundle an invalid catalogue
    return json.dumps({
        "comment": "Generated from containers/*/steps.yaml by `python -m seqflow.analysis.catalog --write-bundle`;"
                   " do not edit.",
        "files": docs,
    }, indent=1) + "\n"


def catalog_from_documents(docs: Mapping[str, Any], *, origin: str, scripts_dir: Path | None = None) -> StepCatalog:
    """Parse ``{"<image>/steps.yaml": document}`` into a validated :class:`StepCatalog`."""
    steps: list[Step] = []
    for label, doc in docs.items():
        where = f"containers/{label}"
        folder = label.split("/", 1)[0]
        if not isinstance(doc, dict) or set(doc) - {"image", "steps"} or "steps" not in doc:
            raise CatalogError(f"{where}: expected a mapping with 'image' and 'steps' (and nothing else)")
        if doc.get("image") != folder:
            raise CatalogError(f"{where}: image must be the folder name {folder!r}, got {doc.get('image')!r}")
        if scripts_dir is not None and not (scripts_dir / folder / "Dockerfile").is_file():
            raise CatalogError(f"{where}: image {folder!r} has no Dockerfile beside it")
        if not isinstance(doc["steps"], list) or not doc["steps"]:
            raise CatalogError(f"{where}: 'steps' must be a non-empty list")
        for raw in doc["steps"]:
            step = _parse_step(raw, folder, where)
            if scripts_dir is not None:
                script = scripts_dir / folder / step.script
                if not script.is_file() or not os.access(script, os.X_OK):
                    raise CatalogError(f"{where}: {step.label}: script {step.script} is not an executable file "
                                       f"in {scripts_dir / folder}")
            steps.append(step)
    return build_catalog(steps, origin=origin)


def _parse_step(raw: Any, image: str, where: str) -> Step:
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: every entry of 'steps' must be a mapping, got {raw!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise CatalogError(f"{where}: step name {name!r} must be lower-case letters, digits and '_'")
    unknown = set(raw) - _STEP_KEYS
    if unknown:
        raise CatalogError(f"{where}: step {name}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_STEP_KEYS)}")
    selectors = [(k, raw[k]) for k in SELECTORS if k in raw]
    if len(selectors) > 1:
        raise CatalogError(f"{where}: step {name}: at most one of {SELECTORS} may select it")
    selector = None
    if selectors:
        kind, value = selectors[0]
        try:
            check_tool_name(kind, value)
        except UnsafePathError as exc:
            raise CatalogError(f"{where}: step {name}: {exc}") from None
        selector = (kind, value)
    label = f"{where}: step {name}" + (f" ({selector[0]} {selector[1]})" if selector else "")

    scope = raw.get("scope", "sample")
    if scope not in SCOPES:
        raise CatalogError(f"{label}: scope must be one of {SCOPES}, got {scope!r}")
    script = raw.get("script")
    if not isinstance(script, str) or not re.fullmatch(r"[a-z][a-z0-9_]*\.sh", script):
        raise CatalogError(f"{label}: script must be a file name like align.sh, got {script!r}")
    tools = raw.get("tools")
    if not isinstance(tools, list) or not tools or not all(isinstance(t, str) and _NAME_RE.fullmatch(t) for t in tools):
        raise CatalogError(f"{label}: tools must list the tools whose versions the step records, e.g. [bwa, samtools]")

    arguments = _parse_arguments(raw.get("arguments"), label)
    if scope == "gather":
        if "inputs" in raw:
            raise CatalogError(f"{label}: a gather step reads its shards' folder (shards_dir), not inputs")
        inputs: dict[str, Input] = {}
    else:
        inputs = _parse_inputs(raw.get("inputs"), label)
    outputs = _parse_outputs(raw.get("outputs"), label)
    resources = _parse_resources(raw.get("resources"), label)

    input_args = [a.name for a in arguments if a.kind == "input"]
    if sorted(input_args) != sorted(inputs):
        raise CatalogError(f"{label}: the input arguments {input_args} must be exactly the inputs {list(inputs)}")
    out_dirs = [a.name for a in arguments if a.kind == "output_dir"]
    if scope in ("sample", "gather"):
        if len(out_dirs) != 1:
            raise CatalogError(f"{label}: a {scope} step takes exactly one output_dir argument, got {out_dirs}")
        if "sample_id" not in [a.name for a in arguments]:
            raise CatalogError(f"{label}: a {scope} step takes the sample_id argument")
        if scope == "gather" and not {"shards_dir", "shard_keys"} <= {a.name for a in arguments}:
            raise CatalogError(f"{label}: a gather step takes the shards_dir and shard_keys arguments")
    elif len(out_dirs) != 1:
        # locally the FASTA's own folder; on Batch outputs/, which the entrypoint uploads beside the FASTA
        raise CatalogError(f"{label}: a reference step takes exactly one output_dir argument (where its index "
                           f"files go, named after the FASTA), got {out_dirs}")

    _check_templates(outputs, scope, inputs, label)
    versions = [o for o in outputs.values() if o.template.endswith(VERSIONS_SUFFIX)]
    if len(versions) != 1:
        raise CatalogError(f"{label}: exactly one output must be the versions file (*{VERSIONS_SUFFIX}), "
                           f"got {[o.name for o in versions]}")
    if scope == "sample":
        expected = Output(f"{name}_versions", f"{{sample_id}}.{name}{VERSIONS_SUFFIX}")
        if (versions[0].name, versions[0].template) != (expected.name, expected.template):
            raise CatalogError(f"{label}: the versions output must be {expected.name}: {expected.template!r} "
                               f"(the run manifest finds it by that name)")
    logs = [o for o in outputs.values() if o.template.endswith(LOG_SUFFIX)]
    expected_log = Output(f"{name}_log", f"{{sample_id}}.{name}{LOG_SUFFIX}")
    if len(logs) != 1 or (scope == "sample" and (logs[0].name, logs[0].template) != (expected_log.name,
                                                                                      expected_log.template)):
        want = f"{expected_log.name}: {expected_log.template!r}" if scope == "sample" else f"*{LOG_SUFFIX}"
        raise CatalogError(f"{label}: exactly one output must be the log of its tools' stderr ({want}), "
                           f"got {[o.name for o in logs]}")
    for out in outputs.values():
        if out.only_with is not None and (out.only_with not in inputs or not inputs[out.only_with].optional):
            raise CatalogError(f"{label}: output {out.name}: only_with {out.only_with!r} must name an optional "
                               f"input of the step, one of {[i for i in inputs if inputs[i].optional]}")
    return Step(name=name, image=image, script=script, scope=scope, tools=tuple(tools), arguments=arguments,
                inputs=inputs, outputs=outputs, resources=resources, selector=selector, origin=where)


def _parse_arguments(raw: Any, label: str) -> tuple[Argument, ...]:
    if not isinstance(raw, list) or not raw:
        raise CatalogError(f"{label}: arguments must be a non-empty list of {{name, kind}}")
    args: list[Argument] = []
    for item in raw:
        if not isinstance(item, dict) or set(item) != {"name", "kind"}:
            raise CatalogError(f"{label}: each argument is {{name: ..., kind: value|input|output_dir}}, got {item!r}")
        name, kind = item["name"], item["kind"]
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise CatalogError(f"{label}: argument name {name!r} must be lower-case letters, digits and '_'")
        if kind not in KINDS:
            raise CatalogError(f"{label}: argument {name}: kind must be one of {KINDS}, got {kind!r}")
        if kind == "value" and name not in VALUES:
            raise CatalogError(f"{label}: argument {name}: the runners fill only the values {VALUES}")
        if name in [a.name for a in args]:
            raise CatalogError(f"{label}: argument {name} is listed twice")
        args.append(Argument(name, kind))
    return tuple(args)


def _parse_inputs(raw: Any, label: str) -> dict[str, Input]:
    if not isinstance(raw, dict) or not raw:
        raise CatalogError(f"{label}: inputs must map each input argument to {{from: ..., with: [...]}}")
    inputs: dict[str, Input] = {}
    for name, spec in raw.items():
        if not isinstance(spec, dict) or "from" not in spec or set(spec) - {"from", "with", "optional"}:
            raise CatalogError(f"{label}: input {name}: expected {{from: <source>, with: [<step>.<output>, ...], "
                               "optional: true|false}")
        if not isinstance(spec.get("optional", False), bool):
            raise CatalogError(f"{label}: input {name}: optional must be true or false")
        source = spec["from"]
        step_output = isinstance(source, str) and re.fullmatch(r"[a-z0-9_]+\.[a-z0-9_]+", source)
        if not isinstance(source, str) or (source not in SOURCES and not step_output):
            raise CatalogError(f"{label}: input {name}: from must be one of {sorted(SOURCES)} or <step>.<output>, "
                               f"got {source!r}")
        with_ = spec.get("with", [])
        if not isinstance(with_, list) or not all(isinstance(w, str) and "." in w for w in with_):
            raise CatalogError(f"{label}: input {name}: with must list <step>.<output> files beside it")
        # suffixes are filled in once every step is known (_check_catalog)
        companions = tuple(Companion(*w.split(".", 1), suffix="") for w in with_)
        inputs[name] = Input(name, source, companions, spec.get("optional", False))
    return inputs


def _parse_outputs(raw: Any, label: str) -> dict[str, Output]:
    if not isinstance(raw, dict) or not raw:
        raise CatalogError(f"{label}: outputs must map names to file-name templates")
    outputs: dict[str, Output] = {}
    for name, spec in raw.items():
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise CatalogError(f"{label}: output name {name!r} must be lower-case letters, digits and '_'")
        if isinstance(spec, str):
            spec = {"file": spec}
        if not isinstance(spec, dict) or "file" not in spec or set(spec) - {"file", "intermediate", "only_with"}:
            raise CatalogError(f"{label}: output {name}: expected a template or "
                               "{file: ..., intermediate: true, only_with: <optional input>}")
        if not isinstance(spec["file"], str) or not isinstance(spec.get("intermediate", False), bool):
            raise CatalogError(f"{label}: output {name}: file must be a string and intermediate a boolean")
        if not isinstance(spec.get("only_with", ""), str):
            raise CatalogError(f"{label}: output {name}: only_with must name an optional input of the step")
        outputs[name] = Output(name, spec["file"], spec.get("intermediate", False), spec.get("only_with"))
    return outputs


def _parse_resources(raw: Any, label: str) -> Resources:
    if not isinstance(raw, dict) or set(raw) != set(_RESOURCE_KEYS):
        raise CatalogError(f"{label}: resources must give exactly {list(_RESOURCE_KEYS)}")
    if not all(isinstance(raw[k], int) and not isinstance(raw[k], bool) for k in _RESOURCE_KEYS):
        raise CatalogError(f"{label}: resources must be whole numbers")
    res = Resources(**{k: raw[k] for k in _RESOURCE_KEYS})
    # the Batch minimums; the HealthOmics workflow asks for memory in whole GiB
    if res.vcpus < 1 or res.memory_mib < 512 or res.timeout_seconds < 60:
        raise CatalogError(f"{label}: resources need vcpus >= 1, memory_mib >= 512, timeout_seconds >= 60")
    if res.memory_mib % 1024:
        raise CatalogError(f"{label}: memory_mib must be a whole number of GiB (a multiple of 1024)")
    return res


def _placeholders(template: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]


def _check_templates(outputs: dict[str, Output], scope: str, inputs: dict[str, Input], label: str) -> None:
    for out in outputs.values():
        fields = _placeholders(out.template)
        if "/" in out.template or out.template.startswith("."):
            raise CatalogError(f"{label}: output {out.name}: {out.template!r} must be a plain, visible file name")
        if scope in ("sample", "gather"):
            if not fields or set(fields) != {"sample_id"} or not out.template.startswith("{sample_id}"):
                raise CatalogError(f"{label}: output {out.name}: {out.template!r} must start with {{sample_id}} "
                                   "and use no other placeholder")
        else:
            if len(fields) != 1 or fields[0] not in inputs or not out.template.startswith("{" + fields[0] + "}"):
                raise CatalogError(f"{label}: output {out.name}: {out.template!r} must be an input's path plus a "
                                   f"suffix, e.g. {{{next(iter(inputs))}}}.fai")


def build_catalog(steps: Sequence[Step], *, origin: str) -> StepCatalog:
    """Check the rules across steps and files, and resolve each input's companions to file-name suffixes."""
    catalog = StepCatalog(tuple(steps), origin=origin)
    by_name: dict[str, list[Step]] = {}
    ids: dict[str, str] = {}
    for s in catalog.steps:
        if s.id in ids:
            raise CatalogError(f"{s.origin}: {s.label}: id {s.id} is also declared in {ids[s.id]}")
        ids[s.id] = s.origin
        by_name.setdefault(s.name, []).append(s)
    values = {"aligner": catalog.aligners, "caller": catalog.callers}
    for name, impls in by_name.items():
        first = impls[0]
        kinds = {s.selector[0] if s.selector else None for s in impls}
        if len(kinds) != 1 or (None in kinds and len(impls) > 1):
            raise CatalogError(f"{first.origin}: step {name}: its implementations must all be selected by the same "
                               f"aligner or caller, or it must have a single implementation")
        kind = kinds.pop()
        if kind is not None and sorted(s.selector[1] for s in impls) != list(values[kind]):  # type: ignore[index]
            have = sorted(s.selector[1] for s in impls)  # type: ignore[index]
            raise CatalogError(f"{first.origin}: step {name} has implementations for {kind} {have}, but the "
                               f"catalogue offers {kind}s {list(values[kind])}: every {kind} needs one")
        for s in impls[1:]:
            if s.scope != first.scope:
                raise CatalogError(f"{s.origin}: {s.label}: scope {s.scope} differs from {first.origin}")
            if s.scope == "sample" and s.outputs != first.outputs:
                raise CatalogError(f"{s.origin}: {s.label}: outputs differ from those in {first.origin}; later steps "
                                   "read them by name, so every implementation declares the same")
    resolved = tuple(
        replace(s, inputs={name: _resolve_input(by_name, s, inp) for name, inp in s.inputs.items()})
        for s in catalog.steps
    )
    catalog = StepCatalog(resolved, origin=origin)
    sample = {n: impls for n, impls in by_name.items() if impls[0].scope == "sample"}
    if not sample:
        raise CatalogError(f"{catalog.origin}: the step catalogue declares no sample step")
    for kind in ("aligner", "caller"):
        if not values[kind]:
            raise CatalogError(f"{catalog.origin}: no step is selected by a {kind}: the catalogue offers no {kind}")
    outputs_seen: dict[str, str] = {}
    for n, impls in sample.items():
        for out in impls[0].outputs:
            if out in outputs_seen and outputs_seen[out] != n:
                raise CatalogError(f"{impls[0].origin}: step {n}: output name {out} is also an output of step "
                                   f"{outputs_seen[out]}; output names are unique across the sample steps")
            outputs_seen[out] = n
    orders = {tuple(s.name for s in catalog.sample_steps(a, c)) for a in values["aligner"] for c in values["caller"]}
    if len(orders) != 1:
        raise CatalogError(f"{catalog.origin}: the sample steps run in different orders for different aligners or "
                           f"callers: {sorted(orders)}")
    for s in catalog.steps:
        if s.scope == "gather" and not any(impls[0].outputs == s.outputs for impls in sample.values()):
            raise CatalogError(f"{s.origin}: {s.label}: a gather step writes the outputs of the sample step it "
                               "gathers (later steps read them by name); no sample step has these outputs")
    return catalog


def _resolve_input(by_name: dict[str, list[Step]], step: Step, inp: Input) -> Input:
    where = f"{step.origin}: {step.label}: input {inp.name}"
    primary_template: str | None
    if inp.external:
        primary_template = SOURCES[inp.source].template
    else:
        producers = by_name.get(inp.producer or "")
        if not producers:
            raise CatalogError(f"{where}: from {inp.source}: there is no step {inp.producer!r}")
        if producers[0].scope != "sample" or step.scope != "sample":
            raise CatalogError(f"{where}: from {inp.source}: a step reads only outputs of sample steps "
                               "(reference files are companions of reference.fasta)")
        if inp.producer == step.name:
            raise CatalogError(f"{where}: from {inp.source}: a step cannot read its own output")
        if inp.output not in producers[0].outputs:
            raise CatalogError(f"{where}: from {inp.source}: step {inp.producer} has no output {inp.output!r}")
        primary_template = producers[0].outputs[inp.output].template  # type: ignore[index]
        if producers[0].outputs[inp.output].only_with and not inp.optional:  # type: ignore[index]
            raise CatalogError(f"{where}: from {inp.source}: that output is written only with the input "
                               f"{producers[0].outputs[inp.output].only_with} of step {inp.producer}, "  # type: ignore[index]
                               "so this input must be optional: true")
    fixed: list[Companion] = []
    for comp in inp.companions:
        producer = _producer(by_name, step, comp, where)
        template = producer.outputs[comp.output].template
        if inp.external:
            ref_inputs = [i.name for i in producer.inputs.values() if i.source == inp.source]
            if producer.scope != "reference" or not ref_inputs:
                raise CatalogError(f"{where}: with {comp.ref}: files beside {inp.source} come from a reference step "
                                   f"that reads {inp.source}")
            primary_template = "{" + ref_inputs[0] + "}"
        elif comp.step != inp.producer:
            raise CatalogError(f"{where}: with {comp.ref}: files beside {inp.source} come from step {inp.producer}")
        if primary_template is None or not template.startswith(primary_template) or template == primary_template:
            raise CatalogError(f"{where}: with {comp.ref}: its file {template!r} must be the input's file name "
                               f"{primary_template!r} plus a suffix, so that it lies beside it")
        fixed.append(Companion(comp.step, comp.output, template[len(primary_template):]))
    return replace(inp, companions=tuple(fixed))


def _producer(by_name: dict[str, list[Step]], consumer: Step, comp: Companion, where: str) -> Step:
    """The implementation of ``comp.step`` that makes the companion file for ``consumer``.

    An implementation chosen by the same selector as the consumer is that one
    (``align_bwa`` reads the index of ``index_reference_bwa``); otherwise every
    implementation must name the file alike (``.fai`` of every aligner's index).
    """
    impls = by_name.get(comp.step) or []
    same = [p for p in impls if p.selector and consumer.selector and p.selector == consumer.selector]
    candidates = same or impls
    if not candidates or any(comp.output not in p.outputs for p in candidates):
        raise CatalogError(f"{where}: with {comp.ref}: no such output (of every implementation that could make it)")
    if len({p.outputs[comp.output].template for p in candidates}) != 1:
        raise CatalogError(f"{where}: with {comp.ref}: its implementations name the file differently")
    return candidates[0]


def _run_order(chosen: dict[str, Step]) -> list[str]:
    deps = {n: {i.producer for i in s.inputs.values() if i.producer} for n, s in chosen.items()}
    for n, d in deps.items():
        unknown = d - set(chosen)
        if unknown:
            raise CatalogError(f"{chosen[n].origin}: {chosen[n].label} reads outputs of {sorted(unknown)}, "
                               "which are not sample steps")
    after: dict[str, set[str]] = {n: {m for m, d in deps.items() if n in d} for n in chosen}

    @lru_cache(maxsize=None)
    def chain(n: str) -> int:
        return max((1 + chain(m) for m in after[n]), default=0)

    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(chosen):
        ready = [n for n in chosen if n not in done and deps[n] <= done]
        if not ready:
            cycle = sorted(set(chosen) - done)
            raise CatalogError(f"the steps {cycle} read each other's outputs in a cycle")
        ready.sort(key=lambda n: (-chain(n), n))
        order.append(ready[0])
        done.add(ready[0])
    return order


# -- the catalogue of this installation ------------------------------------------------------


def catalog() -> StepCatalog:
    """The step catalogue (read once per process; see the module docstring for where from)."""
    return default_catalog()


#: aligners and callers the catalogue offers: the enum of the ``aligner``/``caller`` params
ALIGNERS: tuple[str, ...] = catalog().aligners
CALLERS: tuple[str, ...] = catalog().callers
#: the per-sample steps in run order (DAG task ids, Batch steps)
SAMPLE_STEPS: tuple[str, ...] = catalog().sample_step_names


def sample_steps(aligner: str, caller: str) -> list[Step]:
    """The per-sample step implementations for ``aligner`` and ``caller``, in run order."""
    return catalog().sample_steps(aligner, caller)


def step(name: str, *, aligner: str | None = None, caller: str | None = None) -> Step:
    """The implementation of ``name`` that ``aligner``/``caller`` select."""
    return catalog().step(name, aligner=aligner, caller=caller)


def script_path(name: str, *, aligner: str | None = None, caller: str | None = None) -> Path:
    return step(name, aligner=aligner, caller=caller).script_path()


def build_args(name: str, values: Mapping[str, Any], *, aligner: str | None = None,
               caller: str | None = None) -> list[str]:
    """The script arguments of ``name`` from named values (see :meth:`Step.argv`)."""
    return step(name, aligner=aligner, caller=caller).argv(values)


def output_files(name: str, sample_id: str, *, aligner: str | None = None, caller: str | None = None) -> dict[str, str]:
    """Output name -> file name of one sample's step ``name``."""
    return step(name, aligner=aligner, caller=caller).output_files(sample_id)


def resources(name: str, *, aligner: str | None = None, caller: str | None = None) -> Resources:
    return step(name, aligner=aligner, caller=caller).resources


def index_suffixes(aligner: str) -> dict[str, str]:
    """Index files the alignment with ``aligner`` needs beside the FASTA: name -> suffix (``.fai``, ``.amb``...)."""
    return catalog().index_suffixes(aligner)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m seqflow.analysis.catalog [--write-bundle | --check-bundle]``: validate, (re)write the bundle."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m seqflow.analysis.catalog", description=main.__doc__)
    parser.add_argument("--write-bundle", action="store_true", help=f"write {BUNDLE}")
    parser.add_argument("--check-bundle", action="store_true", help="exit 1 if the bundle differs from the YAML")
    args = parser.parse_args(argv)
    text = bundle_text()
    if args.write_bundle:
        from seqflow.fsutil import atomic_write_text

        atomic_write_text(BUNDLE, text)
        print(f"wrote {BUNDLE}")
    elif args.check_bundle:
        current = BUNDLE.read_text(encoding="utf-8") if BUNDLE.is_file() else ""
        if current != text:
            print(f"{BUNDLE} is stale: run python -m seqflow.analysis.catalog --write-bundle")
            return 1
    cat = load_catalog(REPO_ROOT / "containers")
    for s in cat.steps:
        print(f"{s.id:<26} {s.scope:<9} {s.script_relpath:<28} {s.resources.vcpus:>3} vCPU "
              f"{s.resources.memory_mib:>6} MiB {s.resources.timeout_seconds:>6} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
