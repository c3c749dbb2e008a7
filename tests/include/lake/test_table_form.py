"""Staged files written in the table's own form are committed as they are, with the same rows as a rewrite."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from helpers import IDENTITY  # noqa: E402

from seqflow.lake import Lake, convert_vcf_to_parquet, iceberg, publish_staged, publish_vcf
from seqflow.lake.api import staged


def _rows(lake: Lake):
    data = lake.table("variants").scan().to_arrow()
    data = data.append_column("_alt", pc.binary_join(data.column("alt"), ","))
    return data.sort_by([(c, "ascending") for c in ("sample_id", "contig", "pos", "ref", "_alt")]).combine_chunks()


def _paths(lake: Lake) -> list[Path]:
    return [Path(p.removeprefix("file://")) for p in iceberg.live_files(lake.table("variants"))]


def test_table_form_files_are_committed_unchanged_with_the_rows_of_a_rewrite(data_dir, extdata, tmp_path):
    for vcf in (data_dir / "edge.vcf", data_dir / "sites_only.vcf", extdata / "chr22.vcf.gz"):
        adopted, rewritten = Lake.local(tmp_path / vcf.name / "a"), Lake.local(tmp_path / vcf.name / "r")
        publish_vcf(vcf, adopted, identity=IDENTITY, sample_id=None)  # staged in the table's form
        stage = tmp_path / vcf.name / "stage"
        converted = convert_vcf_to_parquet(vcf, stage, identity=IDENTITY, sample_id=None)  # staged in VARIANT_SCHEMA
        publish_staged(rewritten, stage, IDENTITY, [p.sample_id for p in converted.partitions])
        got = _rows(adopted)
        assert got.equals(_rows(rewritten)) and got.num_rows == converted.rows
        # the manifests' entries describe the committed files (rows from each file's footer)
        tbl = adopted.table("variants")
        assert [t.file.record_count for t in tbl.scan().plan_files()] == [pq.read_metadata(p).num_rows for p in _paths(adopted)]


def test_a_staged_file_is_rewritten_when_it_is_not_the_tables_form_or_names_another_sample(data_dir, tmp_path):
    lake = Lake.local(tmp_path / "lake")
    tbl = lake.ensure("variants")
    stage = tmp_path / "stage"
    convert_vcf_to_parquet(data_dir / "edge.vcf", stage, identity=IDENTITY, sample_id="S1", lake_table=tbl)
    convert_vcf_to_parquet(data_dir / "edge.vcf", tmp_path / "plain", identity=IDENTITY, sample_id="S1")
    [table_form] = staged(stage, IDENTITY, ["S1"])["S1"]
    [plain] = staged(tmp_path / "plain", IDENTITY, ["S1"])["S1"]
    values = {**iceberg.identity_values(IDENTITY), "sample_id": "S1"}
    assert iceberg._is_table_file(tbl, pq.read_metadata(table_form), values)
    assert not iceberg._is_table_file(tbl, pq.read_metadata(plain), values)  # VARIANT_SCHEMA: no ids, no provenance
    assert not iceberg._is_table_file(tbl, pq.read_metadata(table_form), {**values, "sample_id": "S2"})
    other = {**iceberg.identity_values(replace(IDENTITY, aligner="minimap2")), "sample_id": "S1"}
    assert not iceberg._is_table_file(tbl, pq.read_metadata(table_form), other)
    # a spec on a data column (contig) splits files: the table-form file is rewritten, rows kept
    by_contig = Lake.local(tmp_path / "contig", partition=(*iceberg.PARTITION_SPEC, ("contig", "identity", "contig")))
    ctbl = by_contig.ensure("variants")
    stage2 = tmp_path / "stage2"
    convert_vcf_to_parquet(data_dir / "edge.vcf", stage2, identity=IDENTITY, sample_id="S1", lake_table=ctbl)
    publish_staged(by_contig, stage2, IDENTITY, ["S1"])
    publish_staged(lake, stage, IDENTITY, ["S1"])
    assert _rows(by_contig).equals(_rows(lake))
    contigs = set(_rows(lake).column("contig").to_pylist())
    assert len(_paths(by_contig)) == len(contigs) and len(_paths(lake)) == 1


def test_a_table_declared_before_seqflow_gets_its_spec_and_properties_and_takes_the_converters_files(data_dir, tmp_path):
    """As Terraform declares the tables (Glue's CREATE: Iceberg metadata from the columns, all optional,
    its own field ids and order, unpartitioned, no seqflow properties): the first Lake.ensure aligns it."""
    from pyiceberg.schema import Schema, assign_fresh_schema_ids
    from pyiceberg.types import NestedField

    lake = Lake.local(tmp_path / "lake")
    fields = list(iceberg.iceberg_schema("variants").fields)[::-1]
    declared = assign_fresh_schema_ids(Schema(*[NestedField(i + 1, f.name, f.field_type, required=False)
                                                for i, f in enumerate(fields)]))
    lake.catalog.create_namespace(lake.namespace)
    lake.catalog.create_table(lake.identifier("variants"), schema=declared, location=lake.table_location("variants"))
    assert lake.table("variants").spec().fields == ()
    publish_vcf(data_dir / "edge.vcf", lake, identity=IDENTITY, sample_id=None)
    tbl = lake.table("variants")
    assert [f.name for f in tbl.spec().fields] == [name for _, _, name in iceberg.PARTITION_SPEC]
    assert all(tbl.properties.get(k) == v for k, v in iceberg.table_properties("variants").items() if k != "format-version")
    assert tbl.schema().find_field("contig").field_id != iceberg.iceberg_schema("variants").find_field("contig").field_id
    rows = tbl.scan(row_filter="sample_id == 'S1'").to_arrow()
    reference = Lake.local(tmp_path / "ref")
    publish_vcf(data_dir / "edge.vcf", reference, identity=IDENTITY, sample_id=None)
    expected = reference.table("variants").scan(row_filter="sample_id == 'S1'").to_arrow()
    assert rows.num_rows == expected.num_rows > 0
    assert rows.select(expected.schema.names).to_pylist() == expected.to_pylist()
    # the converter wrote the declared table's form, so the commit took its files unchanged
    path = _paths(lake)[0]
    assert pq.read_schema(path).field("contig").metadata[b"PARQUET:field_id"] == str(
        tbl.schema().find_field("contig").field_id).encode()
