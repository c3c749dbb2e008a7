"""The converter against bcftools query, row by row, and on malformed input."""

from __future__ import annotations

import gzip
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from helpers import IDENTITY, RUN, bcftools_rows, lake_rows, normalise  # noqa: E402

from seqflow.lake import VARIANT_SCHEMA, AnalysisIdentity, VcfFormatError, convert_vcf_to_parquet
from seqflow.lake.schema import VARIANT_PARTITION_KEYS


def convert(vcf, lake, identity=IDENTITY, **kw):
    return convert_vcf_to_parquet(vcf, lake, identity=identity, **{"sample_id": None, **kw})


def _same(g: str, w: str) -> bool:
    """Equal, or the same number: bcftools prints floats with 6 significant
    digits (QUAL 66011.1 as 66011), the lake keeps the file's value."""
    if g == w:
        return True
    try:
        return all(math.isclose(float(a), float(b), rel_tol=1e-5) for a, b in zip(g.split(","), w.split(",", ), strict=True))
    except ValueError:
        return False


def assert_matches_bcftools(vcf: Path, lake: Path, result, expect_samples: list[str] | None):
    samples = [p.sample_id for p in result.partitions]
    if expect_samples is not None:
        assert samples == expect_samples
    for part in result.partitions:
        files = list(part.path(lake).glob("*.parquet"))
        assert len(files) == 1
        vcf_sample = part.sample_id if expect_samples else None
        want = normalise(bcftools_rows(vcf, vcf_sample))
        got = normalise(lake_rows(files[0], vcf_sample is not None))
        assert len(got) == len(want) == part.rows
        for g, w in zip(got, want):
            assert len(g) == len(w) and all(map(_same, g, w)), f"{vcf.name} sample {part.sample_id}: {g} != {w}"


def test_edge_cases_match_bcftools_row_by_row(data_dir, tmp_path):
    vcf = data_dir / "edge.vcf"
    result = convert(vcf, tmp_path)
    assert result.records == 7 and result.rows == 21
    assert_matches_bcftools(vcf, tmp_path, result, ["S1", "S2", "S3"])


def test_edge_case_values(data_dir, tmp_path):
    result = convert(data_dir / "edge.vcf", tmp_path)
    s1 = pq.read_table(result.partitions[0].path(tmp_path)).to_pylist()
    s3 = pq.read_table(result.partitions[2].path(tmp_path)).to_pylist()
    first, multi, deletion, symbolic, no_alt, haploid, mnv = s1
    assert (first["pos"], first["start"], first["end"]) == (100, 99, 100)
    # the map holds the INFO fields that are not promoted to typed columns
    assert first["info"] == [("DB", "1")]
    assert (first["info_af"], first["info_ac"], first["info_an"]) == ([0.5], [3], 6)
    assert (first["info_dp"], first["info_mq"]) == (30, 60.0)
    # the analysis identity and the sample are partition values, not stored per row
    assert not set(first) & set(VARIANT_PARTITION_KEYS)
    # multi-allelic: nothing truncated, Number=A/R/G lists complete
    assert multi["alt"] == ["A", "T"] and multi["ids"] == ["rs2", "rs3"]
    assert multi["filters"] == ["q10", "s50"] and multi["info_af"] == [0.25, 0.25] and multi["info_ac"] == [1, 1]
    assert multi["gt"] == [1, 2] and multi["ad"] == [0, 4, 4] and multi["pl"] == [90, 40, 80, 40, 0, 70]
    assert dict(multi["info"])["ANN"] == "x|y,z"
    # missing values are nulls, never 0 or ""
    assert deletion["qual"] is None and deletion["filters"] is None and deletion["ids"] is None
    assert deletion["ad"] == [3, None] and deletion["gq"] is None and deletion["info_dp"] is None
    assert (deletion["start"], deletion["end"]) == (299, 303)
    # symbolic allele: end from INFO/END; other FORMAT fields in the map
    assert symbolic["alt"] == ["TAA", "<DEL>"] and symbolic["end"] == 450
    assert symbolic["format"] == [("PS", "400")]
    assert no_alt["alt"] == [] and no_alt["info"] is None
    assert haploid["gt"] == [0] and haploid["gt_phased"] is False and haploid["pl"] == [0, 20]
    assert haploid["info_af"] is None  # AF=. is missing, not 0
    assert mnv["gt_phased"] is True and mnv["format"] == [("FT", "PASS")]
    assert s3[1]["gt"] == [None, None] and s3[4]["gt"] == [None, 0] and s3[5]["gt"] == [None]
    assert s3[0]["gt_phased"] is True


