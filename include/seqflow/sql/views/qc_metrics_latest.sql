-- QC metrics of each run's latest pipeline version, per reference, aligner
-- and caller (as variants_latest).
CREATE OR REPLACE VIEW qc_metrics_latest AS
WITH versions AS (
  SELECT run_id, pipeline_version, reference, aligner, caller,
         row_number() OVER (
           PARTITION BY run_id, reference, aligner, caller
           ORDER BY try_cast(split_part(pipeline_version, '.', 1) AS integer) DESC,
                    try_cast(split_part(pipeline_version, '.', 2) AS integer) DESC,
                    try_cast(split_part(pipeline_version, '.', 3) AS integer) DESC,
                    pipeline_version DESC
         ) AS rank
  FROM (SELECT DISTINCT run_id, pipeline_version, reference, aligner, caller FROM qc_metrics) AS q
)
SELECT q.*
FROM qc_metrics AS q
JOIN versions AS l
  ON q.run_id = l.run_id AND q.pipeline_version = l.pipeline_version
 AND q.reference = l.reference AND q.aligner = l.aligner AND q.caller = l.caller
 AND l.rank = 1
