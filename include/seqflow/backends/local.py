"""The local profile's backend: folders under ``SEQFLOW_HOME`` and a SQLite registry."""

from __future__ import annotations

import logging
from pathlib import Path

from seqflow.backends import RunNotInRawStorage
from seqflow.config import local_paths
from seqflow.identity import AnalysisIdentity
from seqflow.paths import check_run_id, check_sample_id
from seqflow.runfolder import run_files
from seqflow.samplesheet import SampleSheet, parse_sample_sheet

SAMPLE_SHEET = "SampleSheet.csv"

log = logging.getLogger("seqflow.alerts")


class LocalBackend:
    """Storage, registry and references of the local profile."""

    profile = "local"
    engines = ("local",)

    def __init__(self, paths=None):
        self.paths = paths or local_paths()
        self.results_root = str(self.paths.results)
        self.scratch_root = str(self.paths.scratch)

    def default_engine(self) -> str:
        return "local"

    def registry(self):
        from seqflow.registry import SqliteRunRegistry

        return SqliteRunRegistry(self.paths.registry)

    def references(self):
        from seqflow.references import LocalReferenceCatalog

        return LocalReferenceCatalog(self.paths.references)

    def run_uri(self, run_id: str) -> str:
        return str(self.paths.raw / check_run_id(run_id))

    def raw_runs(self) -> list[str]:
        from seqflow.runfolder import is_run_folder_name

        raw = self.paths.raw
        return sorted(p.name for p in raw.iterdir() if p.is_dir() and is_run_folder_name(p.name)) if raw.is_dir() else []

    def exists(self, uri: str) -> bool:
        return Path(uri).is_file()

    def alert(self, message: dict) -> None:
        log.error("ALERT seqflow: %s", message)

    def run_files(self, run_id: str) -> list[str]:
        folder = self.paths.raw / check_run_id(run_id)
        if not folder.is_dir():
            raise RunNotInRawStorage(
                f"run {run_id} is not in raw storage ({folder}); ingest it first with the daily ingest DAG"
            )
        return run_files(folder)

    def read_sample_sheet(self, run_id: str) -> SampleSheet:
        folder = self.paths.raw / check_run_id(run_id)
        if not folder.is_dir():
            raise RunNotInRawStorage(
                f"run {run_id} is not in raw storage ({folder}); ingest it first with the daily ingest DAG"
            )
        return parse_sample_sheet(folder / SAMPLE_SHEET)

    def results_uri(self, identity: AnalysisIdentity, sample_id: str | None = None) -> str:
        folder = self.paths.results.joinpath(*identity.path_parts())
        return str(folder / check_sample_id(sample_id) if sample_id is not None else folder)

    # -- lake and outputs -------------------------------------------------------------------

    def lake_uri(self) -> str:
        return str(self.paths.lake)

    def lake(self):
        """The lake's Iceberg tables (SQL catalog on SQLite under the lake folder)."""
        from seqflow.lake.iceberg import Lake

        return Lake.local(self.paths.lake)

    def register_partitions(self, partitions) -> None:
        """Commit the run's staged samples to the ``variants`` table: one Iceberg commit per analysis."""
        from seqflow.lake.api import local_staging_root, publish_samples

        publish_samples(self.lake(), local_staging_root(self.paths.lake), partitions)

    def query_rows(self, result) -> list[dict]:
        """The local QC query's rows are its task's return value."""
        return list(result or [])

    def read_text(self, uri: str) -> str:
        return Path(uri).read_text()

    def write_text(self, uri: str, text: str) -> None:
        from seqflow.fsutil import atomic_write_text

        atomic_write_text(Path(uri), text)

    def step_costs(self, run_plan: dict, vcfs: list[dict]) -> list[dict]:
        """The ``step_costs`` rows of the analysis: what the step runner measured of each step."""
        from seqflow.analysis.costs import local_step_costs

        return local_step_costs(run_plan, self)

    def publish_step_costs(self, identity: AnalysisIdentity, rows: list[dict]) -> dict:
        """The rows in the lake's ``step_costs`` table: one Iceberg commit replacing the analysis's rows."""
        from seqflow.lake import publish_step_costs

        result = publish_step_costs(self.lake(), rows, identity=identity)
        return {"snapshot_id": result.snapshot_id}

    def publish_run_outputs(self, identity: AnalysisIdentity, rows: list[dict], notes: dict | None = None
                            ) -> dict[str, str]:
        """The lake's ``qc_metrics`` partition of the analysis, ``qc_summary.json/.md`` and ``manifest.json``."""
        from seqflow.analysis import report
        from seqflow.lake import QC_METRICS_SCHEMA, publish_qc_metrics

        lake_columns = set(QC_METRICS_SCHEMA.names)
        publish_qc_metrics(
            self.lake(), [{k: v for k, v in row.items() if k in lake_columns} for row in rows], identity=identity,
        )
        run_dir = Path(self.results_uri(identity))
        context = identity.to_dict()
        summary = report.write_qc_summary(run_dir, rows, {**context, **(notes or {})})
        manifest = report.write_manifest(run_dir, context)
        return {"results_uri": str(run_dir), "qc_summary": str(summary), "manifest": str(manifest),
                "lake_uri": self.lake_uri()}
