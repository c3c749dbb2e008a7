"""The converter job's manifest: what one Glue job run converts and commits (one analysis).

Airflow writes one manifest per analysis run to S3 and starts one Glue job run
with its URI (``--manifest_uri``): a run of 384 samples is one job run, not
384, and its argument list stays short whatever the sample count (Glue's
job arguments are a string map with a size limit; the sample list is not).
The job writes its result beside the manifest, which ``register_partitions``
reads back.

Standard library only: both the Airflow side (:mod:`seqflow.aws.backend`)
and the slim Glue package import it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from seqflow.identity import FIELDS as IDENTITY_FIELDS
from seqflow.identity import AnalysisIdentity

FORMAT = "seqflow.glue.manifest/1"
RESULT_FORMAT = "seqflow.glue.result/1"
#: folder of manifests and results under the lake URI (never read by a query: not under iceberg/)
MANIFEST_DIR = "_manifests"
RESULT_NAME = "result.json"
TABLE = "variants"


def _check_uri(what: str, uri: str) -> str:
    if not isinstance(uri, str) or not uri.startswith("s3://") or "/" not in uri[5:] or any(c in uri for c in "\n\r\t"):
        raise ValueError(f"{what} {uri!r} is not an s3://bucket/key URI")
    return uri


@dataclass(frozen=True)
class SampleEntry:
    """One VCF to convert: the lake's sample id, the VCF, and the sample's QC files (none for HealthOmics)."""

    sample_id: str
    vcf: str
    qc: dict[str, str] | None = None

    def to_dict(self) -> dict:
        return {"sample_id": self.sample_id, "vcf": self.vcf, "qc": dict(self.qc) if self.qc else None}


@dataclass(frozen=True)
class Manifest:
    """An analysis's samples to convert into ``variants`` and whose QC rows go to ``qc_metrics``."""

    identity: AnalysisIdentity
    samples: tuple[SampleEntry, ...] = field(default_factory=tuple)
    table: str = TABLE

    def __post_init__(self) -> None:
        from seqflow.lake.staging import check_table, check_value

        check_table(self.table)
        if not self.samples:
            raise ValueError(f"{self.identity.label()}: a manifest needs at least one sample")
        seen = set()
        for entry in self.samples:
            check_value("sample_id", entry.sample_id)
            if entry.sample_id in seen:
                raise ValueError(f"{self.identity.label()}: sample {entry.sample_id!r} appears twice in the manifest")
            seen.add(entry.sample_id)
            _check_uri(f"VCF of {entry.sample_id}", entry.vcf)
            for name, uri in (entry.qc or {}).items():
                _check_uri(f"QC file {name} of {entry.sample_id}", uri)

    @property
    def sample_ids(self) -> list[str]:
        return [s.sample_id for s in self.samples]

    def to_dict(self) -> dict:
        return {"format": FORMAT, "identity": self.identity.to_dict(), "table": self.table,
                "samples": [s.to_dict() for s in self.samples]}

    def to_json(self) -> str:
        # sorted keys and no whitespace variation: the same manifest is the same bytes (and digest)
        return json.dumps(self.to_dict(), sort_keys=True, indent=1) + "\n"

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: dict) -> Manifest:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a seqflow converter manifest (format {FORMAT!r} expected)")
        identity = AnalysisIdentity.from_dict(data.get("identity") or {})
        samples = tuple(SampleEntry(str(s["sample_id"]), str(s["vcf"]), s.get("qc") or None)
                        for s in data.get("samples") or [])
        return cls(identity, samples, data.get("table", TABLE))

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        return cls.from_dict(json.loads(text))


def analysis_dir(lake_uri: str, identity: AnalysisIdentity) -> str:
    """``<lake_uri>/_manifests/<run>/<version>/<reference>/<aligner>-<caller>/``."""
    _check_uri("lake_uri", lake_uri)
    return f"{lake_uri.rstrip('/')}/{MANIFEST_DIR}/{'/'.join(identity.path_parts())}/"


def manifest_uri(lake_uri: str, manifest: Manifest) -> str:
    """Where a manifest is written: named by its digest, so a retried task writes the same object."""
    return f"{analysis_dir(lake_uri, manifest.identity)}{manifest.digest}.json"


def result_uri(lake_uri: str, identity: AnalysisIdentity) -> str:
    """The job's result for the analysis (the latest job run's)."""
    return f"{analysis_dir(lake_uri, identity)}{RESULT_NAME}"


def job_arguments(manifest: Manifest, uri: str, *, lake_uri: str, database: str) -> dict[str, str]:
    """The Glue job run's arguments: the manifest, where the lake is, and the identity (for the console)."""
    return {"--manifest_uri": _check_uri("manifest_uri", uri), "--lake_uri": lake_uri, "--database": database,
            **{f"--{k}": getattr(manifest.identity, k) for k in IDENTITY_FIELDS},
            "--samples": str(len(manifest.samples))}


def check_result(result: dict, identity: AnalysisIdentity, sample_ids: list[str]) -> dict:
    """A job result for ``identity`` that committed exactly ``sample_ids``, or ValueError saying what differs."""
    if not isinstance(result, dict) or result.get("format") != RESULT_FORMAT:
        raise ValueError(f"not a seqflow converter result (format {RESULT_FORMAT!r} expected)")
    if result.get("identity") != identity.to_dict():
        raise ValueError(f"the converter's last result is for {result.get('identity')}, not {identity.to_dict()}")
    committed = sorted(result.get("samples", {}))
    if committed != sorted(sample_ids):
        raise ValueError(f"{identity.label()}: the converter committed samples {committed}, expected {sorted(sample_ids)}")
    if result.get("snapshots", {}).get(TABLE) is None:
        raise ValueError(f"{identity.label()}: the converter's result names no {TABLE} snapshot")
    return result
