-- Per-sample QC computed from the variant calls themselves (latest pipeline
-- version of each run, per reference, aligner and caller): call counts,
-- het/hom-alt ratio, missing calls, and mean genotype quality and depth.
SELECT run_id, pipeline_version, reference, aligner, caller, sample_id,
       count(*) AS records,
       count_if(cardinality(filter(gt, x -> x IS NULL)) = cardinality(gt)) AS no_calls,
       count_if(cardinality(filter(gt, x -> x > 0)) > 0
                AND cardinality(array_distinct(gt)) > 1) AS het,
       count_if(cardinality(filter(gt, x -> x > 0)) = cardinality(gt)
                AND cardinality(array_distinct(gt)) = 1) AS hom_alt,
       CAST(count_if(cardinality(filter(gt, x -> x > 0)) > 0 AND cardinality(array_distinct(gt)) > 1) AS double)
         / nullif(count_if(cardinality(filter(gt, x -> x > 0)) = cardinality(gt)
                           AND cardinality(array_distinct(gt)) = 1), 0) AS het_hom_ratio,
       avg(gq) AS mean_gq,
       avg(dp) AS mean_dp
FROM variants_latest
WHERE gt IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY run_id, pipeline_version, reference, aligner, caller, sample_id
