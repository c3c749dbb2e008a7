-- QC metrics of each run's latest pipeline version.
CREATE OR REPLACE VIEW qc_metrics_latest AS
WITH versions AS (
  SELECT run_id, pipeline_version,
         row_number() OVER (
           PARTITION BY run_id
           ORDER BY try_cast(split_part(pipeline_version, '.', 1) AS integer) DESC,
                    try_cast(split_part(pipeline_version, '.', 2) AS integer) DESC,
                    try_cast(split_part(pipeline_version, '.', 3) AS integer) DESC,
                    pipeline_version DESC
         ) AS rank
  FROM (SELECT DISTINCT run_id, pipeline_version FROM qc_metrics) AS q
)
SELECT q.*
FROM qc_metrics AS q
JOIN versions AS l
  ON q.run_id = l.run_id AND q.pipeline_version = l.pipeline_version AND l.rank = 1
