"""Fixtures of the aws profile's unit tests: moto for every service it has, dummy
credentials, and a recorder of the exact AWS calls made. No test reaches real AWS."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# the HealthOmics tests import their helper module by name (--import-mode=importlib
# leaves sys.path alone)
_HERE = Path(__file__).resolve().parent
for _path in (str(_HERE), str(_HERE / "omics")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from aws_helpers import REGION  # noqa: E402


@pytest.fixture
def aws_env(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def moto(aws_env):
    from moto import mock_aws

    with mock_aws(config={"batch": {"use_docker": False}}):
        yield


@pytest.fixture
def calls(monkeypatch):
    """Every botocore API call: a list of (service, operation, params)."""
    import botocore.client

    recorded: list[tuple[str, str, dict]] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        recorded.append((self.meta.service_model.service_name, operation_name, dict(api_params)))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return recorded
