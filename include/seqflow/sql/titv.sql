-- Transition/transversion ratio per sample over the SNV alleles it carries
-- (latest pipeline version of each run, per reference, aligner and caller).
-- Transitions: A<->G, C<->T.
WITH snvs AS (
  SELECT v.run_id, v.pipeline_version, v.reference, v.aligner, v.caller, v.sample_id,
         upper(v.ref) || upper(a.allele) AS change
  FROM variants_latest AS v
  CROSS JOIN UNNEST(v.alt) WITH ORDINALITY AS a (allele, idx)
  WHERE length(v.ref) = 1 AND length(a.allele) = 1
    AND upper(v.ref) IN ('A', 'C', 'G', 'T') AND upper(a.allele) IN ('A', 'C', 'G', 'T')
    AND (v.gt IS NULL OR contains(v.gt, CAST(a.idx AS smallint)))
)
SELECT run_id, pipeline_version, reference, aligner, caller, sample_id,
       count_if(change IN ('AG', 'GA', 'CT', 'TC')) AS transitions,
       count_if(change NOT IN ('AG', 'GA', 'CT', 'TC')) AS transversions,
       CAST(count_if(change IN ('AG', 'GA', 'CT', 'TC')) AS double)
         / nullif(count_if(change NOT IN ('AG', 'GA', 'CT', 'TC')), 0) AS titv
FROM snvs
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY run_id, pipeline_version, reference, aligner, caller, sample_id
