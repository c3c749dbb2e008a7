"""The Terraform tree checked by the real terraform binary and the real aws provider.

* ``terraform fmt -check -recursive`` over terraform/;
* ``terraform init -backend=false`` from the provider mirror and ``terraform
  validate`` of every module, the composition and both environments;
* ``terraform test`` of terraform/envs/{dev,prod}/tests: a plan of each
  environment with a mocked aws provider, asserting the buckets (SSE-KMS,
  TLS-only policies), the Batch queues (Spot, then On-Demand), the SSM keys the
  code reads and the IAM actions the code calls (both derived from the code by
  tf_expectations.py), the failure-only alert rules and the alarms.

Everything runs in a scratch copy of terraform/ (the repository's own
include/, mwaa/ and containers/ linked beside it), so no .terraform folder or
lock file lands in the working tree; stand-ins replace the build artifacts the
plan reads (the Glue wheel and bcftools bundle), and the HealthOmics workflow
bundle is built by the real terraform/scripts/build_workflow_bundle.py.
Validations run two at a time.

Without terraform or the provider mirror these tests skip and say so; set
SEQFLOW_TF_PLUGIN_MIRROR to use another mirror.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tf_expectations import expectations
from tf_helpers import ENVS, MODULES, REPO, STACK, TERRAFORM, parse

# one worker runs every terraform test: inits share the plugin cache
pytestmark = pytest.mark.xdist_group("terraform")

BINARY = shutil.which("terraform") or "/usr/local/bin/terraform"
MIRROR = Path(os.environ.get("SEQFLOW_TF_PLUGIN_MIRROR", "/opt/tf-plugins"))
# repeated inits link the provider from here instead of unpacking it again
PLUGIN_CACHE = Path(tempfile.gettempdir()) / "seqflow-terraform-plugin-cache"

HAVE_BINARY = Path(BINARY).is_file()
HAVE_MIRROR = (MIRROR / "registry.terraform.io" / "hashicorp" / "aws").is_dir()

needs_binary = pytest.mark.skipif(
    not HAVE_BINARY, reason=f"SKIPPED terraform fmt/validate/test: no terraform binary (looked for {BINARY})")
needs_mirror = pytest.mark.skipif(
    not (HAVE_BINARY and HAVE_MIRROR),
    reason=f"SKIPPED terraform init/validate/test: no terraform binary ({BINARY}) or no hashicorp/aws "
           f"provider in the mirror {MIRROR} (set SEQFLOW_TF_PLUGIN_MIRROR)")

#: every directory that `terraform validate` checks, relative to terraform/
CONFIGURATIONS = (
    [p.relative_to(TERRAFORM).as_posix() for p in sorted(MODULES.iterdir()) if (p / "versions.tf").is_file()]
    + ["modules/batch/steps", STACK.relative_to(TERRAFORM).as_posix()]
    + [p.relative_to(TERRAFORM).as_posix() for p in sorted(ENVS.iterdir())]
)


def _env(home: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(home), "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": str(home / "terraform.rc")}


def _terraform(args: list[str], cwd: Path, home: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([BINARY, *args], cwd=cwd, env=_env(home), capture_output=True, text=True,
                          timeout=timeout, check=False)


def _stand_ins(root: Path) -> None:
    """The files the plans read from dist/: stand-ins for the Glue artifacts, the real workflow bundle."""
    for env in sorted(ENVS.iterdir()):
        tfvars = parse(env / "terraform.tfvars")
        for relative in [*tfvars.get("glue_wheel_files", []), tfvars.get("glue_bcftools_archive_file")]:
            if relative:
                path = root / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("stand-in for the plan tests (the plan only hashes it)\n")
    done = subprocess.run(
        ["python3", str(REPO / "terraform" / "scripts" / "build_workflow_bundle.py"),
         "--out", str(root / "dist" / "omics" / "germline.zip")],
        capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


# session scope: under xdist the group's tests of other files may run in between,
# which would tear a module-scoped workspace down and build it again
@pytest.fixture(scope="session")
def workspace(tmp_path_factory) -> dict:
    """A copy of terraform/ beside links to the repository's inputs, initialised everywhere."""
    if not (HAVE_BINARY and HAVE_MIRROR):
        pytest.skip("SKIPPED: terraform or its provider mirror is missing (see the module docstring)")
    root = tmp_path_factory.mktemp("terraform-ws")
    home = root / "home"
    home.mkdir()
    PLUGIN_CACHE.mkdir(parents=True, exist_ok=True)
    (home / "terraform.rc").write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{MIRROR}"\n  }}\n}}\n'
        f'plugin_cache_dir = "{PLUGIN_CACHE}"\n')
    shutil.copytree(TERRAFORM, root / "terraform", ignore=shutil.ignore_patterns(".terraform", "*.tfstate*",
                                                                                 ".terraform.lock.hcl"))
    for name in ("include", "mwaa", "containers"):
        (root / name).symlink_to(REPO / name)
    _stand_ins(root)

    def init(relative: str) -> tuple[str, subprocess.CompletedProcess]:
        return relative, _terraform(["init", "-backend=false", "-input=false", "-no-color"],
                                    root / "terraform" / relative, home)

    # one after the other, and under a lock: terraform's plugin cache is not safe
    # for concurrent inits (another xdist worker may be initialising too); each
    # init only links the provider from the cache, about a second
    with open(PLUGIN_CACHE / ".seqflow-init.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        inits = dict(init(d) for d in CONFIGURATIONS)

    def validate(relative: str) -> tuple[str, subprocess.CompletedProcess | None]:
        if inits[relative].returncode != 0:
            return relative, None
        return relative, _terraform(["validate", "-json", "-no-color"], root / "terraform" / relative, home)

    # the two largest first, so that the pool ends together
    order = sorted(CONFIGURATIONS, key=lambda d: not d.startswith("envs/"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        validations = dict(pool.map(validate, order))
    return {"root": root, "home": home, "inits": inits, "validations": validations}


@needs_binary
def test_terraform_fmt_is_clean():
    home = Path(tempfile.mkdtemp(prefix="seqflow-tf-fmt-"))
    done = _terraform(["fmt", "-check", "-recursive", "-diff", "-no-color", str(TERRAFORM)], REPO, home)
    shutil.rmtree(home, ignore_errors=True)
    assert done.returncode == 0, f"terraform fmt would change:\n{done.stdout}{done.stderr}"


@needs_mirror
def test_every_configuration_initialises_from_the_mirror(workspace):
    failed = {d: r.stderr[-2000:] for d, r in workspace["inits"].items() if r.returncode != 0}
    assert not failed, failed
    # the provider came from the mirror (an init cannot reach a registry here)
    lock = (workspace["root"] / "terraform" / "envs" / "dev" / ".terraform.lock.hcl").read_text()
    assert 'provider "registry.terraform.io/hashicorp/aws"' in lock
    assert "awscc" not in lock and "archive" not in lock


@needs_mirror
@pytest.mark.parametrize("relative", CONFIGURATIONS)
def test_terraform_validate(workspace, relative):
    done = workspace["validations"][relative]
    if done is None:
        pytest.fail(f"init failed: {workspace['inits'][relative].stderr[-2000:]}")
    report = json.loads(done.stdout)
    problems = [f"{d['severity']}: {d['summary']}: {d.get('detail', '')} "
                f"({(d.get('range') or {}).get('filename')}:{((d.get('range') or {}).get('start') or {}).get('line')})"
                for d in report["diagnostics"]]
    assert report["valid"], "\n".join(problems)
    # deprecated arguments (a 6.x rename, say) show up as warnings: none is allowed
    assert report["warning_count"] == 0, "\n".join(problems)


@pytest.fixture(scope="session")
def expected_vars(workspace) -> Path:
    path = workspace["root"] / "expected.tfvars.json"
    path.write_text(json.dumps(expectations(), indent=2))
    return path


@needs_mirror
@pytest.mark.parametrize("env", sorted(p.name for p in ENVS.iterdir()))
def test_terraform_test_plans_the_environment_with_a_mocked_provider(workspace, expected_vars, env):
    assert (ENVS / env / "tests" / "plan.tftest.hcl").is_file(), f"envs/{env} has no plan test"
    done = _terraform(["test", "-no-color", f"-var-file={expected_vars}"],
                      workspace["root"] / "terraform" / "envs" / env, workspace["home"], timeout=600)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "1 passed, 0 failed" in done.stdout, done.stdout[-3000:]


def test_the_expectations_come_from_the_code():
    """What the plans are checked against is the code's, and the scan finds the calls it must."""
    from seqflow.aws import config_keys

    found = expectations()
    assert set(found["expected_ssm_names"]) == set(config_keys.AWS_CONFIG_KEYS)
    actions = set(found["expected_iam_actions"])
    # one call of every kind the scan knows: a provider operator, a hook method, a boto3 operation
    assert {"batch:SubmitJob", "s3:ListBucket", "omics:StartRun", "ssm:GetParameters"} <= actions
    # SubmitJob with tags (the cost and task tags) needs batch:TagResource; a retried task lists its jobs
    assert {"batch:TagResource", "batch:ListJobs"} <= actions
    assert found["expected_secrets_backend_kwargs"] == config_keys.secrets_backend_kwargs()
    assert all(":" in a for a in actions)
