"""Sample names in any script: a safe sample_id for paths and filters, the original in sample_name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from helpers import IDENTITY  # noqa: E402

from seqflow.catalog import run_query
from seqflow.lake import Lake, convert_vcf_to_parquet, iceberg, publish_staged, publish_vcf
from seqflow.lake.staging import check_value, safe_sample_id

NAMES = ["Échantillon-1", "患者,2", "sample three", "HG00096"]  # accents, CJK and a comma, a space, a safe one


def _vcf(path: Path, names: list[str]) -> Path:
    path.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=1000>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(names) + "\n"
        "chr1\t10\t.\tA\tG\t50\tPASS\t.\tGT\t0/1\t1/1\t0/0\t./.\n"
        "chr1\t20\t.\tC\tT\t50\tPASS\t.\tGT\t1/1\t0/1\t0/1\t0/0\n", encoding="utf-8")
    assert subprocess.run(["bcftools", "view", "-H", str(path)], capture_output=True).returncode == 0
    return path


def test_safe_ids_are_the_name_when_safe_else_a_distinct_safe_mapping():
    ids = [safe_sample_id(n) for n in NAMES]
    assert ids[3] == "HG00096" and ids[0].startswith("Echantillon_1-") and ids[2].startswith("sample_three-")
    assert all(check_value("sample_id", i) == i for i in ids) and len(set(ids)) == len(ids)
    assert safe_sample_id("患者,2") != safe_sample_id("患者,3") and safe_sample_id("a" * 300) != safe_sample_id("a" * 301)
    with pytest.raises(ValueError):
        safe_sample_id("")


def test_a_vcf_with_sample_names_in_any_script_publishes_with_the_names_kept(tmp_path):
    vcf = _vcf(tmp_path / "utf8.vcf", NAMES)
    lake_root = tmp_path / "lake"
    result = publish_vcf(vcf, Lake.local(lake_root), identity=IDENTITY, sample_id=None)
    assert sorted(p.sample_id for p in result.partitions) == sorted(safe_sample_id(n) for n in NAMES)
    cols, rows = run_query(lake_root, "SELECT sample_id, sample_name, pos, gt FROM variants ORDER BY sample_name, pos")
    got = {(r[1], r[2]): (r[0], r[3]) for r in rows}
    assert got[("患者,2", 10)] == (safe_sample_id("患者,2"), [1, 1])
    assert got[("Échantillon-1", 20)] == (safe_sample_id("Échantillon-1"), [1, 1])
    assert got[("HG00096", 10)] == ("HG00096", [None, None])
    assert {r[1] for r in rows} == set(NAMES)
    # staged in the plain form (no table given), the name travels in the file's metadata to the commit
    stage = tmp_path / "stage"
    converted = convert_vcf_to_parquet(vcf, stage, identity=IDENTITY, sample_id=None)
    plain = Lake.local(tmp_path / "plain")
    publish_staged(plain, stage, IDENTITY, [p.sample_id for p in converted.partitions])
    data = plain.table("variants").scan(selected_fields=("sample_id", "sample_name")).to_arrow()
    assert sorted(set(zip(*data.to_pydict().values()))) == sorted((safe_sample_id(n), n) for n in NAMES)


def test_a_table_made_before_sample_name_gets_the_column_and_old_rows_read_null(data_dir, tmp_path):
    from pyiceberg.schema import Schema

    lake_root = tmp_path / "lake"
    lake = Lake.local(lake_root)
    old = iceberg.iceberg_schema("variants")
    old = Schema(*[f for f in old.fields if f.name != "sample_name"])
    lake.catalog.create_namespace(lake.namespace)
    tbl = lake.catalog.create_table(lake.identifier("variants"), schema=old, location=lake.table_location("variants"),
                                    partition_spec=iceberg.partition_spec(old, iceberg.PARTITION_SPEC),
                                    properties=iceberg.table_properties("variants"))
    # a file of the old schema, as the lake held before (rewritten path: no sample_name)
    import pyarrow.parquet as pq

    stage = tmp_path / "stage"
    converted = convert_vcf_to_parquet(data_dir / "edge.vcf", stage, identity=IDENTITY, sample_id="S1")
    [staged_file] = list(converted.partitions[0].path(stage).glob("*.parquet"))
    batch = pq.read_table(staged_file)
    writer = iceberg.DataFileWriter(tbl, {**iceberg.identity_values(IDENTITY), "sample_id": "S1"})
    schema = iceberg.arrow_schema("variants").remove(iceberg.arrow_schema("variants").get_field_index("sample_name"))
    writer.write(iceberg.with_provenance(batch, {**iceberg.identity_values(IDENTITY), "sample_id": "S1"}, schema))
    iceberg.commit_replace(tbl, {**iceberg.identity_values(IDENTITY), "sample_id": ["S1"]}, writer.close())
    assert "sample_name" not in {f.name for f in lake.table("variants").schema().fields}
    # the next writer adds the column; the old rows read it as null, with pyiceberg and on DuckDB
    vcf = _vcf(tmp_path / "utf8.vcf", NAMES)
    publish_vcf(vcf, lake, identity=IDENTITY, sample_id=None)
    assert lake.table("variants").schema().find_field("sample_name").optional
    _, rows = run_query(lake_root, "SELECT sample_id, count(*), count(sample_name), min(sample_name) FROM variants "
                                   "GROUP BY 1 ORDER BY 1")
    by_id = {r[0]: r[1:] for r in rows}
    assert by_id["S1"] == (7, 0, None)
    assert by_id[safe_sample_id("患者,2")] == (2, 2, "患者,2")
    assert lake.table("variants").scan(row_filter="sample_id == 'S1'").to_arrow().column("sample_name").null_count == 7
