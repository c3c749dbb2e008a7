"""The aws profile's backend: the raw and results buckets in S3, DynamoDB, the S3 reference catalogue.

Settings are read once per backend (one ``load_settings()``), when a method
first needs them, never at DAG parse time.
"""

from __future__ import annotations

import dataclasses
import tempfile
from functools import cached_property
from pathlib import Path

from seqflow.aws.settings import AWS_CONN_ID, ENGINES, load_settings
from seqflow.backends import RunNotInRawStorage
from seqflow.identity import AnalysisIdentity
from seqflow.samplesheet import SampleSheet, SampleSheetError, parse_sample_sheet

SAMPLE_SHEET = "SampleSheet.csv"


_INTEGER_TYPES = ("tinyint", "smallint", "integer", "int", "bigint")
_FLOAT_TYPES = ("real", "float", "double", "decimal")


def _typed(value: str | None, kind: str):
    """An Athena result cell (always text) as the JSON value DuckDB gives the local profile."""
    if value is None:
        return None
    kind = kind.lower().split("(", 1)[0]
    try:
        if kind in _INTEGER_TYPES:
            return int(value)
        if kind in _FLOAT_TYPES:
            return float(value)
    except ValueError:  # not a number after all: keep the text rather than lose it
        return value
    if kind == "boolean":
        return value.lower() == "true"
    return value


