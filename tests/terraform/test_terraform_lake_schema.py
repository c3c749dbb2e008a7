"""The Glue tables declare the lake's Arrow schemas (seqflow.lake.schema)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tf_helpers import MODULES, locals_of

schema = pytest.importorskip("seqflow.lake.schema")


def hive_type(arrow: pa.DataType) -> str:
    """Hive/Athena spelling of an Arrow type as the converter writes it."""
    simple = {
        pa.string(): "string",
        pa.int64(): "bigint",
        pa.int32(): "int",
        pa.int16(): "smallint",
        pa.float64(): "double",
        pa.bool_(): "boolean",
    }
    if arrow in simple:
        return simple[arrow]
    if pa.types.is_list(arrow):
        return f"array<{hive_type(arrow.value_type)}>"
    if pa.types.is_map(arrow):
        return f"map<{hive_type(arrow.key_type)},{hive_type(arrow.item_type)}>"
    raise AssertionError(f"no Hive type for {arrow}")


def test_tables_match_the_lake_schemas():
    tables = locals_of(MODULES / "glue_athena")["tables"]
    assert set(tables) == set(schema.TABLE_SCHEMAS)
    for name, arrow_schema in schema.TABLE_SCHEMAS.items():
        declared = [(c["name"], c["type"]) for c in tables[name]["columns"]]
        expected = [(f.name, hive_type(f.type)) for f in arrow_schema]
        assert declared == expected, name
        assert tuple(tables[name]["partition_keys"]) == tuple(schema.TABLE_PARTITION_KEYS[name]), name


def test_tables_match_the_athena_ddl():
    """Glue tables made by Terraform and the DDL Athena users run declare the same table."""
    athena = pytest.importorskip("seqflow.catalog.athena")
    tables = locals_of(MODULES / "glue_athena")["tables"]
    for name in schema.TABLE_SCHEMAS:
        ddl = athena.table_def(name)
        declared = [(c["name"], c["type"].replace(",", ", ")) for c in tables[name]["columns"]]
        assert declared == ddl.columns, name
        assert list(tables[name]["partition_keys"]) == [k for k, _ in ddl.partition_keys], name


def test_partitions_are_keyed_by_the_whole_analysis_identity():
    identity = pytest.importorskip("seqflow.identity")
    tables = locals_of(MODULES / "glue_athena")["tables"]
    assert tables["variants"]["partition_keys"] == [*identity.FIELDS, "sample_id"]
    assert tables["qc_metrics"]["partition_keys"] == list(identity.FIELDS)
    for name, table in tables.items():
        # Athena refuses a column that is both a partition key and a data column
        assert not {c["name"] for c in table["columns"]} & set(table["partition_keys"]), name
