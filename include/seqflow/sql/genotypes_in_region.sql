-- Genotypes of every sample in a region (latest pipeline version of each run,
-- per reference, aligner and caller: coordinates are those of the reference).
-- Parameters: :contig, :region_start and :region_end (1-based, inclusive);
-- a variant is in the region when it overlaps it.
SELECT v.run_id, v.reference, v.aligner, v.caller, v.sample_id, v.contig, v.pos, v.ref, array_join(v.alt, ',') AS alt,
       CASE WHEN v.gt_phased
            THEN array_join(transform(v.gt, x -> coalesce(CAST(x AS varchar), '.')), '|')
            ELSE array_join(transform(v.gt, x -> coalesce(CAST(x AS varchar), '.')), '/')
       END AS genotype,
       v.gq, v.dp, v.filters
FROM variants_latest AS v
WHERE v.contig = :contig
  AND v."start" < :region_end
  AND v."end" > :region_start - 1
ORDER BY v.contig, v.pos, v.run_id, v.reference, v.aligner, v.caller, v.sample_id
