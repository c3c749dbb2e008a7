"""The step catalogue (containers/<tool>/steps.yaml): what it offers, how it orders and
wires the steps, the arguments and file names it builds, the bundled copy, and the rules
it enforces (each error names the file, the step and the rule)."""

from __future__ import annotations

import copy
import os
import shutil
import stat

import pytest

from seqflow.analysis import catalog as cat
from seqflow.analysis.catalog import (
    BUNDLE,
    CatalogError,
    bundle_text,
    catalog_from_documents,
    load_bundle,
    load_catalog,
    read_documents,
)
from seqflow.config import REPO_ROOT
from seqflow.paths import UnsafePathError

CONTAINERS = REPO_ROOT / "containers"


@pytest.fixture()
def docs():
    """The real catalogue's documents, to break one rule at a time."""
    return copy.deepcopy(read_documents(CONTAINERS))


def _step(docs, label, name):
    return next(s for s in docs[label]["steps"] if s["name"] == name)


def _error(docs) -> str:
    with pytest.raises(CatalogError) as info:
        catalog_from_documents(docs, origin="test")
    return str(info.value)


# ---------------------------------------------------------------- what it offers


def test_aligners_callers_and_step_names_come_from_the_yaml():
    assert cat.ALIGNERS == ("bwa", "minimap2")
    assert cat.CALLERS == ("bcftools", "freebayes")
    assert set(cat.catalog().names()) == {"index_reference", "fastp", "align", "call_variants", "bam_qc", "vcf_stats",
                                         "gather_calls"}
    assert cat.catalog().names("gather") == ["gather_calls"]
    assert cat.SAMPLE_STEPS == ("fastp", "align", "call_variants", "bam_qc", "vcf_stats")


@pytest.mark.parametrize("aligner", cat.ALIGNERS)
def test_sample_steps_in_run_order_for_an_aligner_and_caller(aligner):
    steps = cat.sample_steps(aligner, "bcftools")
    assert [s.id for s in steps] == ["fastp", f"align_{aligner}", "call_variants_bcftools", "bam_qc", "vcf_stats"]
    seen: set[str] = set()
    for s in steps:  # every step reads only what an earlier one wrote
        assert {i.producer for i in s.inputs.values() if i.producer} <= seen, s.id
        seen.add(s.name)
    assert [s.id for s in cat.catalog().reference_steps(aligner)] == [f"index_reference_{aligner}"]


def test_choosing_an_unknown_aligner_or_caller_names_what_is_offered():
    with pytest.raises(ValueError, match="unknown aligner 'bowtie2'; the step catalogue offers bwa, minimap2"):
        cat.sample_steps("bowtie2", "bcftools")
    with pytest.raises(ValueError, match="unknown caller 'gatk'"):
        cat.step("call_variants", caller="gatk")
    with pytest.raises(ValueError, match="name the aligner"):
        cat.step("align")


def test_script_paths_are_the_images_scripts():
    assert cat.script_path("align", aligner="minimap2") == CONTAINERS / "minimap2" / "align.sh"
    assert cat.step("bam_qc").image == "samtools"
    for s in cat.catalog().steps:
        assert os.access(s.script_path(), os.X_OK), s.id


def test_arguments_are_built_in_the_scripts_order_from_named_values():
    values = {"sample_id": "S1", "reference": "/r/g.fa", "bam": "/a/S1.bam", "out_dir": "/o",
              "ploidy_file": "/r/g.ploidy", "threads": 3}
    # regions (the calling shard) defaults to "-", the whole genome
    assert cat.build_args("call_variants", values, caller="bcftools") == \
        ["S1", "/r/g.fa", "/a/S1.bam", "/o", "/r/g.ploidy", "3", "-"]
    assert cat.build_args("call_variants", {**values, "regions": "q:1-500,r:1-20"}, caller="bcftools")[-1] == \
        "q:1-500,r:1-20"
    # threads defaults to the step's vCPUs
    del values["threads"]
    vcpus = cat.catalog().step("call_variants", caller="bcftools").resources.vcpus
    assert cat.build_args("call_variants", values, caller="bcftools")[-2] == str(vcpus)
    with pytest.raises(CatalogError, match="no value for argument 'ploidy_file'"):
        cat.build_args("call_variants", {**values, "ploidy_file": ""}, caller="bcftools")
    with pytest.raises(UnsafePathError, match="invalid sample id"):
        cat.build_args("call_variants", {**values, "sample_id": "../x"}, caller="bcftools")
    with pytest.raises(CatalogError, match="whole number"):
        cat.build_args("bam_qc", {"sample_id": "S1", "bam": "b", "out_dir": "o", "threads": "2; rm -rf /"})