def test_files_have_the_lake_schema_and_zstd(data_dir, tmp_path):
    result = convert(data_dir / "edge.vcf", tmp_path)
    f = pq.ParquetFile(next(result.partitions[0].path(tmp_path).glob("*.parquet")))
    assert f.schema_arrow.remove_metadata().equals(VARIANT_SCHEMA.remove_metadata(), check_metadata=False) or [
        (a.name, str(a.type)) for a in f.schema_arrow
    ] == [(a.name, str(a.type)) for a in VARIANT_SCHEMA]
    assert f.metadata.row_group(0).column(0).compression == "ZSTD"


def test_sites_only(data_dir, tmp_path):
    vcf = data_dir / "sites_only.vcf"
    result = convert(vcf, tmp_path)
    assert [p.sample_id for p in result.partitions] == ["sites"]
    assert_matches_bcftools(vcf, tmp_path, result, None)
    rows = pq.read_table(result.partitions[0].path(tmp_path)).to_pylist()
    assert len(rows) == 4 and all(r["gt"] is None and r["format"] is None for r in rows)


def test_vcf_gz_and_bcf_give_identical_rows(data_dir, tmp_path):
    gz, bcf = tmp_path / "edge.vcf.gz", tmp_path / "edge.bcf"
    subprocess.run(["bcftools", "view", "--no-version", "-Oz", "-o", gz, data_dir / "edge.vcf"], check=True)
    subprocess.run(["bcftools", "view", "--no-version", "-Ob", "-o", bcf, data_dir / "edge.vcf"], check=True)
    tables = []
    for i, path in enumerate([data_dir / "edge.vcf", gz, bcf]):
        r = convert(path, tmp_path / f"lake{i}")
        tables.append(pq.read_table(r.partitions[1].path(tmp_path / f"lake{i}")).to_pylist())
    assert tables[0] == tables[1] == tables[2]


def test_sample_selection_and_renaming(data_dir, tmp_path):
    r = convert(data_dir / "edge.vcf", tmp_path, sample_id="S2")
    assert [(p.sample_id, p.rows) for p in r.partitions] == [("S2", 7)]
    with pytest.raises(VcfFormatError, match="not among"):
        convert(data_dir / "edge.vcf", tmp_path, sample_id="NOPE")
    single = tmp_path / "one.vcf"
    subprocess.run(["bcftools", "view", "--no-version", "-s", "S3", "-o", single, data_dir / "edge.vcf"], check=True)
    r = convert(single, tmp_path, sample_id="LIMS-0042")
    rows = pq.read_table(r.partitions[0].path(tmp_path)).to_pylist()
    assert r.partitions[0].sample_id == "LIMS-0042" and rows[2]["gt"] == [1, 1]


def test_real_1000_genomes_chr22_five_phased_samples(extdata, tmp_path):
    vcf = extdata / "chr22.vcf.gz"
    result = convert(vcf, tmp_path)
    assert result.records == 10376 and result.rows == 5 * 10376
    assert_matches_bcftools(vcf, tmp_path, result, ["HG00096", "HG00097", "HG00099", "HG00100", "HG00101"])


