"""The reference catalogue: registering a genome, and everything that must not get registered."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from seqflow.references import Ploidy, ReferenceError, UnknownReference
from seqflow.references.resolve import MappingRule, ReferenceRules

from .conftest import gzip_file


def _nothing_left(catalog) -> None:
    """No reference, no temporary folder: a failed add leaves the catalogue as it was."""
    assert catalog.names() == []
    leftovers = [p.name for p in catalog.root.iterdir() if p.is_dir()] if catalog.root.exists() else []
    assert [n for n in leftovers if n != "_debs"] == []


def test_add_registers_normalised_fasta_md5_ploidy_and_indexes(catalog, two_contig_fasta: Path):
    ref = catalog.add("toy.v1", str(two_contig_fasta), ploidy=Ploidy.parse(["2", "chrM=1"]))
    folder = catalog.root / "toy.v1"
    assert ref.location == str(folder) and ref.source == str(two_contig_fasta.resolve())
    assert [(c.name, c.length) for c in ref.contigs] == [("chr1", 3000), ("chrM", 1000)]
    body = "".join(Path(ref.fasta).read_text().split("\n>chrM\n")[0].splitlines()[1:])
    assert ref.contigs[0].md5 == hashlib.md5(body.encode()).hexdigest() and body[200] == "R"
    # samtools agrees on the sequences: faidx index and the stored FASTA
    assert Path(ref.fasta + ".fai").read_text().splitlines()[1].split("\t")[:2] == ["chrM", "1000"]
    assert Path(ref.ploidy_file).read_text() == "chrM\t1\t1000\t*\t1\n*\t*\t*\t*\t2\n"
    assert catalog.indexes(ref) == {"bwa": True, "minimap2": True}
    meta = json.loads((folder / "reference.json").read_text())
    assert meta["contigs"][1] == {"name": "chrM", "length": 1000, "md5": ref.contigs[1].md5}
    assert catalog.names() == ["toy.v1"] and catalog.require("toy.v1") == ref


def test_gzip_and_file_uri_sources_give_the_same_reference(catalog, two_contig_fasta: Path):
    plain = catalog.add("a", str(two_contig_fasta), aligners=())
    gz = catalog.add("b", f"file://{gzip_file(two_contig_fasta)}", aligners=())
    assert [c.md5 for c in plain.contigs] == [c.md5 for c in gz.contigs]
    assert Path(plain.fasta).read_bytes() == Path(gz.fasta).read_bytes()
    assert catalog.indexes(gz) == {"bwa": False, "minimap2": False}


def test_ploidy_file_is_accepted_by_bcftools(catalog, two_contig_fasta: Path, tmp_path: Path):
    ref = catalog.add("toy", str(two_contig_fasta), ploidy=Ploidy.parse(["chrM=1"]), aligners=())
    empty = tmp_path / "empty.vcf"
    empty.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1>\n##contig=<ID=chrM>\n"
                     "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n")
    proc = subprocess.run(["bcftools", "call", "-m", "--ploidy-file", ref.ploidy_file, str(empty)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_ensure_index_builds_a_missing_index_once(catalog, two_contig_fasta: Path):
    ref = catalog.add("toy", str(two_contig_fasta), aligners=("bwa",))
    assert catalog.indexes(ref) == {"bwa": True, "minimap2": False}
    catalog.ensure_index(ref, "minimap2")
    mmi = Path(ref.fasta + ".mmi")
    assert mmi.is_file()
    before = mmi.stat().st_mtime_ns
    catalog.ensure_index(ref, "minimap2")
    assert mmi.stat().st_mtime_ns == before


@pytest.mark.parametrize("name", ["../etc", "a/b", "a..b", ".hidden", "", "-rf", "x" * 65, "名前"])
def test_unsafe_names_are_refused(catalog, two_contig_fasta: Path, name: str):
    with pytest.raises(ReferenceError, match="invalid reference name"):
        catalog.add(name, str(two_contig_fasta))
    _nothing_left(catalog)


@pytest.mark.parametrize(("content", "message"), [
    (b"#!/bin/sh\necho not a genome\n", "not a FASTA file"),
    (b">a\nACGT\n>a\nACGT\n", "duplicate contig"),
    (b">a\nACGT\n>b\n\n>c\nAC\n", "empty contig"),
    (b"", "no FASTA record"),
])
def test_bad_fasta_registers_nothing(catalog, tmp_path: Path, content: bytes, message: str):
    bad = tmp_path / "bad.fa"
    bad.write_bytes(content)
    with pytest.raises(ReferenceError, match=message) as err:
        catalog.add("bad", str(bad))
    assert "bad.fa" in str(err.value)
    _nothing_left(catalog)


def test_s3_source_is_refused_on_the_local_profile(catalog):
    with pytest.raises(ReferenceError, match="s3:// sources need the aws profile"):
        catalog.add("hg38", "s3://bucket/hg38.fa.gz")
    _nothing_left(catalog)


@pytest.mark.parametrize(("source", "message"), [
    ("/no/such/genome.fa", "no such file"),
    ("http://example.org/genome.fa", "unsupported scheme 'http'"),
    ("deb://", "expected deb://<package>/<path inside the package>"),
])
def test_unreadable_sources_are_clear_errors(catalog, source: str, message: str):
    with pytest.raises(ReferenceError, match=message):
        catalog.add("x", source)
    _nothing_left(catalog)


def test_a_failed_index_build_registers_nothing(catalog, two_contig_fasta: Path, monkeypatch):
    from seqflow.references import catalog as catalog_module

    def broken(fasta, aligner):
        raise RuntimeError("bwa index: out of memory")

    monkeypatch.setattr(catalog_module, "build_index", broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        catalog.add("toy", str(two_contig_fasta))
    _nothing_left(catalog)


def test_ploidy_naming_an_unknown_contig_is_refused(catalog, two_contig_fasta: Path):
    with pytest.raises(ReferenceError, match="chrY"):
        catalog.add("toy", str(two_contig_fasta), ploidy=Ploidy.parse(["chrY=1"]))
    _nothing_left(catalog)


@pytest.mark.parametrize(("specs", "message"), [
    (["3"], "ploidy must be one of"), (["chrM=x"], "expected N or CONTIG=N"), (["0"], "default ploidy"),
    (["chrM=1", "chrM=2"], "given twice"),
])
def test_bad_ploidy_specs(specs, message):
    with pytest.raises(ReferenceError, match=message):
        Ploidy.parse(specs)


def test_already_registered_needs_replace_and_replace_swaps_whole(catalog, two_contig_fasta: Path, tmp_path: Path):
    catalog.add("toy", str(two_contig_fasta), aligners=())
    with pytest.raises(ReferenceError, match="already registered"):
        catalog.add("toy", str(two_contig_fasta), aligners=())
    other = tmp_path / "other.fa"
    other.write_text(">x\nACGTACGT\n")
    ref = catalog.add("toy", str(other), aligners=(), replace=True)
    assert [c.name for c in ref.contigs] == ["x"]
    assert sorted(p.name for p in catalog.root.iterdir() if p.is_dir()) == ["toy"]


def test_unknown_reference_lists_registered_ones_and_the_add_command(catalog, two_contig_fasta: Path):
    catalog.add("toy", str(two_contig_fasta), aligners=())
    with pytest.raises(UnknownReference) as err:
        catalog.require("GRCh38")
    message = str(err.value)
    assert "'GRCh38' is not registered" in message and "registered references: toy" in message
    assert "seqflow reference add GRCh38 --fasta" in message


def test_remove_deletes_and_rules_protect_what_they_name(catalog, two_contig_fasta: Path):
    catalog.add("toy", str(two_contig_fasta), aligners=())
    catalog.save_rules(ReferenceRules(default="toy"))
    with pytest.raises(ReferenceError, match="default or mapping table"):
        catalog.remove("toy")
    catalog.save_rules(ReferenceRules())
    catalog.remove("toy")
    assert catalog.names() == [] and not (catalog.root / "toy").exists()
    with pytest.raises(UnknownReference):
        catalog.remove("toy")


def test_rules_round_trip_and_must_name_registered_references(catalog, two_contig_fasta: Path):
    catalog.add("toy", str(two_contig_fasta), aligners=())
    rules = ReferenceRules().with_default("toy").with_rule(MappingRule("Sample_Project", "P1", "toy"))
    catalog.save_rules(rules)
    assert catalog.rules() == rules
    with pytest.raises(UnknownReference, match="'GRCh38' is not registered"):
        catalog.save_rules(rules.with_rule(MappingRule("Sample_Project", "P2", "GRCh38")))
    assert catalog.rules() == rules