def test_output_file_names_and_the_files_beside_each_input():
    assert cat.output_files("call_variants", "S1", caller="bcftools") == {
        "vcf": "S1.vcf.gz", "tbi": "S1.vcf.gz.tbi", "call_variants_versions": "S1.call_variants.versions.json",
        "call_variants_log": "S1.call_variants.log"}
    assert cat.output_files("fastp", "S1")["trimmed_r1"] == "S1.trimmed_R1.fastq.gz"
    align = cat.step("align", aligner="bwa")
    assert align.companion_files("reference", "s3://b/GRCh38.fa") == [
        f"s3://b/GRCh38.fa{ext}" for ext in (".fai", ".amb", ".ann", ".bwt", ".pac", ".sa")]
    assert cat.step("bam_qc").companion_files("bam", "x/S1.bam") == ["x/S1.bam.bai"]
    assert cat.index_suffixes("minimap2") == {"fai": ".fai", "mmi": ".mmi"}
    index = cat.catalog().reference_steps("bwa")[0]
    assert index.output_files(reference="/r/g.fa")["index_done"] == "/r/g.fa.seqflow-index-bwa.ok"


def test_every_step_declares_its_versions_file_as_an_output():
    for s in cat.catalog().steps:
        if s.scope == "sample":
            assert s.outputs[f"{s.name}_versions"].template == f"{{sample_id}}.{s.name}.versions.json"
        assert s.versions_output.template.endswith(".versions.json") and s.tools, s.id


def test_every_step_declares_its_log_as_an_output():
    for s in cat.catalog().steps:
        if s.scope == "sample":
            assert s.log_output == s.outputs[f"{s.name}_log"]
            assert s.log_output.template == f"{{sample_id}}.{s.name}.log" and not s.log_output.intermediate
        elif s.scope == "gather":
            # the log of the step it gathers (gather_calls: call_variants'), which later steps read alike
            assert s.log_output.template == "{sample_id}.call_variants.log", s.id
        else:
            assert s.log_output.template.startswith("{reference}.") and s.log_output.template.endswith("-index.log")


def test_r2_is_optional_and_an_absent_one_reaches_the_script_as_a_dash():
    fastp = cat.step("fastp")
    assert fastp.inputs["r2"].optional and not fastp.inputs["r1"].optional
    assert fastp.outputs["trimmed_r2"].only_with == "r2"
    assert cat.NO_FILE == "-"
    values = {"sample_id": "S1", "r1": "/in/S1_R1.fastq.gz", "out_dir": "/o", "threads": 2}
    assert fastp.argv(values) == ["S1", "/in/S1_R1.fastq.gz", "-", "/o", "2"]
    assert fastp.argv({**values, "r2": ""}) == fastp.argv({**values, "r2": None}) == fastp.argv(values)
    with pytest.raises(CatalogError, match="no value for argument 'r1'"):
        fastp.argv({**values, "r1": None})
    assert set(fastp.present_outputs({"r2"})) == set(fastp.outputs) - {"trimmed_r2"}
    assert fastp.present_outputs() == fastp.outputs
    for aligner in cat.ALIGNERS:
        assert cat.step("align", aligner=aligner).inputs["r2"].optional


@pytest.mark.parametrize("aligner", cat.ALIGNERS)
def test_single_end_reads_leave_out_r2_its_trimmed_reads_and_the_alignments_r2(aligner):
    absent = cat.catalog().absent(aligner, "bcftools", {"sample.r2"})
    assert absent.inputs == {"fastp": {"r2"}, "align": {"r2"}, "call_variants": set(), "bam_qc": set(),
                             "vcf_stats": set()}
    assert absent.outputs == {"trimmed_r2"}
    nothing = cat.catalog().absent(aligner, "bcftools", ())
    assert not nothing.outputs and not any(nothing.inputs.values())
    with pytest.raises(ValueError, match=r"step call_variants \(caller bcftools\) cannot run without its input\(s\) "
                                         r"ploidy_file \(reference.ploidy\)"):
        cat.catalog().absent(aligner, "bcftools", {"reference.ploidy"})
    with pytest.raises(ValueError, match="unknown input source"):
        cat.catalog().absent(aligner, "bcftools", {"sample.r3"})


