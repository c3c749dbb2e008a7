-- Allele frequency of each site's ALT alleles across the samples of the lake
-- (latest pipeline version of each run), per reference, aligner and caller:
-- positions are only comparable on one reference, and a sample analysed with
-- two pipelines must not count twice. AC = called copies of the allele,
-- AN = called alleles (no-calls excluded), AF = AC / AN.
WITH calls AS (
  SELECT v.reference, v.aligner, v.caller, v.contig, v.pos, v.ref, v.alt, v.sample_id, g.allele
  FROM variants_latest AS v
  CROSS JOIN UNNEST(v.gt) AS g (allele)
  WHERE v.gt IS NOT NULL
), sites AS (
  SELECT reference, aligner, caller, contig, pos, ref, alt,
         count(DISTINCT sample_id) AS n_samples,
         count(allele) AS allele_number
  FROM calls
  GROUP BY 1, 2, 3, 4, 5, 6, 7
), counts AS (
  SELECT reference, aligner, caller, contig, pos, ref, alt, allele, count(*) AS allele_count
  FROM calls
  WHERE allele > 0
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
)
SELECT s.reference, s.aligner, s.caller, s.contig, s.pos, s.ref, element_at(s.alt, a.idx) AS alt,
       s.n_samples, coalesce(c.allele_count, 0) AS allele_count, s.allele_number,
       CAST(coalesce(c.allele_count, 0) AS double) / nullif(s.allele_number, 0) AS allele_frequency
FROM sites AS s
CROSS JOIN UNNEST(s.alt) WITH ORDINALITY AS a (allele, idx)
LEFT JOIN counts AS c
  ON c.reference = s.reference AND c.aligner = s.aligner AND c.caller = s.caller
 AND c.contig = s.contig AND c.pos = s.pos AND c.ref = s.ref AND c.alt = s.alt
 AND c.allele = CAST(a.idx AS smallint)
ORDER BY s.reference, s.aligner, s.caller, s.contig, s.pos, s.ref, a.idx
