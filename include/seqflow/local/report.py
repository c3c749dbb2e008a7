"""``seqflow report`` moved to :mod:`seqflow.report` (it serves both profiles); this name stays importable."""

from seqflow.report import build_report, format_report, local_report  # noqa: F401
