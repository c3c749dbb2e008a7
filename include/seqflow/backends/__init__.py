"""The backend of a profile: storage, registry, reference catalogue and engines, chosen once.

The task bodies of both DAGs are written once (:mod:`seqflow.tasks`) against
this interface; only the operators at the edges of the DAGs switch by profile.
:func:`get_backend` picks the implementation from ``SEQFLOW_PROFILE``, as
:class:`seqflow.registry.RunRegistry` has a SQLite and a DynamoDB one:

* ``local`` (:class:`seqflow.backends.local.LocalBackend`): folders under
  ``SEQFLOW_HOME`` stand in for the buckets, SQLite for DynamoDB;
* ``aws`` (:class:`seqflow.aws.backend.AwsBackend`): S3, DynamoDB, the
  reference catalogue in the raw bucket.

Building a backend reads nothing; each method does its I/O when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from seqflow.identity import AnalysisIdentity
    from seqflow.registry import RunRegistry
    from seqflow.samplesheet import SampleSheet


class RunNotInRawStorage(FileNotFoundError):
    """The run folder is not in raw storage (not ingested yet, or purged)."""


class Backend(Protocol):
    """What the profile-free task bodies need of a profile."""

    #: ``local`` or ``aws``
    profile: str
    #: per-sample engines this profile can run (the first is its default)
    engines: tuple[str, ...]

    #: folders the local step processes write to ('' where steps run remotely)
    results_root: str
    scratch_root: str

    def default_engine(self) -> str:
        """The engine of a run whose ``engine`` param is empty."""

    def registry(self) -> RunRegistry: ...

    def references(self):
        """The reference catalogue (:class:`seqflow.references.LocalReferenceCatalog` or the S3 one)."""

    def run_uri(self, run_id: str) -> str:
        """Where the run folder is in raw storage (a path or an ``s3://`` prefix ending in ``/``)."""

    def raw_runs(self) -> list[str]:
        """The run folders in raw storage (what a backfill selects from)."""

    def exists(self, uri: str) -> bool:
        """Whether a result file exists (a path or an ``s3://`` URI)."""

    def alert(self, message: dict) -> None:
        """Raise an alert that is not a task failure (a run waiting too long): log line, and SNS on AWS."""

    def run_files(self, run_id: str) -> list[str]:
        """The run folder's files, relative to it; :class:`RunNotInRawStorage` if it is absent."""

    def read_sample_sheet(self, run_id: str) -> SampleSheet:
        """The run's parsed ``SampleSheet.csv`` (errors name the file, line and rule)."""

    def results_uri(self, identity: AnalysisIdentity, sample_id: str | None = None) -> str:
        """Results folder of an analysis or of one of its samples (a path, or an ``s3://`` prefix)."""

    def read_text(self, uri: str) -> str:
        """The text of a result file (a path or an ``s3://`` URI)."""

    def write_text(self, uri: str, text: str) -> None:
        """Write a small result file whole (a path, atomically; or an ``s3://`` URI)."""


def get_backend(profile: str | None = None) -> Backend:
    """The backend of ``profile`` (default: the active ``SEQFLOW_PROFILE``)."""
    from seqflow.config import profile as active_profile

    if (profile or active_profile()) == "aws":
        from seqflow.aws.backend import AwsBackend

        return AwsBackend()
    from seqflow.backends.local import LocalBackend

    return LocalBackend()
