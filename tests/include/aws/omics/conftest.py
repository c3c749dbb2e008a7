"""Keep every test of the HealthOmics support away from real AWS.

moto has no HealthOmics backend, so the tests stub the hook's botocore client with
``botocore.stub.Stubber``; should a call ever slip past a stub, it goes to a closed
localhost port with dummy credentials instead of to AWS.
"""

from __future__ import annotations

import socket

import pytest

from omics_testkit import REGION


def _unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def offline_aws(monkeypatch, tmp_path):
    """Dummy credentials, a fixed region and a dead endpoint for every boto3 client."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_unused_port()}")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # an aws_default connection without secrets, so hooks resolve it without a metadata DB
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", '{"conn_type": "aws"}')
