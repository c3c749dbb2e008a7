"""The demo's genomes come from Debian packages and are registered in the reference catalogue."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from seqflow.demo.references import DEMO_GENOMES, contig_lengths, demo_genome, ensure_demo_reference
from seqflow.references import LocalReferenceCatalog


def test_lambda_is_registered_plain_fasta_with_index_md5_and_haploid(lambda_fasta: Path, references_root: Path):
    assert lambda_fasta == references_root / "lambda" / "lambda.fa"
    assert contig_lengths(lambda_fasta) == {"NC_001416.1": 48502}
    text = lambda_fasta.read_text()
    assert text.startswith(">NC_001416.1\n")
    body = text.split("\n", 1)[1].replace("\n", "")
    assert len(body) == 48502 and set(body) <= set("ACGTN")
    assert max(len(line) for line in text.splitlines()) == 60
    ref = LocalReferenceCatalog(references_root).require("lambda")
    assert ref.source == DEMO_GENOMES["lambda"].source
    assert ref.contigs[0].md5 == hashlib.md5(body.encode()).hexdigest()
    assert ref.ploidy.default == 1
    assert Path(ref.ploidy_file).read_text() == "*\t*\t*\t*\t1\n"


def test_registration_is_idempotent_and_needs_no_download_when_present(
        lambda_fasta: Path, references_root: Path, monkeypatch: pytest.MonkeyPatch):
    from seqflow.references import sources

    mtime = lambda_fasta.stat().st_mtime_ns

    def no_download(*args, **kwargs):
        raise AssertionError("a registered reference must not be fetched again")

    monkeypatch.setattr(sources, "cached_deb", no_download)
    assert ensure_demo_reference("lambda", references_root) == lambda_fasta
    assert lambda_fasta.stat().st_mtime_ns == mtime


def test_registration_from_cached_deb_needs_no_apt(references_root: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch):
    from seqflow.references import sources

    debs = tmp_path / "_debs"
    debs.mkdir()
    for deb in (references_root / "_debs").glob("bowtie2-examples_*.deb"):
        shutil.copy(deb, debs)
    calls = []
    real = sources.subprocess.run

    def spy(argv, *args, **kwargs):
        calls.append(argv)
        return real(argv, *args, **kwargs)

    monkeypatch.setattr(sources.subprocess, "run", spy)
    fasta = ensure_demo_reference("lambda", tmp_path)
    assert fasta.read_bytes() == (references_root / "lambda" / "lambda.fa").read_bytes()
    assert not any("apt-get" in str(argv[0]) for argv in calls)
    # nothing temporary is left beside the catalogue's folders
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["_debs", "lambda"]
    assert not [p for p in tmp_path.iterdir() if p.is_dir() and p.name.startswith(".")]


def test_unknown_demo_genome_names_the_known_ones(tmp_path: Path):
    with pytest.raises(ValueError, match="ecoli_k12_mg1655, lambda"):
        ensure_demo_reference("../etc", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_missing_member_in_package_is_a_clear_error_and_registers_nothing(
        references_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from seqflow.demo import references

    debs = tmp_path / "_debs"
    debs.mkdir()
    for deb in (references_root / "_debs").glob("bowtie2-examples_*.deb"):
        shutil.copy(deb, debs)
    broken = references.DemoGenome("lambda", "x", "deb://bowtie2-examples/usr/share/doc/nope.fa.gz", "LAM")
    monkeypatch.setitem(DEMO_GENOMES, "lambda", broken)
    with pytest.raises(ValueError, match=r"nope\.fa\.gz is missing from Debian package bowtie2-examples"):
        ensure_demo_reference("lambda", tmp_path)
    assert LocalReferenceCatalog(tmp_path).names() == []
    assert not (tmp_path / "lambda").exists()


def test_undownloadable_package_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from seqflow.demo import references

    missing = references.DemoGenome("lambda", "x", "deb://seqflow-no-such-package/a.fa.gz", "LAM")
    monkeypatch.setitem(DEMO_GENOMES, "lambda", missing)
    with pytest.raises(ValueError, match="'seqflow-no-such-package' could not be downloaded"):
        ensure_demo_reference("lambda", tmp_path)


def test_demo_genomes_name_a_debian_source_and_a_prefix():
    for name, genome in DEMO_GENOMES.items():
        assert genome.name == name and genome.source.startswith("deb://") and genome.sample_prefix
        assert demo_genome(name) is genome
