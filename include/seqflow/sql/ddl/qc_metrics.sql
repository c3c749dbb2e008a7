-- Athena (Hive DDL): per-sample QC metrics, one row per sample per analysis
-- (run, pipeline version, reference, aligner, caller: the partition keys).
-- precision/recall/f1 are null unless a truth set was used.
CREATE EXTERNAL TABLE IF NOT EXISTS qc_metrics (
  sample_id string,
  read_pairs bigint,
  pct_mapped double,
  pct_duplicates double,
  mean_depth double,
  variants_called bigint,
  `precision` double,
  recall double,
  f1 double
)
PARTITIONED BY (run_id string, pipeline_version string, reference string, aligner string, caller string)
STORED AS PARQUET
LOCATION '${location}'
TBLPROPERTIES ('parquet.compression' = 'ZSTD')