class AwsBackend:
    """Storage, registry and references of the aws profile."""

    profile = "aws"
    engines = ENGINES
    #: the steps run in Batch or HealthOmics, which write to S3
    results_root = ""
    scratch_root = ""

    def __init__(self, settings=None, s3_hook=None):
        self._settings = settings
        self._s3_hook = s3_hook
        #: run id -> its keys in the raw bucket: one listing per run and backend (a task), however
        #: many of the sheet, the files and the inputs a task body asks for
        self._listed: dict[str, list[str]] = {}

    @cached_property
    def settings(self):
        return self._settings or load_settings()

    @cached_property
    def s3(self):
        if self._s3_hook is not None:
            return self._s3_hook
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=AWS_CONN_ID)

    def default_engine(self) -> str:
        return self.settings.engine

    def registry(self):
        from seqflow.aws.registry import aws_registry

        return aws_registry(self.settings)

    def references(self):
        from seqflow.aws.references import aws_reference_catalog

        return aws_reference_catalog(self.settings, s3_client=self.s3.get_conn())

    def run_uri(self, run_id: str) -> str:
        return self.settings.raw_run_uri(run_id)

    def raw_runs(self) -> list[str]:
        from pathlib import PurePosixPath

        from seqflow.runfolder import is_run_folder_name

        prefixes = self.s3.list_prefixes(bucket_name=self.settings.require("raw_bucket"),
                                         prefix=self.settings.raw_prefix_norm, delimiter="/") or []
        return sorted(n for n in (PurePosixPath(p).name for p in prefixes) if is_run_folder_name(n))

    def exists(self, uri: str) -> bool:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        return bool(self.s3.check_for_key(key=key, bucket_name=bucket))

    def alert(self, message: dict) -> None:
        """A log line, and the SNS topic when one is configured."""
        import logging

        from seqflow.aws.alerts import publish_alert

        logging.getLogger("seqflow.alerts").error("ALERT seqflow: %s", message)
        topic = self.settings.get("alerts_topic_arn")
        if topic:
            publish_alert(message, topic)

    def _run_keys(self, run_id: str) -> list[str]:
        if run_id in self._listed:
            return self._listed[run_id]
        bucket, prefix = self.settings.require("raw_bucket"), self.settings.raw_run_prefix(run_id)
        keys = self.s3.list_keys(bucket_name=bucket, prefix=prefix) or []
        if not keys:
            raise RunNotInRawStorage(
                f"run {run_id} is not in raw storage (nothing under s3://{bucket}/{prefix});"
                " ingest it first with the daily ingest DAG"
            )
        self._listed[run_id] = keys
        return keys

    def run_files(self, run_id: str) -> list[str]:
        prefix = self.settings.raw_run_prefix(run_id)
        return sorted(key[len(prefix):] for key in self._run_keys(run_id) if not key.endswith("/"))

    def read_sample_sheet(self, run_id: str) -> SampleSheet:
        """Download and parse the sheet. Small objects (< 128 KiB) are never moved to Glacier by
        S3 Lifecycle's default minimum size, so the sheet is readable even when the FASTQs are archived."""
        bucket, prefix = self.settings.require("raw_bucket"), self.settings.raw_run_prefix(run_id)
        uri = f"s3://{bucket}/{prefix}{SAMPLE_SHEET}"
        if prefix + SAMPLE_SHEET not in self._run_keys(run_id):
            raise RunNotInRawStorage(f"run {run_id} has no {uri}")
        with tempfile.TemporaryDirectory(prefix="seqflow-sheet-") as tmp:
            self.s3.download_file(key=prefix + SAMPLE_SHEET, bucket_name=bucket, local_path=tmp,
                                  preserve_file_name=True, use_autogenerated_subdir=False)
            local = Path(tmp) / SAMPLE_SHEET
            try:
                sheet = parse_sample_sheet(local)
            except SampleSheetError as exc:
                # name the object the user can open, not the deleted download
                raise SampleSheetError(uri, exc.line, exc.rule, exc.detail) from None
        # errors about its samples (params.py) name the sheet by its path: the S3 object
        return dataclasses.replace(sheet, path=uri)

    def results_uri(self, identity: AnalysisIdentity, sample_id: str | None = None) -> str:
        return self.settings.results_uri(identity, sample_id)

    # -- lake and outputs -------------------------------------------------------------------

    def lake_uri(self) -> str:
        return self.settings.lake_uri()

    def converter_job_args(self, identity: AnalysisIdentity, samples: list[dict]) -> dict[str, str]:
        """One Glue job run for the whole analysis: the manifest of its samples (VCF and QC files) written to
        ``<lake>/_manifests/…/<digest>.json``, and the run's arguments naming it (seqflow.glue.manifest)."""
        from seqflow.glue.manifest import Manifest, SampleEntry, job_arguments, manifest_uri

        manifest = Manifest(identity, tuple(SampleEntry(s["sample_id"], s["vcf"], s.get("qc")) for s in samples))
        uri = manifest_uri(self.lake_uri(), manifest)
        self.write_text(uri, manifest.to_json())
        return job_arguments(manifest, uri, lake_uri=self.lake_uri(), database=self.settings.require("glue_database"))

    def register_partitions(self, partitions, *, glue_client=None) -> dict:
        """Check the Glue job's commit: its result names exactly these samples of the analysis and a
        ``variants`` snapshot, and the tables are Iceberg tables of the Glue database. (The job itself
        commits, in one Iceberg commit; there are no partitions to register.)"""
        import json

        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        from seqflow.glue.manifest import check_result, result_uri

        partitions = list(partitions)
        identities = {p.identity for p in partitions}
        if len(identities) != 1:
            raise ValueError(f"one analysis at a time, not {sorted(i.label() for i in identities)}")
        [identity] = identities
        uri = result_uri(self.lake_uri(), identity)
        try:
            result = json.loads(self.read_text(uri))
        except Exception as exc:  # missing or unreadable: the job did not finish its commit
            raise RuntimeError(f"{identity.label()}: no converter result at {uri} ({exc}); see the Glue job's log") from exc
        check_result(result, identity, [p.sample_id for p in partitions])
        glue = glue_client or AwsBaseHook(aws_conn_id=AWS_CONN_ID, client_type="glue").conn
        database = self.settings.require("glue_database")
        for table in dict.fromkeys([*sorted({p.table for p in partitions}), "qc_metrics"]):
            params = glue.get_table(DatabaseName=database, Name=table)["Table"].get("Parameters", {})
            if params.get("table_type", "").upper() != "ICEBERG" or not params.get("metadata_location"):
                raise RuntimeError(f"{database}.{table} is not an Iceberg table (parameters {params})")
        return result

    def query_rows(self, query_execution_id, *, athena_hook=None) -> list[dict]:
        """The rows of a finished Athena query, typed by its column metadata (the first row is the header).

        Every page of the result (GetQueryResults returns at most 1000 rows a call).
        Raises when the query did not succeed, so a QC summary never silently lacks its counts.
        """
        if not query_execution_id:
            return []
        from airflow.providers.amazon.aws.hooks.athena import AthenaHook

        hook = athena_hook or AthenaHook(aws_conn_id=AWS_CONN_ID)
        pages = hook.get_query_results_paginator(query_execution_id)
        if pages is None:
            raise RuntimeError(f"Athena query {query_execution_id} did not succeed: it has no results to read")
        rows: list[list[str | None]] = []
        types: list[str] = []
        for page in pages:
            result = page.get("ResultSet", {})
            if not types:
                types = [c.get("Type", "varchar") for c in result.get("ResultSetMetadata", {}).get("ColumnInfo", [])]
            rows.extend([c.get("VarCharValue") for c in r.get("Data", [])] for r in result.get("Rows", []))
        if not rows:
            return []
        header, body = rows[0], rows[1:]
        types = types or ["varchar"] * len(header)
        return [{str(name): _typed(value, kind) for name, value, kind in zip(header, row, types)} for row in body]

    def read_text(self, uri: str) -> str:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        return self.s3.read_key(key=key, bucket_name=bucket)

    def write_text(self, uri: str, text: str) -> None:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        self.s3.load_string(text, key=key, bucket_name=bucket, replace=True)

    def step_costs(self, run_plan: dict, vcfs: list[dict]) -> list[dict]:
        """The ``step_costs`` rows of the analysis: its Batch jobs or HealthOmics runs, priced
        (seqflow.aws.costs)."""
        from seqflow.aws.costs import aws_step_costs

        return aws_step_costs(run_plan, vcfs, self.settings)

    def publish_step_costs(self, identity: AnalysisIdentity, rows: list[dict], *, lake=None) -> dict:
        """``step_costs.json`` beside the results, and the rows in the lake's ``step_costs`` Iceberg table
        (one commit replacing the analysis's rows, through pyiceberg's Glue catalog) where the worker has
        pyiceberg (the self-hosted image; MWAA's workers do not, and the JSON is then the record). A
        refused commit (the worker's role may not update the table) is logged and recorded, not raised:
        the JSON holds the rows."""
        import json

        uri = f"{self.results_uri(identity)}step_costs.json"
        self.write_text(uri, json.dumps(rows, indent=2, default=str) + "\n")
        out: dict = {"rows_uri": uri}
        if lake is None:
            try:
                import pyiceberg.catalog.glue  # noqa: F401
            except ImportError:
                out["lake"] = "not committed: this worker has no pyiceberg[glue] (MWAA); the rows are in rows_uri"
                return out
            from seqflow.lake.iceberg import Lake

            lake = Lake.glue(self.lake_uri(), self.settings.require("glue_database"),
                             region=self.s3.get_conn().meta.region_name)
        from seqflow.lake import publish_step_costs

        try:
            out["snapshot_id"] = publish_step_costs(lake, rows, identity=identity).snapshot_id
        except Exception as exc:  # the rows are in rows_uri; the analysis is done
            import logging

            logging.getLogger(__name__).warning("step_costs of %s not committed to the lake: %s", identity.label(), exc)
            out["lake"] = f"not committed: {type(exc).__name__}: {exc}; the rows are in rows_uri"
        return out

    def publish_run_outputs(self, identity: AnalysisIdentity, rows: list[dict], notes: dict | None = None
                            ) -> dict[str, str]:
        """``qc_summary.json`` beside the results. (The lake's ``qc_metrics`` rows of the analysis were
        committed by the converter's Glue job run, from the same QC files: seqflow.glue.job.qc_rows.)"""
        import json

        results = self.results_uri(identity)
        bucket, prefix = results.removeprefix("s3://").split("/", 1)
        body = json.dumps({**identity.to_dict(), **(notes or {}), "samples": rows}, indent=2, default=str) + "\n"
        self.s3.load_string(body, key=f"{prefix}qc_summary.json", bucket_name=bucket, replace=True)
        return {"results_uri": results, "qc_summary": f"{results}qc_summary.json", "lake_uri": self.lake_uri()}
