"""The aws profile's reference catalogue (``s3://<raw>/references/``) against moto's S3.

The FASTA is a small synthetic genome normalised by the real code (samtools
faidx included); the expected files come from the local catalogue registering
the same file, so both profiles store the same reference.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import random
import shlex
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from aws_helpers import REGION, of, settings

REPO = Path(__file__).resolve().parents[3]
PREFIX = "references/toy/"
CORE_FILES = ["toy.fa", "toy.fa.fai", "toy.fa.gaps.bed", "toy.ploidy", "reference.json"]
BWA = [f"toy.fa{s}" for s in (".amb", ".ann", ".bwt", ".pac", ".sa")]


def _full(names) -> list[str]:
    return sorted(PREFIX + n for n in names)


def _genome(path: Path, contigs: dict[str, int], *, seed: int = 7, width: int = 50) -> Path:
    """A multi-contig FASTA with soft-masked stretches and an N run, wrapped at ``width``."""
    rng = random.Random(seed)
    with open(path, "w") as out:
        for name, length in contigs.items():
            seq = "".join(rng.choice("ACGT") for _ in range(length))
            seq = seq[:40] + seq[40:80].lower() + "N" * 10 + seq[90:]
            out.write(f">{name} synthetic contig\n")
            out.writelines(seq[i:i + width] + "\n" for i in range(0, len(seq), width))
    return path


@pytest.fixture
def fasta(tmp_path):
    return _genome(tmp_path / "toy_source.fa", {"chr1": 1200, "chr2": 730, "chrM": 170})


@pytest.fixture
def s3(moto):
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket="raw", CreateBucketConfiguration={"LocationConstraint": REGION})
    return client


@pytest.fixture
def catalog(s3, tmp_path):
    from seqflow.aws.references import S3ReferenceCatalog

    return S3ReferenceCatalog(settings(), s3, deb_cache=tmp_path / "debs")


def _keys(s3, prefix=PREFIX) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket="raw", Prefix=prefix).get("Contents", []))


def _body(s3, key) -> bytes:
    return s3.get_object(Bucket="raw", Key=key)["Body"].read()


def _put_index(s3, names=BWA):
    for name in names:
        s3.put_object(Bucket="raw", Key=PREFIX + name, Body=b"index")


def _fail_put(s3, key_suffix: str, code: str = "InternalError"):
    """Make every PutObject of a key ending in ``key_suffix`` fail as S3 would."""

    def fail(params, **_):
        if params["Key"].endswith(key_suffix):
            raise ClientError({"Error": {"Code": code, "Message": "simulated failure"}}, "PutObject")

    s3.meta.events.register("before-parameter-build.s3.PutObject", fail)
    return fail


# ---------------------------------------------------------------- add


def test_add_uploads_the_local_catalogues_files_with_reference_json_last(catalog, s3, fasta, tmp_path, calls):
    from seqflow.references import LocalReferenceCatalog, Ploidy

    ploidy = Ploidy.parse(["2", "chrM=1"])
    ref = catalog.add("toy", str(fasta), ploidy=ploidy, description="synthetic")
    local = LocalReferenceCatalog(tmp_path / "local").add("toy", str(fasta), ploidy=ploidy,
                                                         description="synthetic", aligners=())

    assert _keys(s3) == _full(CORE_FILES)  # no index: Batch builds those
    for name in ("toy.fa", "toy.fa.fai", "toy.ploidy"):
        assert _body(s3, PREFIX + name) == (Path(local.location) / name).read_bytes(), name
    # the assembly gaps the calling intervals respect: what the local profile writes beside its FASTA
    from seqflow.references.intervals import reference_gaps

    assert catalog.gaps(ref) == reference_gaps(local.fasta)
    assert _body(s3, PREFIX + "toy.fa.gaps.bed") == Path(f"{local.fasta}.gaps.bed").read_bytes()
    stored = json.loads(_body(s3, PREFIX + "reference.json"))
    expected = json.loads(local.to_json())
    assert stored["contigs"] == expected["contigs"]
    assert [c["name"] for c in stored["contigs"]] == ["chr1", "chr2", "chrM"]
    assert all(len(c["md5"]) == 32 for c in stored["contigs"])
    stored.pop("added_at"), expected.pop("added_at")
    assert stored == expected  # name, description, source, ploidy, total_length, contigs
    assert stored["source"] == str(fasta.resolve())

    puts = [p["Key"] for s, o, p in calls if s == "s3" and o in ("PutObject", "CreateMultipartUpload")]
    assert puts[-1] == PREFIX + "reference.json" and sorted(puts) == _full(CORE_FILES)
    assert all(p.get("ServerSideEncryption") == "aws:kms" for s, o, p in calls if o == "PutObject")

    assert ref.location == "s3://raw/references/toy/" == settings().reference_uri("toy") == catalog.location("toy")
    assert ref.fasta == "s3://raw/references/toy/toy.fa"
    assert ref.ploidy_file == "s3://raw/references/toy/toy.ploidy"
    assert ref.index_files("minimap2") == ["s3://raw/references/toy/toy.fa.mmi"]
    assert ref.ploidy == ploidy and ref.description == "synthetic"
    assert catalog.indexes(ref) == {"bwa": False, "minimap2": False}


def test_add_reads_gzip_s3_sources_with_the_catalogues_client(catalog, s3, fasta):
    s3.put_object(Bucket="raw", Key="incoming/toy.fa.gz", Body=gzip.compress(fasta.read_bytes()))
    ref = catalog.add("toy", "s3://raw/incoming/toy.fa.gz")
    assert ref.source == "s3://raw/incoming/toy.fa.gz"
    assert [c.length for c in ref.contigs] == [1200, 730, 170]
    assert _keys(s3) == _full(CORE_FILES)


def test_bad_sources_and_names_register_nothing(catalog, s3, tmp_path):
    from seqflow.references import ReferenceError

    bad = tmp_path / "bad.fa"
    bad.write_text(">chr1\nACGTXX\n")
    with pytest.raises(ReferenceError, match="toy"):
        catalog.add("toy", str(bad))
    with pytest.raises(ReferenceError, match="cannot be downloaded"):
        catalog.add("toy", "s3://raw/incoming/missing.fa")
    with pytest.raises(ReferenceError, match="invalid reference name"):
        catalog.add("../toy", str(bad))
    with pytest.raises(ReferenceError, match="unknown aligner"):
        catalog.add("toy", str(bad), aligners=("bowtie",))
    assert _keys(s3, "") == []


def test_add_refuses_to_overwrite_unless_replace(catalog, s3, fasta, tmp_path):
    from seqflow.references import Ploidy, ReferenceError

    catalog.add("toy", str(fasta))
    before = _body(s3, PREFIX + "reference.json")
    with pytest.raises(ReferenceError, match=r"already registered .*--replace"):
        catalog.add("toy", str(fasta))
    assert _body(s3, PREFIX + "reference.json") == before

    # same contigs: a new ploidy keeps the (hour-long) index
    _put_index(s3, [*BWA, "toy.fa.seqflow-index-bwa.ok"])
    ref = catalog.add("toy", str(fasta), ploidy=Ploidy(1), replace=True)
    assert ref.ploidy.default == 1 and _body(s3, PREFIX + "toy.ploidy").endswith(b"*\t*\t*\t*\t1\n")
    assert _keys(s3) == _full(CORE_FILES + BWA)  # the marker is not an index file: gone
    assert catalog.indexes(ref)["bwa"]

    # another genome: the old index would be wrong for it, so it goes
    other = _genome(tmp_path / "other.fa", {"chr1": 900}, seed=3)
    ref = catalog.add("toy", str(other), replace=True)
    assert _keys(s3) == _full(CORE_FILES)
    assert [c.name for c in ref.contigs] == ["chr1"] and catalog.indexes(ref) == {"bwa": False, "minimap2": False}


def test_add_deletes_leftovers_of_a_failed_add(catalog, s3, fasta):
    # an unregistered prefix (no reference.json) with an index of unknown origin
    _put_index(s3)
    s3.put_object(Bucket="raw", Key=PREFIX + "toy.fa", Body=b">old\nA\n")
    assert catalog.names() == []
    catalog.add("toy", str(fasta))
    assert _keys(s3) == _full(CORE_FILES)


@pytest.mark.parametrize("failing", ["toy.ploidy", "reference.json"])
def test_a_failed_upload_leaves_no_reference(catalog, s3, fasta, failing):
    from seqflow.references import ReferenceError, UnknownReference

    _fail_put(s3, failing)
    with pytest.raises(ReferenceError, match=f"cannot (upload|write) s3://raw/references/toy/{failing}"):
        catalog.add("toy", str(fasta))
    assert _keys(s3) == []  # what had gone up is deleted, reference.json never written
    assert catalog.names() == [] and catalog.get("toy") is None
    with pytest.raises(UnknownReference):
        catalog.require("toy")


def test_a_failed_replace_leaves_the_name_unregistered_not_half_old(catalog, s3, fasta, tmp_path):
    catalog.add("toy", str(fasta))
    other = _genome(tmp_path / "other.fa", {"chr9": 500}, seed=5)
    _fail_put(s3, "toy.fa.fai")
    with pytest.raises(Exception, match="toy.fa.fai"):
        catalog.add("toy", str(other), replace=True)
    assert catalog.get("toy") is None and _keys(s3) == []


# ---------------------------------------------------------------- lookups


def test_names_list_get_require_and_the_unknown_message(catalog, s3, fasta, tmp_path):
    from seqflow.references import UnknownReference
    from seqflow.references.resolve import ReferenceRules

    with pytest.raises(UnknownReference, match="registered references: none yet"):
        catalog.require("toy")
    catalog.add("toy", str(fasta))
    catalog.add("alt", str(_genome(tmp_path / "alt.fa", {"contig_1": 300}, seed=1)))
    catalog.save_rules(ReferenceRules(default="toy"))  # _rules.json is not a reference
    s3.put_object(Bucket="raw", Key="references/_debs/x.deb", Body=b"x")  # nor other prefixes without reference.json

    assert catalog.names() == ["alt", "toy"]
    assert [r.name for r in catalog.list()] == ["alt", "toy"]
    assert catalog.get("missing") is None
    assert catalog.get("toy") == catalog.require("toy")
    with pytest.raises(UnknownReference) as err:
        catalog.require("GRCh38")
    message = str(err.value)
    assert "registered references: alt, toy" in message
    assert "seqflow reference add GRCh38 --fasta" in message


def test_remove_deletes_every_object_and_respects_the_rules(catalog, s3, fasta):
    from seqflow.references import ReferenceError, UnknownReference
    from seqflow.references.resolve import ReferenceRules

    catalog.add("toy", str(fasta))
    _put_index(s3)
    catalog.save_rules(ReferenceRules(default="toy"))
    with pytest.raises(ReferenceError, match="default or mapping"):
        catalog.remove("toy")
    catalog.save_rules(ReferenceRules())
    ref = catalog.remove("toy")
    assert ref.name == "toy" and _keys(s3) == []
    assert _keys(s3, "references/") == ["references/_rules.json"]
    with pytest.raises(UnknownReference):
        catalog.remove("toy")


def test_rules_round_trip_through_s3(catalog, s3, fasta):
    from seqflow.references import UnknownReference
    from seqflow.references.resolve import MappingRule, ReferenceRules

    assert catalog.rules() == ReferenceRules()
    catalog.add("toy", str(fasta))
    rules = ReferenceRules(default="toy").with_rule(MappingRule("Sample_Project", "CancerWGS", "toy"))
    catalog.save_rules(rules)
    assert catalog.rules() == rules
    assert json.loads(_body(s3, "references/_rules.json")) == json.loads(rules.to_json())
    with pytest.raises(UnknownReference, match="'GRCh38' is not registered"):
        catalog.save_rules(rules.with_default("GRCh38"))
    assert catalog.rules() == rules


def test_s3_errors_name_the_uri(s3, fasta, tmp_path):
    from seqflow.aws.references import S3ReferenceCatalog
    from seqflow.references import ReferenceError

    missing = S3ReferenceCatalog(settings(raw_bucket="no-such-bucket"), s3, deb_cache=tmp_path)
    with pytest.raises(ReferenceError, match=r"cannot list s3://no-such-bucket/references/.*NoSuchBucket"):
        missing.names()

    catalog = S3ReferenceCatalog(settings(), s3, deb_cache=tmp_path)

    def throttle(**_):
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "GetObject")

    s3.meta.events.register("before-call.s3.GetObject", throttle)
    with pytest.raises(ReferenceError, match=r"cannot read s3://raw/references/toy/reference.json: .*SlowDown"):
        catalog.get("toy")
    with pytest.raises(ReferenceError, match=r"s3://raw/references/_rules.json"):
        catalog.rules()


# ---------------------------------------------------------------- indexes and the Batch job

#: AWS CLI option -> SubmitJob member, and whether the CLI value is JSON
CLI_OPTIONS = {
    "--job-name": ("jobName", False),
    "--job-queue": ("jobQueue", False),
    "--job-definition": ("jobDefinition", False),
    "--container-overrides": ("containerOverrides", True),
    "--timeout": ("timeout", True),
    "--tags": ("tags", True),
}


def _parse_submit_job(line: str) -> tuple[dict, dict]:
    """(SubmitJob parameters, global options) of one ``aws batch submit-job`` line."""
    argv = shlex.split(line)
    assert argv[:3] == ["aws", "batch", "submit-job"]
    params, globals_ = {}, {}
    options = argv[3:]
    assert len(options) % 2 == 0, options
    for option, value in zip(options[::2], options[1::2]):
        if option in CLI_OPTIONS:
            member, is_json = CLI_OPTIONS[option]
            params[member] = json.loads(value) if is_json else value
        else:
            globals_[option] = value
    return params, globals_


def _validate_submit_job(params: dict) -> None:
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("batch").operation_model("SubmitJob")
    report = ParamValidator().validate(params, model.input_shape)
    assert not report.has_errors(), report.generate_report()


def test_pending_index_commands_are_valid_submit_jobs_for_each_missing_index(catalog, s3, fasta):
    from seqflow.aws.references import index_step

    ref = catalog.add("toy", str(fasta))
    lines = catalog.pending_index_commands(ref)
    commands = [line for line in lines if not line.startswith("#")]
    assert len(lines) == 4 and len(commands) == 2
    assert all("\n" not in line for line in lines)

    parsed = {}
    for line in commands:
        params, globals_ = _parse_submit_job(line)
        _validate_submit_job(params)
        parsed[params["jobDefinition"]] = params
        assert globals_ == {"--region": REGION}
    bwa, minimap2 = parsed["sf-align-bwa"], parsed["sf-align-minimap2"]
    res = index_step("bwa").resources
    assert bwa == catalog.index_job_request(ref, "bwa")
    assert minimap2 == catalog.index_job_request(ref, "minimap2")
    assert bwa == {
        "jobName": "seqflow_index_bwa_toy",
        "jobQueue": "queue",
        "jobDefinition": "sf-align-bwa",
        "containerOverrides": {
            "command": ["index_reference.sh", "inputs/toy.fa", "outputs"],
            "environment": [
                {"name": "SEQFLOW_INPUTS",
                 "value": "s3://raw/references/toy/toy.fa s3://raw/references/toy/toy.fa.fai"},
                {"name": "SEQFLOW_OUTPUT_URI", "value": "s3://raw/references/toy/"},
            ],
            # bwa/steps.yaml: index_reference's resources, not the alignment job definition's
            "resourceRequirements": [{"type": "VCPU", "value": str(res.vcpus)},
                                     {"type": "MEMORY", "value": str(res.memory_mib)}],
        },
        "timeout": {"attemptDurationSeconds": res.timeout_seconds},
        "tags": {"project": "seqflow-test", "reference": "toy", "step": "index_reference_bwa"},
    }
    assert minimap2["containerOverrides"]["command"] == ["index_reference.sh", "inputs/toy.fa", "outputs"]
    # the command names the script the aligner images install (containers/<aligner>/index_reference.sh)
    for aligner in ("bwa", "minimap2"):
        assert (REPO / "containers" / aligner / "index_reference.sh").is_file()

    _put_index(s3)
    assert catalog.indexes(ref) == {"bwa": True, "minimap2": False}
    remaining = [line for line in catalog.pending_index_commands(ref) if not line.startswith("#")]
    assert len(remaining) == 1 and _parse_submit_job(remaining[0])[0]["jobDefinition"] == "sf-align-minimap2"
    _put_index(s3, ["toy.fa.mmi"])
    assert catalog.pending_index_commands(ref) == []


def test_pending_commands_follow_the_aligners_of_add_and_quote_odd_names(catalog, s3, fasta):
    ref = catalog.add("GRCh38.p14", str(fasta), aligners=("minimap2",))
    lines = catalog.pending_index_commands(ref)
    assert len(lines) == 2
    params, _ = _parse_submit_job(lines[1])
    _validate_submit_job(params)
    assert params["jobName"] == "seqflow_index_minimap2_GRCh38-p14"  # Batch job names allow no '.'
    assert params["containerOverrides"]["command"] == ["index_reference.sh", "inputs/GRCh38.p14.fa", "outputs"]
    assert len(catalog.pending_index_commands(ref, aligners=("bwa", "minimap2"))) == 4
    # JSON (quotes, braces) is one shell word each; nothing is left for the shell to expand
    assert "'{" in lines[1] and "$" not in lines[1]


def test_ensure_index_raises_with_the_batch_command_until_the_index_exists(catalog, s3, fasta, calls):
    from seqflow.references import ReferenceError

    ref = catalog.add("toy", str(fasta))
    with pytest.raises(ReferenceError) as err:
        catalog.ensure_index(ref, "bwa")
    assert "no bwa index in s3://raw/references/toy/" in str(err.value)
    assert catalog.index_command(ref, "bwa") in str(err.value).splitlines()
    with pytest.raises(ReferenceError, match="no index is known for aligner 'bowtie'"):
        catalog.ensure_index(ref, "bowtie")

    _put_index(s3)
    calls.clear()
    catalog.ensure_index(ref, "bwa")
    assert [(s, o) for s, o, _ in calls] == [("s3", "ListObjectsV2")]
    assert of(calls, "s3", "ListObjectsV2") == [{"Bucket": "raw", "Prefix": PREFIX}]


def _load_stager():
    spec = importlib.util.spec_from_file_location("s3_stage", REPO / "containers" / "_common" / "s3_stage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_staging_entrypoint_puts_the_fasta_where_the_index_command_reads_it(catalog, s3, fasta, tmp_path):
    ref = catalog.add("toy", str(fasta))
    request = catalog.index_job_request(ref, "bwa")
    env = {e["name"]: e["value"] for e in request["containerOverrides"]["environment"]}
    plan = _load_stager().plan_downloads(s3, env["SEQFLOW_INPUTS"], tmp_path / "inputs")
    staged = {f"s3://{bucket}/{key}": path.relative_to(tmp_path).as_posix() for bucket, key, path in plan}
    assert staged == {ref.fasta: "inputs/toy.fa", ref.fasta + ".fai": "inputs/toy.fa.fai"}
    assert request["containerOverrides"]["command"][1] == staged[ref.fasta]


def test_the_index_job_publishes_the_index_under_the_reference(catalog, s3, fasta, tmp_path, monkeypatch):
    """The job as Batch would run it: the entrypoint, the real bwa script and bwa, moto's S3."""
    import shutil

    for tool in ("bwa", "samtools"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    ref = catalog.add("toy", str(fasta))
    request = catalog.index_job_request(ref, "bwa")
    for item in request["containerOverrides"]["environment"]:
        monkeypatch.setenv(item["name"], item["value"])
    monkeypatch.setenv("SEQFLOW_WORKDIR", str(tmp_path / "scratch"))
    # the image installs the script in /usr/local/bin; here it runs from the repository
    monkeypatch.setenv("PATH", f"{REPO / 'containers' / 'bwa'}:{os.environ['PATH']}")
    assert _load_stager().main(request["containerOverrides"]["command"], client=s3) == 0
    # the script writes the index into outputs/, which the entrypoint uploads beside the FASTA
    assert catalog.indexes(ref)["bwa"]
    assert _keys(s3) == _full(CORE_FILES + BWA + ["toy.fa.bwa-index.log", "toy.fa.seqflow-index-bwa.ok",
                                                   "toy.fa.seqflow-index-bwa.versions.json"])


# ---------------------------------------------------------------- wiring


def test_aws_reference_catalog_from_settings_and_the_profile_switch(moto, monkeypatch):
    from seqflow.aws.references import S3ReferenceCatalog, aws_reference_catalog
    from seqflow.references import reference_catalog

    monkeypatch.setenv("AIRFLOW_VAR_SEQFLOW_RAW_BUCKET", "my-raw")
    monkeypatch.setenv("AIRFLOW_VAR_SEQFLOW_REGION", REGION)
    catalog = aws_reference_catalog()
    assert isinstance(catalog, S3ReferenceCatalog) and catalog.profile == "aws"
    assert catalog.root == "s3://my-raw/references/"
    assert catalog.s3.meta.region_name == REGION
    given = boto3.client("s3", region_name=REGION)
    assert aws_reference_catalog(settings(), s3_client=given).s3 is given
    assert isinstance(reference_catalog("aws"), S3ReferenceCatalog)


def test_the_cli_registers_on_s3_and_prints_the_batch_commands(s3, fasta, monkeypatch, capsys):
    from seqflow.cli import main

    monkeypatch.setenv("SEQFLOW_PROFILE", "aws")
    for key, value in settings().values.items():
        if value:
            monkeypatch.setenv(f"AIRFLOW_VAR_SEQFLOW_{key.upper()}", value)
    assert main(["reference", "add", "toy", "--fasta", str(fasta), "--aligner", "bwa", "--ploidy", "chrM=1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("registered toy: 3 contig(s), 2,100 bp, ploidy 2 (chrM=1)")
    assert out[1] == "  fasta: s3://raw/references/toy/toy.fa"
    assert out[2].startswith("# the bwa index is not built yet")
    assert _parse_submit_job(out[3])[0]["jobDefinition"] == "sf-align-bwa" and len(out) == 4
    assert _keys(s3) == _full(CORE_FILES)

    assert main(["reference", "show", "toy", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["location"] == "s3://raw/references/toy/" and shown["indexes"] == {"bwa": False, "minimap2": False}
