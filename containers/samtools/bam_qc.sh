#!/usr/bin/env bash
# Alignment QC of one sample's BAM: mapping rate, coverage, full samtools stats (step bam_qc).
# usage: bam_qc.sh SAMPLE_ID SAMPLE.bam OUT_DIR [THREADS]
# needs: SAMPLE.bam.bai beside the BAM
# writes: OUT_DIR/SAMPLE_ID.flagstat.json, .coverage.tsv, .samtools_stats.txt, .bam_qc.versions.json,
#         and the log .bam_qc.log
# The contract (arguments, inputs, outputs, resources) is samtools/steps.yaml.
set -euo pipefail
common="$(dirname "$0")/seqflow_common.sh"
[ -f "$common" ] || common="$(dirname "$0")/../_common/seqflow_common.sh"
# shellcheck source=containers/_common/seqflow_common.sh
. "$common"
[ "$#" -ge 3 ] && [ "$#" -le 4 ] || { echo "usage: $0 SAMPLE_ID SAMPLE.bam OUT_DIR [THREADS]" >&2; exit 2; }
sample="$1" bam="$2" out="$3" threads="${4:-2}"
seqflow_check_sample_id "$sample"
seqflow_check_threads "$threads"
mkdir -p "$out"
seqflow_begin "$out/$sample.bam_qc.log" "sample $sample"
tmp="$out/.tmp-bamqc-$sample"
rm -rf "$tmp" && mkdir -p "$tmp"

seqflow_run "samtools flagstat" samtools flagstat -@ "$threads" -O json "$bam" > "$tmp/$sample.flagstat.json"
seqflow_run "samtools coverage" samtools coverage "$bam" > "$tmp/$sample.coverage.tsv"
seqflow_run "samtools stats" samtools stats -@ "$threads" "$bam" > "$tmp/$sample.samtools_stats.txt"
seqflow_write_versions "$tmp/$sample.bam_qc.versions.json" samtools

mv -f "$tmp"/* "$out"/ && rmdir "$tmp"