def test_blocks_read_small_and_grouped_give_the_same_rows(extdata, tmp_path, monkeypatch):
    """Small CSV reads concatenated into larger blocks (row groups) change
    nothing but the row groups: every column, INFO map included, is equal."""
    from seqflow.lake import converter

    vcf = extdata / "chr22.vcf.gz"
    plain = convert(vcf, tmp_path / "plain", block_size=1 << 16)
    monkeypatch.setattr(converter, "READ_BLOCK_SIZE", 1 << 16)
    grouped = convert(vcf, tmp_path / "grouped", block_size=1 << 18)
    for a, b in zip(plain.partitions, grouped.partitions):
        fa = pq.ParquetFile(next(a.path(tmp_path / "plain").glob("*.parquet")))
        fb = pq.ParquetFile(next(b.path(tmp_path / "grouped").glob("*.parquet")))
        assert fb.num_row_groups < fa.num_row_groups
        assert fa.read().equals(fb.read())


def test_info_map_holds_the_fields_not_promoted(tmp_path):
    vcf = tmp_path / "flag_dp.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=1000>\n"
        '##INFO=<ID=DP,Number=0,Type=Flag,Description="a Flag, so not promoted">\n'
        '##INFO=<ID=AN,Number=1,Type=Integer,Description="promoted">\n'
        '##INFO=<ID=XX,Number=1,Type=String,Description="not promoted">\n'
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
        "chr1\t10\t.\tA\tG\t50\tPASS\tDP;AN=2;XX=a\tGT\t0/1\n"
        "chr1\t20\t.\tA\tG\t50\tPASS\tAN=2\tGT\t0/1\n"
    )
    result = convert(vcf, tmp_path / "lake")
    rows = pq.read_table(result.partitions[0].path(tmp_path / "lake")).to_pylist()
    assert rows[0]["info"] == [("DP", "1"), ("XX", "a")] and rows[0]["info_an"] == 2
    assert rows[0]["info_dp"] is None
    assert rows[1]["info"] is None and rows[1]["info_an"] == 2


def test_real_hapmap_exome_many_samples(extdata, tmp_path):
    vcf = extdata / "hapmap_exome_chr22.vcf.gz"
    result = convert(vcf, tmp_path)
    assert len(result.partitions) == 22 and result.rows == 22 * 1011
    samples = subprocess.run(["bcftools", "query", "-l", vcf], capture_output=True, text=True, check=True).stdout.split()
    assert_matches_bcftools(vcf, tmp_path, result, samples)


def test_real_complete_genomics_symbolic_alleles(extdata, tmp_path):
    vcf = extdata / "chr7-sub.vcf.gz"
    result = convert(vcf, tmp_path)
    samples = subprocess.run(["bcftools", "query", "-l", vcf], capture_output=True, text=True, check=True).stdout.split()
    assert_matches_bcftools(vcf, tmp_path, result, samples)
    rows = pq.read_table(result.partitions[0].path(tmp_path)).to_pylist()
    assert any(r["alt"] and r["alt"][0].startswith("<") for r in rows)
    assert any(r["format"] and dict(r["format"]).get("CGA_CP") == "2" for r in rows)


@pytest.mark.parametrize(
    ("name", "line", "message"),
    [
        # htslib refuses a FORMAT number it cannot read: so does the converter
        ("bad_integer.vcf", 24, "FORMAT/GQ value '4x' is not an Integer"),
        ("undeclared_info.vcf", 26, "INFO 'XX' is not defined"),
        ("missing_column.vcf", 27, "does not match the number of samples"),
    ],
)
def test_malformed_input_names_file_and_line_and_publishes_nothing(data_dir, tmp_path, name, line, message):
    with pytest.raises(VcfFormatError) as err:
        convert(data_dir / name, tmp_path)
    assert f"{data_dir / name}:{line}:" in str(err.value)
    assert message in str(err.value)
    assert not (tmp_path / "variants").exists()
    staging = tmp_path / "_staging"
    assert not staging.exists() or not any(staging.iterdir())


