"""Where things are, and which profile is active.

The profile (``local`` or ``aws``) is one setting: the ``SEQFLOW_PROFILE``
environment variable (default ``local``). Reading it is cheap and touches no
file, Variable or network, so DAG files may call :func:`profile` at parse time.

The local profile keeps all of its state under one folder, ``SEQFLOW_HOME``
(default: ``.seqflow/`` at the repository root): the Airflow home, the landing
share, the raw and results "buckets", the lake, the catalog and the registry.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

PROFILES = ("local", "aws")

#: Pipeline version written into every result path and lake row.
PIPELINE_VERSION = "1.0.0"

#: A scan looks at run folders whose name date is at most this many days old.
DEFAULT_LOOKBACK_DAYS = 14
#: A run still incomplete this long after a scan first saw it raises one alert (NovaSeq 2x150: ~2 days).
DEFAULT_ALERT_AFTER_HOURS = 72.0

#: A sample fails alone below these (analysis params ``min_reads``, ``min_mapped_pct``): reads left after
#: fastp's filters, both mates counted, and % of QC-passed reads mapped. Low enough for a tiny amplicon or
#: phage sample; a centre raises them in its triggers.
DEFAULT_MIN_READS = 1000
DEFAULT_MIN_MAPPED_PCT = 50.0

#: Completion flags, in order of preference (Illumina writes one of them last).
DEFAULT_COMPLETION_FLAGS = ("CopyComplete.txt", "RTAComplete.txt")

REPO_ROOT = Path(__file__).resolve().parents[2]


def profile() -> str:
    """Return the active profile, validated."""
    value = os.environ.get("SEQFLOW_PROFILE", "local").strip().lower()
    if value not in PROFILES:
        raise ValueError(f"SEQFLOW_PROFILE={value!r} is not one of {', '.join(PROFILES)}")
    return value


def ingest_schedule() -> str | None:
    """The ingest DAG's schedule: ``SEQFLOW_INGEST_SCHEDULE`` (a cron expression or preset, default
    ``@daily``; ``none`` for manual scans only, as the demo and the end-to-end tests run them on
    their own clock). An environment variable, so cheap to read at DAG parse time."""
    value = os.environ.get("SEQFLOW_INGEST_SCHEDULE", "@daily").strip()
    return None if value.lower() in ("", "none", "null") else value


#: the SQS queue URL form that an S3/EventBridge notification queue has
_SQS_QUEUE_URL = re.compile(r"^https://sqs\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[0-9]{12}/[A-Za-z0-9_-]{1,80}(\.fifo)?$")


def run_events_queue() -> str | None:
    """The SQS queue of raw-storage flag notifications (aws profile), or None: no event-driven start, the
    ingest's schedule alone finds runs. ``SEQFLOW_RUN_EVENTS_QUEUE``, else the Airflow option
    ``[seqflow] run_events_queue`` as MWAA exports it (``AIRFLOW__SEQFLOW__RUN_EVENTS_QUEUE``; Terraform
    sets it when ``run_events_enabled``). Read at DAG parse time, so from the environment only."""
    return _sqs_queue_setting("SEQFLOW_RUN_EVENTS_QUEUE", "AIRFLOW__SEQFLOW__RUN_EVENTS_QUEUE")


def launch_queue() -> str | None:
    """The SQS queue of launch-file uploads (aws profile: files put under the launch prefix of the raw
    bucket, ``modules/run_events``), or None: no launch by upload. ``SEQFLOW_LAUNCH_QUEUE``, else the
    Airflow option ``[seqflow] launch_queue`` (``AIRFLOW__SEQFLOW__LAUNCH_QUEUE``; Terraform sets it when
    ``launch_uploads_enabled``). Read at DAG parse time, so from the environment only."""
    return _sqs_queue_setting("SEQFLOW_LAUNCH_QUEUE", "AIRFLOW__SEQFLOW__LAUNCH_QUEUE")


def _sqs_queue_setting(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            if not _SQS_QUEUE_URL.match(value):
                raise ValueError(f"{name}={value!r} is not an SQS queue URL "
                                 "(https://sqs.<region>.amazonaws.com/<account>/<queue>)")
            return value
    return None


def seqflow_home() -> Path:
    """Root folder of the local profile's state."""
    return Path(os.environ.get("SEQFLOW_HOME", REPO_ROOT / ".seqflow")).resolve()


@dataclass(frozen=True)
class LocalPaths:
    """The local profile's stand-ins for the share, the buckets and the catalog."""

    home: Path

    @property
    def landing(self) -> Path:
        """The on-prem instrument share runs land on."""
        return self.home / "landing"

    @property
    def truth(self) -> Path:
        """Demo truth sets, kept beside (never inside) the run folders."""
        return self.home / "truth"

    @property
    def raw(self) -> Path:
        """Raw-runs bucket (``s3://<raw>/runs/<run_id>/``)."""
        return self.home / "buckets" / "raw"

    @property
    def results(self) -> Path:
        """Results bucket (``results/<run_id>/<pipeline_version>/<sample_id>/``)."""
        return self.home / "buckets" / "results"

    @property
    def lake(self) -> Path:
        """Parquet variant lake."""
        return self.home / "buckets" / "lake"

    @property
    def references(self) -> Path:
        """Reference genomes and their aligner indexes (cached)."""
        return self.home / "references"

    @property
    def catalog(self) -> Path:
        """DuckDB catalog file (the local Glue Data Catalog + Athena)."""
        return self.home / "catalog.duckdb"

    @property
    def registry(self) -> Path:
        """SQLite run registry (the local DynamoDB table)."""
        return self.home / "registry.sqlite"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def scratch(self) -> Path:
        return self.home / "scratch"


def local_paths() -> LocalPaths:
    """Paths of the local profile under :func:`seqflow_home`."""
    return LocalPaths(seqflow_home())
