-- Per-sample QC metrics (latest pipeline version of each run, per reference,
-- aligner and caller) with the number of variant records the lake holds for
-- the sample in the same analysis beside the number the pipeline reported.
SELECT q.run_id, q.pipeline_version, q.reference, q.aligner, q.caller, q.sample_id, q.read_pairs, q.pct_mapped,
       q.pct_duplicates, q.mean_depth, q.variants_called,
       (SELECT count(*) FROM variants AS v
         WHERE v.run_id = q.run_id AND v.pipeline_version = q.pipeline_version
           AND v.reference = q.reference AND v.aligner = q.aligner AND v.caller = q.caller
           AND v.sample_id = q.sample_id) AS variants_in_lake,
       q."precision", q.recall, q.f1
FROM qc_metrics_latest AS q
ORDER BY q.run_id, q.reference, q.aligner, q.caller, q.sample_id
