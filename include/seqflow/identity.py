"""The analysis identity: what makes two analyses of a run different.

An analysis is the run, the pipeline version, the reference genome, the
aligner and the caller. Result paths, lake partitions and registry records
carry all five, so two analyses that differ in any part never overwrite each
other, and "already analysed" means exactly this configuration.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from seqflow.paths import (
    check_pipeline_version,
    check_reference_name,
    check_run_id,
    check_tool_name,
)

#: the five parts, in the order they appear in paths and keys
FIELDS = ("run_id", "pipeline_version", "reference", "aligner", "caller")


@dataclass(frozen=True)
class AnalysisIdentity:
    """One analysis of one run; every part validated on construction."""

    run_id: str
    pipeline_version: str
    reference: str
    aligner: str
    caller: str

    def __post_init__(self) -> None:
        check_run_id(self.run_id)
        check_pipeline_version(self.pipeline_version)
        check_reference_name(self.reference)
        check_tool_name("aligner", self.aligner)
        check_tool_name("caller", self.caller)

    @property
    def key(self) -> str:
        """The registry key of the analysis within its run: ``<version>/<reference>/<aligner>/<caller>``."""
        return "/".join((self.pipeline_version, self.reference, self.aligner, self.caller))

    def path_parts(self) -> tuple[str, ...]:
        """Folder parts below the results root: ``<run>/<version>/<reference>/<aligner>-<caller>``."""
        return (self.run_id, self.pipeline_version, self.reference, f"{self.aligner}-{self.caller}")

    def label(self) -> str:
        """One line for logs and reports."""
        return f"{self.run_id} (pipeline {self.pipeline_version}, {self.reference}, {self.aligner}, {self.caller})"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalysisIdentity:
        """The identity from a mapping holding (at least) the five fields."""
        missing = [f for f in FIELDS if not data.get(f)]
        if missing:
            raise ValueError(f"analysis identity lacks {', '.join(missing)}")
        return cls(**{f: data[f] for f in FIELDS})

    @classmethod
    def from_key(cls, run_id: str, key: str) -> AnalysisIdentity:
        """Inverse of :attr:`key`."""
        parts = key.split("/")
        if len(parts) != 4:
            raise ValueError(f"{key!r} is not an analysis key <version>/<reference>/<aligner>/<caller>")
        return cls(run_id, *parts)
