"""FASTA checks and normalisation: what a reference may hold, and the MD5 of each sequence."""

from __future__ import annotations

import hashlib
import io

import pytest

from seqflow.references.fasta import FastaError, normalise_fasta, simplify_contig_name


def normalise(text: bytes):
    out = io.BytesIO()
    contigs = normalise_fasta(io.BytesIO(text), out, origin="in.fa")
    return contigs, out.getvalue().decode()


def test_normalised_upper_case_60_columns_and_md5_of_the_upper_cased_sequence():
    seq = "acgtNNRYacgt" * 20
    contigs, text = normalise(f">chr1 desc\n{seq[:50]}\n{seq[50:]}\n\n>chr2\nAC\n".encode())
    assert [(c.name, c.length) for c in contigs] == [("chr1", 240), ("chr2", 2)]
    assert contigs[0].md5 == hashlib.md5(seq.upper().encode()).hexdigest()
    lines = text.splitlines()
    assert lines[0] == ">chr1" and all(len(line) == 60 for line in lines[1:5]) and lines[5] == ">chr2"
    assert "".join(lines[1:5]) == seq.upper()  # IUPAC codes kept, as refget/SAM M5 hash them


@pytest.mark.parametrize(("text", "rule", "line"), [
    (b"", "no FASTA record", None),
    (b"hello world\nthis is not a genome\n", "not a FASTA file", 1),
    (b"\x1f\x8b\x08\x00binary", "not a FASTA file", 1),
    (b">a\nACGT\n>b\nAC\n>a\nGG\n", "duplicate contig", 5),
    (b">a x\nACGT\n>a y\nAC\n", "duplicate contig", 3),
    (b">a\nACGT\n>b\n>c\nAC\n", "empty contig", 3),
    (b">a\nACGT\n>b\n", "empty contig", 3),
    (b">a\nACGT\nAC GT\n", "invalid sequence character", 3),
    (b">a\nACGTX\n", "invalid sequence character", 2),
    (b">\nACGT\n", "header without a name", 1),
])
def test_bad_fasta_names_file_line_and_rule(text: bytes, rule: str, line: int | None):
    with pytest.raises(FastaError) as err:
        normalise(text)
    assert err.value.rule == rule and err.value.line == line
    assert str(err.value).startswith("in.fa") and rule in str(err.value)


@pytest.mark.parametrize(("header", "name"), [
    (">gi|9626243|ref|NC_001416.1| Enterobacteria phage lambda", "NC_001416.1"),
    (">K-12-MG1655", "K-12-MG1655"),
    (">chr1 some description", "chr1"),
    (">weird<name>=1,2", "weird_name__1_2"),
])
def test_contig_names_are_simplified(header: str, name: str):
    assert simplify_contig_name(header) == name
