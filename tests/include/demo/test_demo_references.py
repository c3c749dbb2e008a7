"""Reference fetch from Debian data packages: names, index, idempotence, errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from seqflow.demo import references
from seqflow.demo.references import REFERENCES, contig_lengths, fetch_reference, simplify_contig_name


def test_lambda_is_plain_fasta_with_index_and_simple_contig(lambda_fasta: Path, references_root: Path):
    assert lambda_fasta == references_root / "lambda" / "lambda.fa"
    assert contig_lengths(lambda_fasta) == {"NC_001416.1": 48502}
    text = lambda_fasta.read_text()
    assert text.startswith(">NC_001416.1\n")
    body = text.split("\n", 1)[1].replace("\n", "")
    assert len(body) == 48502 and set(body) <= set("ACGTN")
    assert max(len(line) for line in text.splitlines()) == 60


def test_fetch_is_idempotent_and_needs_no_download_when_present(lambda_fasta: Path, references_root: Path,
                                                                 monkeypatch: pytest.MonkeyPatch):
    mtime = lambda_fasta.stat().st_mtime_ns

    def no_download(*args, **kwargs):
        raise AssertionError("a present reference must not be downloaded again")

    monkeypatch.setattr(references, "_cached_deb", no_download)
    assert fetch_reference("lambda", references_root) == lambda_fasta
    assert lambda_fasta.stat().st_mtime_ns == mtime


def test_fetch_rebuilds_from_cached_deb_without_apt(references_root: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch):
    debs = tmp_path / "_debs"
    debs.mkdir()
    for deb in (references_root / "_debs").glob("bowtie2-examples_*.deb"):
        shutil.copy(deb, debs)
    calls = []
    real = references.subprocess.run

    def spy(argv, *args, **kwargs):
        calls.append(argv)
        return real(argv, *args, **kwargs)

    monkeypatch.setattr(references.subprocess, "run", spy)
    fasta = fetch_reference("lambda", tmp_path)
    assert fasta == tmp_path / "lambda" / "lambda.fa"
    assert Path(f"{fasta}.fai").is_file()
    assert fasta.read_bytes() == (references_root / "lambda" / "lambda.fa").read_bytes()
    assert not any("apt-get" in str(argv[0]) for argv in calls)
    # nothing temporary is left beside the result
    assert sorted(p.name for p in fasta.parent.iterdir()) == ["lambda.fa", "lambda.fa.fai"]


def test_unknown_reference_names_the_known_ones(tmp_path: Path):
    with pytest.raises(ValueError, match="ecoli_k12_mg1655, lambda"):
        fetch_reference("../etc", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_missing_member_in_package_is_a_clear_error(references_root: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch):
    debs = tmp_path / "_debs"
    debs.mkdir()
    for deb in (references_root / "_debs").glob("bowtie2-examples_*.deb"):
        shutil.copy(deb, debs)
    broken = references.ReferenceSource("lambda", "x", "bowtie2-examples", "usr/share/doc/nope.fa.gz", "LAM")
    monkeypatch.setitem(REFERENCES, "lambda", broken)
    with pytest.raises(RuntimeError, match=r"nope\.fa\.gz is missing from Debian package bowtie2-examples"):
        fetch_reference("lambda", tmp_path)
    assert not (tmp_path / "lambda" / "lambda.fa").exists()


def test_undownloadable_package_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    missing = references.ReferenceSource("lambda", "x", "seqflow-no-such-package", "a.fa.gz", "LAM")
    monkeypatch.setitem(REFERENCES, "lambda", missing)
    with pytest.raises(RuntimeError, match="'seqflow-no-such-package' could not be downloaded"):
        fetch_reference("lambda", tmp_path)


@pytest.mark.parametrize(("header", "name"), [
    (">gi|9626243|ref|NC_001416.1| Enterobacteria phage lambda", "NC_001416.1"),
    (">K-12-MG1655", "K-12-MG1655"),
    (">chr1 some description", "chr1"),
    (">weird<name>=1,2", "weird_name__1_2"),
])
def test_contig_names_are_simplified(header: str, name: str):
    assert simplify_contig_name(header) == name


def test_registry_names_source_package_and_path():
    for name, source in REFERENCES.items():
        assert source.name == name and source.package and source.member.endswith(".gz") and source.description