# ---------------------------------------------------------------- the bundled copy


def test_the_bundled_copy_is_the_yaml():
    assert BUNDLE.read_text() == bundle_text(CONTAINERS), (
        "include/seqflow/workflows/steps_catalogue.json is stale: "
        "run python -m seqflow.analysis.catalog --write-bundle")
    assert load_bundle().steps == load_catalog(CONTAINERS).steps


def test_an_installation_without_the_containers_folder_reads_the_bundle(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQFLOW_CONTAINERS_DIR", str(tmp_path))
    cat.default_catalog.cache_clear()
    try:
        found = cat.default_catalog()
        assert "bundled copy" in found.origin
        assert found.steps == load_catalog(CONTAINERS).steps
    finally:
        monkeypatch.delenv("SEQFLOW_CONTAINERS_DIR")
        cat.default_catalog.cache_clear()
    assert cat.default_catalog().origin == str(CONTAINERS)


def test_the_bundle_is_in_the_package_data():
    """The Airflow image installs the package non-editable: its package-data must carry the bundle."""
    import fnmatch
    import tomllib

    package_data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    relative = BUNDLE.relative_to(REPO_ROOT / "include" / "seqflow").as_posix()
    assert any(fnmatch.fnmatch(relative, pattern.replace("**/", "")) or fnmatch.fnmatch(relative, pattern)
               for pattern in package_data["seqflow"]), package_data


# ---------------------------------------------------------------- the rules


def test_unknown_keys_are_refused_naming_file_and_step(docs):
    _step(docs, "samtools/steps.yaml", "bam_qc")["scirpt"] = "x.sh"
    message = _error(docs)
    assert "containers/samtools/steps.yaml: step bam_qc: unknown key(s) ['scirpt']" in message


def test_an_input_from_an_output_that_does_not_exist(docs):
    _step(docs, "samtools/steps.yaml", "bam_qc")["inputs"]["bam"]["from"] = "align.cram"
    assert "containers/samtools/steps.yaml: step bam_qc: input bam: from align.cram: step align has no output" \
        in _error(docs)


def test_a_file_beside_an_input_must_be_its_name_plus_a_suffix(docs):
    _step(docs, "samtools/steps.yaml", "bam_qc")["inputs"]["bam"]["with"] = ["align.markdup"]
    assert "must be the input's file name '{sample_id}.bam' plus a suffix" in _error(docs)


def test_every_aligner_needs_an_implementation_of_every_aligner_step(docs):
    docs["minimap2/steps.yaml"]["steps"] = [s for s in docs["minimap2/steps.yaml"]["steps"] if s["name"] != "align"]
    message = _error(docs)
    assert "step align has implementations for aligner ['bwa']" in message and "every aligner needs one" in message


def test_implementations_of_a_step_declare_the_same_outputs(docs):
    _step(docs, "minimap2/steps.yaml", "align")["outputs"]["bam"] = "{sample_id}.sorted.bam"
    assert "containers/minimap2/steps.yaml: step align (aligner minimap2): outputs differ" in _error(docs)


def test_the_versions_output_has_the_name_the_manifest_looks_for(docs):
    outputs = _step(docs, "fastp/steps.yaml", "fastp")["outputs"]
    outputs["versions"] = outputs.pop("fastp_versions")
    assert "the versions output must be fastp_versions" in _error(docs)


def test_the_log_output_has_the_name_and_file_of_its_step(docs):
    outputs = _step(docs, "samtools/steps.yaml", "bam_qc")["outputs"]
    outputs["log"] = outputs.pop("bam_qc_log")
    assert "exactly one output must be the log of its tools' stderr (bam_qc_log: '{sample_id}.bam_qc.log')" \
        in _error(docs)
    del outputs["log"]
    assert "got []" in _error(docs)


def test_only_with_must_name_an_optional_input_of_the_step(docs):
    fastp = _step(docs, "fastp/steps.yaml", "fastp")
    fastp["outputs"]["trimmed_r2"]["only_with"] = "r1"
    assert "output trimmed_r2: only_with 'r1' must name an optional input of the step, one of ['r2']" in _error(docs)


def test_an_input_read_from_an_output_written_only_with_an_optional_input_is_optional(docs):
    del _step(docs, "bwa/steps.yaml", "align")["inputs"]["r2"]["optional"]
    message = _error(docs)
    assert "containers/bwa/steps.yaml: step align (aligner bwa): input r2: from fastp.trimmed_r2" in message
    assert "must be optional: true" in message


def test_optional_is_a_boolean(docs):
    _step(docs, "fastp/steps.yaml", "fastp")["inputs"]["r2"]["optional"] = "yes"
    assert "input r2: optional must be true or false" in _error(docs)


def test_steps_that_read_each_other_are_a_cycle(docs):
    _step(docs, "fastp/steps.yaml", "fastp")["inputs"]["r1"] = {"from": "align.bam"}
    assert "cycle" in _error(docs)


def test_output_names_are_unique_across_the_sample_steps(docs):
    outputs = _step(docs, "samtools/steps.yaml", "bam_qc")["outputs"]
    outputs["vcf"] = outputs.pop("coverage")
    assert "output name vcf is also an output of step call_variants" in _error(docs)


@pytest.mark.parametrize(("key", "value", "rule"), [
    ("memory_mib", 5000, "whole number of GiB"),
    ("vcpus", 0, "vcpus >= 1"),
    ("timeout_seconds", "1h", "whole numbers"),
])
def test_resources_rules(docs, key, value, rule):
    _step(docs, "bcftools/steps.yaml", "vcf_stats")["resources"][key] = value
    message = _error(docs)
    assert "containers/bcftools/steps.yaml: step vcf_stats" in message and rule in message


@pytest.mark.parametrize(("change", "rule"), [
    (lambda s: s["arguments"].append({"name": "ploidy", "kind": "value"}), "the runners fill only the values"),
    (lambda s: s["arguments"].__setitem__(1, {"name": "bam", "kind": "file"}), "kind must be one of"),
    (lambda s: s["arguments"].pop(2), "exactly one output_dir argument"),
    (lambda s: s["outputs"].__setitem__("flagstat", "../{sample_id}.json"), "plain, visible file name"),
    (lambda s: s["outputs"].__setitem__("flagstat", "{run_id}.json"), "must start with {sample_id}"),
    (lambda s: s.__setitem__("caller", "Bad-Name"), "invalid caller name"),
])
def test_argument_and_output_rules(docs, change, rule):
    change(_step(docs, "samtools/steps.yaml", "bam_qc"))
    assert rule in _error(docs)


def test_the_image_must_be_the_folder(docs):
    docs["samtools/steps.yaml"]["image"] = "bcftools"
    assert "containers/samtools/steps.yaml: image must be the folder name 'samtools'" in _error(docs)


def _copy_containers(tmp_path):
    root = tmp_path / "containers"
    shutil.copytree(CONTAINERS, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_a_folder_catalogue_needs_executable_scripts_and_a_dockerfile(tmp_path):
    root = _copy_containers(tmp_path)
    assert load_catalog(root).steps == load_catalog(CONTAINERS).steps
    script = root / "samtools" / "bam_qc.sh"
    script.chmod(script.stat().st_mode & ~(stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    with pytest.raises(CatalogError, match=r"containers/samtools/steps.yaml: step bam_qc: script bam_qc.sh is not an"):
        load_catalog(root)
    (root / "samtools" / "Dockerfile").unlink()
    with pytest.raises(CatalogError, match="has no Dockerfile"):
        load_catalog(root)


def test_invalid_yaml_names_the_file(tmp_path):
    root = _copy_containers(tmp_path)
    (root / "fastp" / "steps.yaml").write_text("image: fastp\nsteps: [\n")
    with pytest.raises(CatalogError, match="containers/fastp/steps.yaml: not valid YAML"):
        load_catalog(root)


def test_the_command_line_checks_the_bundle(capsys):
    assert cat.main(["--check-bundle"]) == 0
    assert "align_bwa" in capsys.readouterr().out
