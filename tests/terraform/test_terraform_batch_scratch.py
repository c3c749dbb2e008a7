"""Per-job scratch on Batch: the container entrypoint gives each job its own
directory on the instance's scratch disk and removes it when the job ends
(success, failure or SIGTERM), and the launch template's user data puts
Docker's storage on the scratch disk and shortens the ECS task cleanup."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time

import pytest

from tf_helpers import MODULES, REPO, resources

STAGER = REPO / "containers" / "_common" / "s3_stage.py"


def _stager():
    spec = importlib.util.spec_from_file_location("s3_stage_scratch", STAGER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _NoS3:
    """An S3 client for a job without inputs or uploads: any call is a test failure."""

    def __getattr__(self, name):
        raise AssertionError(f"unexpected S3 call {name}")


@pytest.mark.parametrize("status", [0, 1, 3])
def test_each_job_works_in_its_own_directory_which_is_removed_afterwards(tmp_path, monkeypatch, status):
    monkeypatch.setenv("SEQFLOW_WORKDIR", str(tmp_path))
    monkeypatch.delenv("SEQFLOW_INPUTS", raising=False)
    # an output URI makes the entrypoint stage (without it and inputs it is a pass-through)
    monkeypatch.setenv("SEQFLOW_OUTPUT_URI", "s3://bucket/prefix/")
    monkeypatch.setenv("AWS_BATCH_JOB_ID", "a1b2c3d4-job")
    seen = tmp_path / "seen"
    script = f'pwd > {seen}; head -c 1048576 /dev/zero > inputs/big.fastq.gz; exit {status}'

    class Recorder(_NoS3):
        def upload_file(self, *args, **kwargs):
            raise AssertionError("no file under outputs/ to upload")

    assert _stager().main(["sh", "-c", script], client=Recorder()) == status
    workdir = seen.read_text().strip()
    assert os.path.basename(workdir).startswith("job-a1b2c3d4-job-")
    assert os.path.dirname(workdir) == str(tmp_path)
    # the job directory with its staged input is gone; nothing else is left behind
    assert not os.path.exists(workdir)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seen"]


def test_keep_scratch_keeps_the_job_directory_for_debugging(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQFLOW_WORKDIR", str(tmp_path))
    monkeypatch.setenv("SEQFLOW_OUTPUT_URI", "s3://bucket/prefix/")
    monkeypatch.setenv("SEQFLOW_KEEP_SCRATCH", "1")
    monkeypatch.delenv("AWS_BATCH_JOB_ID", raising=False)
    assert _stager().main(["sh", "-c", "echo kept > inputs/x; exit 1"], client=_NoS3()) == 1
    (kept,) = tmp_path.iterdir()
    assert kept.name.startswith("job-") and (kept / "inputs" / "x").read_text() == "kept\n"


def test_a_terminated_job_still_removes_its_scratch(tmp_path):
    """Batch stops a job with SIGTERM (TerminateJob, timeout, Spot reclaim)."""
    marker = tmp_path / "started"
    env = {"PATH": "/usr/bin:/bin", "SEQFLOW_WORKDIR": str(tmp_path / "scratch"),
           "SEQFLOW_OUTPUT_URI": "s3://bucket/prefix/", "AWS_BATCH_JOB_ID": "term"}
    script = f"head -c 1048576 /dev/zero > inputs/big; touch {marker}; sleep 60"
    child = subprocess.Popen([sys.executable, str(STAGER), "sh", "-c", script], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), child.stderr.read() if child.poll() is not None else "the job never started"
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 128 + signal.SIGTERM
    assert "terminated (SIGTERM)" in err
    assert list((tmp_path / "scratch").iterdir()) == []


def test_launch_template_user_data_moves_docker_storage_and_shortens_task_cleanup():
    batch = MODULES / "batch"
    template = (batch / "user_data.tftpl").read_text()
    assert "Content-Type: multipart/mixed" in template  # Batch requires MIME multi-part user data
    assert "mount -o noatime \"$device\" \"$target\"" in template and "target=/var/lib/docker" in template
    assert "%{ for name, value in ecs_agent_config ~}" in template and ">> /etc/ecs/ecs.config" in template
    launch = resources(batch)[("aws_launch_template", "this")]
    assert launch["user_data"] == "${base64encode(local.user_data)}"
    assert launch["metadata_options"][0]["http_tokens"] == "required"
