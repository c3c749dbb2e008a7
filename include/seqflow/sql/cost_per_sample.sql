-- Cost per sample of the analyses whose steps started between :from_date and
-- :to_date (YYYY-MM-DD, inclusive): CPU and wall seconds over its steps, the
-- cost where priced, and how many of its steps failed (seqflow report).
SELECT c.run_id, c.pipeline_version, c.reference, c.aligner, c.caller, c.sample_id,
       coalesce(c.project, '(none)') AS project,
       array_join(array_sort(array_agg(DISTINCT c.engine)), ',') AS engines,
       count(*) AS steps,
       sum(CASE WHEN c.status = 'failed' THEN 1 ELSE 0 END) AS failed_steps,
       round(sum(c.cpu_seconds), 3) AS cpu_seconds,
       round(sum(c.wall_seconds), 3) AS wall_seconds,
       round(sum(c.cost_usd), 6) AS cost_usd
FROM step_costs AS c
WHERE substr(c.started_at, 1, 10) BETWEEN :from_date AND :to_date
GROUP BY c.run_id, c.pipeline_version, c.reference, c.aligner, c.caller, c.sample_id, coalesce(c.project, '(none)')
ORDER BY c.run_id, c.pipeline_version, c.reference, c.aligner, c.caller, c.sample_id