def test_truncated_gzip_fails_with_line(extdata, tmp_path):
    data = (extdata / "chr22.vcf.gz").read_bytes()
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VcfFormatError) as err:
        convert(cut, tmp_path / "lake")
    text = str(err.value)
    assert text.startswith(f"{cut}:") and "truncated" in text
    line = int(text.split(":")[1])
    header = 0
    with gzip.open(cut, "rt") as fh:  # the reported line is past the header, inside the data
        while fh.readline().startswith("#"):
            header += 1
    assert header < line < header + 10376
    assert not (tmp_path / "lake" / "variants").exists()


def test_unsafe_partition_values_are_refused(data_dir, tmp_path):
    with pytest.raises(ValueError, match="invalid run id"):
        AnalysisIdentity("../etc", "1.0.0", "GRCh38", "bwa", "bcftools")
    with pytest.raises(ValueError, match="invalid reference"):
        AnalysisIdentity(RUN, "1.0.0", "../GRCh38", "bwa", "bcftools")
    with pytest.raises(ValueError, match="not allowed"):
        convert(data_dir / "edge.vcf", tmp_path, sample_id="../etc")
    assert not (tmp_path / "variants").exists()


def test_identity_is_required_as_an_analysis_identity(data_dir, tmp_path):
    with pytest.raises(TypeError, match="AnalysisIdentity"):
        convert(data_dir / "edge.vcf", tmp_path, identity=IDENTITY.to_dict())
    with pytest.raises(TypeError):  # the pre-identity keyword arguments are gone
        convert_vcf_to_parquet(data_dir / "edge.vcf", tmp_path, run_id=RUN, sample_id=None, pipeline_version="1.0.0",
                               reference="GRCh38", caller="bcftools")
    assert not (tmp_path / "variants").exists()


def test_a_vcf_with_a_header_and_no_records_gives_an_empty_partition(tmp_path):
    """A sample with no variants: bcftools reads the file, the lake gets zero rows, not an error."""
    vcf = tmp_path / "none.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=c1,length=100>\n"
                   '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n")
    assert subprocess.run(["bcftools", "view", "-H", str(vcf)], capture_output=True).returncode == 0
    result = convert(vcf, tmp_path / "lake", sample_id="S1")
    [part] = result.partitions
    assert part.rows == 0 and result.records == 0
    table = pq.read_table(part.path(tmp_path / "lake") / part.files[0])
    assert table.num_rows == 0 and table.schema.names == pq.read_schema(
        part.path(tmp_path / "lake") / part.files[0]).names


@pytest.mark.parametrize(
    ("name", "warning"),
    [
        # bcftools reads all three (with a warning or without): they convert, the values as the file has them
        ("bad_header.vcf", "FORMAT/GQ has Type=Int, which is not a VCF type: read as String"),
        ("bad_number_r.vcf", "FORMAT/AD has a number of values other than Number=R gives"),
        ("bad_number_g.vcf", "FORMAT/PL has a number of values other than Number=G gives"),
    ],
)
def test_files_bcftools_reads_convert_with_a_warning(data_dir, tmp_path, name, warning):
    from seqflow.lake.converter import SampleOutput, convert_stream
    from seqflow.lake.header import read_header

    vcf = data_dir / name
    assert subprocess.run(["bcftools", "view", str(vcf)], capture_output=True).returncode == 0
    header = read_header(vcf)
    outputs = [SampleOutput(s, tmp_path / f"{s}.parquet") for s in header.samples]
    stats = convert_stream(vcf, header, outputs)
    assert stats.records == 7 and any(m.startswith(warning) for m in stats.warnings), stats.warnings
    s1 = pq.read_table(outputs[0].path).to_pylist()
    if name == "bad_header.vcf":  # GQ read as String: its text in the map, not in the typed column
        assert s1[0]["gq"] is None and dict(s1[0]["format"])["GQ"] == "40"
    if name == "bad_number_r.vcf":
        assert s1[1]["ad"] == [0, 4]
    if name == "bad_number_g.vcf":
        assert s1[1]["pl"] == [90, 40, 80, 40, 0]
