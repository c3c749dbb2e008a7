"""``seqflow reference ...`` as a user types it (local profile)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqflow.cli import main


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SEQFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SEQFLOW_PROFILE", "local")
    return tmp_path / "home"


def test_add_list_show_map_default_remove(home: Path, two_contig_fasta: Path, capsys):
    assert main(["reference", "add", "toy", "--fasta", str(two_contig_fasta), "--ploidy", "2",
                 "--ploidy", "chrM=1", "--aligner", "bwa"]) == 0
    out = capsys.readouterr().out
    assert "registered toy: 2 contig(s), 4,000 bp, ploidy 2 (chrM=1)" in out
    assert (home / "references" / "toy" / "toy.fa.bwt").is_file()

    assert main(["reference", "show", "toy", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["indexes"] == {"bwa": True, "minimap2": False} and len(shown["contigs"]) == 2

    assert main(["reference", "map", "Sample_Project", "P1", "toy"]) == 0
    assert main(["reference", "default", "toy"]) == 0
    capsys.readouterr()
    assert main(["reference", "list"]) == 0
    listing = capsys.readouterr().out
    assert "toy" in listing and "default: toy" in listing and "map:     Sample_Project=P1 -> toy" in listing

    assert main(["reference", "remove", "toy"]) == 1  # still named by the rules
    assert "default or mapping table" in capsys.readouterr().err
    assert main(["reference", "default", "--unset"]) == 0
    assert main(["reference", "map", "Sample_Project", "P1", "--unset"]) == 0
    assert main(["reference", "remove", "toy"]) == 0
    assert not (home / "references" / "toy").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["reference", "add", "../x", "--fasta", "{fasta}"], "invalid reference name '../x'"),
    (["reference", "add", "x", "--fasta", "s3://b/k.fa"], "s3:// sources need the aws profile"),
    (["reference", "add", "x", "--fasta", "{fasta}", "--ploidy", "chrZ=1"], "chrZ"),
    (["reference", "show", "nope"], "reference 'nope' is not registered"),
    (["reference", "map", "Sample_Project", "P1", "nope"], "reference 'nope' is not registered"),
])
def test_errors_are_one_clear_line_and_exit_1(home: Path, two_contig_fasta: Path, capsys, argv, message):
    assert main([a.format(fasta=two_contig_fasta) for a in argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("seqflow reference: error: ") and message in err and "Traceback" not in err
    assert not (home / "references").exists() or not [
        p for p in (home / "references").iterdir() if p.is_dir() and p.name != "_debs"]
