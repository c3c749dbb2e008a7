"""The ``make-demo-data`` and ``score`` subcommands."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from seqflow.demo import commands


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqflow")
    commands.register(parser.add_subparsers(dest="command", required=True))
    return parser


def test_make_demo_data_writes_into_the_local_profile(tmp_path: Path, lambda_fasta: Path,
                                                      monkeypatch: pytest.MonkeyPatch, capsys):
    home = tmp_path / "home"
    # pre-seed the reference cache so that no package is downloaded
    shutil.copytree(lambda_fasta.parent, home / "references" / "lambda")
    monkeypatch.setenv("SEQFLOW_HOME", str(home))
    args = _parser().parse_args(["make-demo-data", "--reference", "lambda", "--date", "2024-02-29",
                                 "--samples", "3", "--coverage", "1", "--seed", "7",
                                 "--instrument", "A00999", "--run-number", "12"])
    assert args.handler(args) == 0
    runs = list((home / "landing").iterdir())
    assert len(runs) == 1 and runs[0].name.startswith("240229_A00999_0012_A")
    assert (runs[0] / "CopyComplete.txt").is_file()
    assert sorted(p.name for p in (home / "truth" / runs[0].name).glob("*.vcf.gz")) == [
        "LAM-S01.truth.vcf.gz", "LAM-S02.truth.vcf.gz", "LAM-S03.truth.vcf.gz"]
    manifest = json.loads((home / "truth" / runs[0].name / "demo.json").read_text())
    assert manifest["seed"] == 7 and manifest["reference"] == "lambda"
    assert str(runs[0]) in capsys.readouterr().out


def test_bad_date_and_reference_are_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["make-demo-data", "--date", "2024-13-01"])
    assert "YYYY-MM-DD" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parser().parse_args(["make-demo-data", "--reference", "hg38"])


def test_score_prints_the_table_and_json(lambda_run, lambda_fasta: Path, capsys):
    run, truth, _ = lambda_run
    vcf = truth / "LAM-S01.truth.vcf.gz"
    args = _parser().parse_args(["score", str(vcf), str(vcf), str(lambda_fasta)])
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["type", "TP", "FP", "FN", "precision", "recall", "F1"]
    assert out.splitlines()[1].split()[-1] == "1.0000"
    args = _parser().parse_args(["score", "--json", str(vcf), str(vcf), str(lambda_fasta)])
    assert args.handler(args) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["ALL"]["f1"] == 1.0 and scores["ALL"]["fn"] == 0 and scores["INDEL"]["tp"] > 0
