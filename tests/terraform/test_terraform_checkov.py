"""checkov over the whole tree: no failed check, every skip inline with a reason.

Runs the linter once for the module (it takes ~20-40 s) from its own virtual
environment, offline (--skip-download)."""

from __future__ import annotations

import json
import subprocess

import pytest

from tf_helpers import REPO, TERRAFORM

CHECKOV = REPO / ".venv-lint" / "bin" / "checkov"

# one worker runs every test of this module under `pytest -n`, so checkov runs once
pytestmark = pytest.mark.xdist_group("checkov")


@pytest.fixture(scope="module")
def report() -> dict:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run scripts/setup-venv.sh")
    done = subprocess.run(
        [str(CHECKOV), "--skip-download", "--framework", "terraform", "-d", str(TERRAFORM), "-o", "json"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.stdout.strip(), done.stderr[-2000:]
    parsed = json.loads(done.stdout)
    reports = parsed if isinstance(parsed, list) else [parsed]
    terraform = [r for r in reports if r.get("check_type") == "terraform"]
    assert terraform, f"checkov reported no terraform results: {done.stdout[:500]}"
    return terraform[0]


def test_checkov_reports_no_failed_check(report):
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range']}) {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    assert report["summary"]["failed"] == 0, "\n".join(failed)
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 0


def test_every_skip_is_inline_with_a_reason(report):
    for check in report["results"]["skipped_checks"]:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason.strip()) >= 15, f"{check['check_id']} on {check['resource']} is skipped without a reason"
