-- The variants of each run's latest pipeline version (semantic order:
-- 1.10.0 is newer than 1.9.0), per reference, aligner and caller: analyses of
-- a run with another reference, aligner or caller are other results, not older
-- ones, so each keeps its own latest version. Older versions stay queryable in
-- `variants`.
CREATE OR REPLACE VIEW variants_latest AS
WITH versions AS (
  SELECT run_id, pipeline_version, reference, aligner, caller,
         row_number() OVER (
           PARTITION BY run_id, reference, aligner, caller
           ORDER BY try_cast(split_part(pipeline_version, '.', 1) AS integer) DESC,
                    try_cast(split_part(pipeline_version, '.', 2) AS integer) DESC,
                    try_cast(split_part(pipeline_version, '.', 3) AS integer) DESC,
                    pipeline_version DESC
         ) AS rank
  FROM (SELECT DISTINCT run_id, pipeline_version, reference, aligner, caller FROM variants) AS v
)
SELECT v.*
FROM variants AS v
JOIN versions AS l
  ON v.run_id = l.run_id AND v.pipeline_version = l.pipeline_version
 AND v.reference = l.reference AND v.aligner = l.aligner AND v.caller = l.caller
 AND l.rank = 1
