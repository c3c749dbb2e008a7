"""Per-sample analysis: the steps (QC, alignment, calling, statistics) and their metrics."""
