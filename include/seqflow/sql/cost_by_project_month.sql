-- Cost by project and month: what the steps of every analysis used and cost
-- (step_costs: one row per step of each sample; project = the sample sheet's
-- Sample_Project, month = when the step started). cost_usd is null where no
-- price applied (the local profile without SEQFLOW_LOCAL_CPU_HOUR_USD, an
-- instance type missing from the price table); priced_steps says how many were.
SELECT coalesce(c.project, '(none)') AS project, c.month,
       count(DISTINCT c.run_id) AS runs,
       count(DISTINCT c.run_id || '/' || c.sample_id) AS samples,
       count(*) AS steps,
       round(sum(c.cpu_seconds) / 3600.0, 4) AS cpu_hours,
       round(sum(c.wall_seconds) / 3600.0, 4) AS wall_hours,
       round(sum(c.cost_usd), 4) AS cost_usd,
       count(c.cost_usd) AS priced_steps
FROM step_costs AS c
GROUP BY coalesce(c.project, '(none)'), c.month
ORDER BY c.month, project
