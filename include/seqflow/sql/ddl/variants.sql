-- Athena (Hive DDL): the variant lake, one row per variant per sample.
-- ${location} is the table's root (s3://<lake-bucket>/variants/); partitions
-- are registered explicitly (seqflow.catalog.athena), never by a crawler.
-- `end` is 0-based exclusive (= the VCF's 1-based inclusive end).
-- `info` holds the INFO fields other than the promoted ones (DP, AN, MQ, AF,
-- AC), which are only in their typed info_* columns.
-- Partitioned by the whole analysis identity (run, pipeline version,
-- reference, aligner, caller) and the sample, so two analyses of a sample never
-- overwrite each other; partition keys are columns to queries, not in the files.
CREATE EXTERNAL TABLE IF NOT EXISTS variants (
  contig string,
  pos bigint,
  `start` bigint,
  `end` bigint,
  ids array<string>,
  ref string,
  alt array<string>,
  qual double,
  filters array<string>,
  info map<string,string>,
  info_dp int,
  info_an int,
  info_mq double,
  info_af array<double>,
  info_ac array<int>,
  gt array<smallint>,
  gt_phased boolean,
  gq int,
  dp int,
  ad array<int>,
  pl array<int>,
  format map<string,string>
)
PARTITIONED BY (run_id string, pipeline_version string, reference string, aligner string, caller string,
                sample_id string)
STORED AS PARQUET
LOCATION '${location}'
TBLPROPERTIES ('parquet.compression' = 'ZSTD')
