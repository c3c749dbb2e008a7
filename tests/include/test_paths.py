"""Safe path building: nothing user-supplied may climb out of its root."""

from __future__ import annotations

import re

import pytest

from seqflow.paths import (
    PIPELINE_VERSION_PATTERN,
    RUN_ID_PATTERN,
    SAMPLE_ID_PATTERN,
    UnsafePathError,
    check_run_id,
    check_sample_id,
    is_valid_run_id,
    is_valid_sample_id,
    result_prefix,
    safe_join,
)

RUN = "241120_A01234_0042_AHXXXXXDSX"


def test_safe_join_builds_paths_below_root(tmp_path):
    assert safe_join(tmp_path, "results", RUN) == tmp_path / "results" / RUN
    assert safe_join(tmp_path, "results/a/b") == tmp_path / "results" / "a" / "b"


@pytest.mark.parametrize(
    ("parts", "rule"),
    [
        (("/etc/passwd",), "absolute"),
        (("..",), "'..'"),
        (("a", "../../etc"), "'..'"),
        (("a/./b",), "'.'"),
        (("",), "empty path part"),
        (("a//b",), "empty component"),
        (("a\x00b",), "control character"),
        (("a\\..\\b",), "backslash"),
        ((), "no path parts"),
    ],
)
def test_safe_join_rejects_unsafe_parts(tmp_path, parts, rule):
    with pytest.raises(UnsafePathError, match=re.escape(rule)):
        safe_join(tmp_path, *parts)


def test_safe_join_rejects_non_string_parts(tmp_path):
    with pytest.raises(UnsafePathError, match="not a string"):
        safe_join(tmp_path, 42)  # type: ignore[arg-type]


def test_safe_join_rejects_symlink_resolving_outside_root(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    with pytest.raises(UnsafePathError, match="outside"):
        safe_join(root, "escape", "file.txt")
    # a symlink that stays inside the root is fine
    (root / "inside").mkdir()
    (root / "alias").symlink_to(root / "inside")
    assert safe_join(root, "alias", "f") == root / "alias" / "f"


def test_result_prefix_carries_the_whole_analysis_identity():
    from seqflow.identity import AnalysisIdentity

    identity = AnalysisIdentity(RUN, "1.0.0", "GRCh38", "bwa", "bcftools")
    assert result_prefix(identity) == f"results/{RUN}/1.0.0/GRCh38/bwa-bcftools"
    assert result_prefix(identity, "S1-a_b") == f"results/{RUN}/1.0.0/GRCh38/bwa-bcftools/S1-a_b"
    other = AnalysisIdentity(RUN, "1.0.0", "T2T-CHM13", "bwa", "bcftools")
    assert result_prefix(other, "S1") != result_prefix(identity, "S1")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"run_id": "../../etc"}, "invalid run id"),
        ({"run_id": RUN + "\n"}, "invalid run id"),
        ({"pipeline_version": "1.0"}, "invalid pipeline version"),
        ({"pipeline_version": "1.0.0/.."}, "invalid pipeline version"),
        ({"reference": "../hg38"}, "invalid reference name"),
        ({"reference": "a/b"}, "invalid reference name"),
        ({"reference": "a..b"}, "invalid reference name"),
        ({"aligner": "bwa-mem"}, "invalid aligner name"),
        ({"caller": "../x"}, "invalid caller name"),
    ],
)
def test_analysis_identity_validates_each_part(fields, message):
    from seqflow.identity import AnalysisIdentity

    values = {"run_id": RUN, "pipeline_version": "1.0.0", "reference": "GRCh38", "aligner": "bwa",
              "caller": "bcftools", **fields}
    with pytest.raises(UnsafePathError, match=message):
        AnalysisIdentity(**values)


@pytest.mark.parametrize("sample", ["../S1", "S1/x", "", "S1\n"])
def test_result_prefix_validates_the_sample(sample):
    from seqflow.identity import AnalysisIdentity

    with pytest.raises(UnsafePathError, match="invalid sample id"):
        result_prefix(AnalysisIdentity(RUN, "1.0.0", "GRCh38", "bwa", "bcftools"), sample)


@pytest.mark.parametrize("sample", ["S1", "a", "A-2", "x_y", "9" * 100])
def test_valid_sample_ids(sample):
    assert is_valid_sample_id(sample)
    assert check_sample_id(sample) == sample


@pytest.mark.parametrize("sample", ["", "-rf", "_x", "a b", "a/b", "..", "a.b", "é", "9" * 101, None, 5])
def test_invalid_sample_ids(sample):
    assert not is_valid_sample_id(sample)


@pytest.mark.parametrize(
    "run_id",
    [RUN, "241120_M01234_0042_000000000-ABCDE", "20241120_LH00123_0012_A22FTGWLT3"],
)
def test_valid_run_ids(run_id):
    assert is_valid_run_id(run_id)
    assert check_run_id(run_id) == run_id


@pytest.mark.parametrize(
    "run_id",
    ["", "../../etc", "run;rm -rf", "241120_A01234_0042", "241120_A01234_0042_AHX/..", "1" * 200, None],
)
def test_invalid_run_ids(run_id):
    assert not is_valid_run_id(run_id)


def test_patterns_are_anchored_for_json_schema():
    # JSON schema "pattern" is unanchored (re.search): every pattern must anchor itself
    for pattern in (RUN_ID_PATTERN, SAMPLE_ID_PATTERN, PIPELINE_VERSION_PATTERN):
        assert pattern.startswith("^") and pattern.endswith("$")
    assert re.search(SAMPLE_ID_PATTERN, "../S1") is None
