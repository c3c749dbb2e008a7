-- Variant counts by type per sample (latest pipeline version of each run,
-- per reference, aligner and caller).
-- Counts each ALT allele a sample carries (any copy in GT; every ALT for a
-- sites-only partition): SNV, MNV, INS, DEL, SYMBOLIC (<...>, breakends), OTHER.
-- The spanning-deletion allele '*' is not a variant of its own and is skipped.
WITH alleles AS (
  SELECT v.run_id, v.pipeline_version, v.reference, v.aligner, v.caller, v.sample_id, v.ref, a.allele
  FROM variants_latest AS v
  CROSS JOIN UNNEST(v.alt) WITH ORDINALITY AS a (allele, idx)
  WHERE a.allele <> '*'
    AND (v.gt IS NULL OR contains(v.gt, CAST(a.idx AS smallint)))
)
SELECT run_id, pipeline_version, reference, aligner, caller, sample_id,
       CASE
         WHEN allele LIKE '<%' OR strpos(allele, '[') > 0 OR strpos(allele, ']') > 0 THEN 'SYMBOLIC'
         WHEN length(ref) = 1 AND length(allele) = 1 THEN 'SNV'
         WHEN length(ref) = length(allele) THEN 'MNV'
         WHEN length(allele) > length(ref) THEN 'INS'
         WHEN length(allele) < length(ref) THEN 'DEL'
         ELSE 'OTHER'
       END AS variant_type,
       count(*) AS n_variants
FROM alleles
GROUP BY 1, 2, 3, 4, 5, 6, 7
ORDER BY run_id, pipeline_version, reference, aligner, caller, sample_id, variant_type
