#!/usr/bin/env bash
# Alignment QC of one sample's BAM: mapping rate, coverage, full samtools stats.
# usage: bam_qc.sh SAMPLE_ID SAMPLE.bam OUT_DIR [THREADS]
# writes: OUT_DIR/SAMPLE_ID.flagstat.json, OUT_DIR/SAMPLE_ID.coverage.tsv,
#         OUT_DIR/SAMPLE_ID.samtools_stats.txt
set -euo pipefail
[ "$#" -ge 3 ] || { echo "usage: $0 SAMPLE_ID SAMPLE.bam OUT_DIR [THREADS]" >&2; exit 2; }
sample="$1" bam="$2" out="$3" threads="${4:-2}"
mkdir -p "$out"
tmp="$out/.tmp-bamqc-$sample"
rm -rf "$tmp" && mkdir -p "$tmp"

samtools flagstat -@ "$threads" -O json "$bam" > "$tmp/$sample.flagstat.json"
samtools coverage "$bam" > "$tmp/$sample.coverage.tsv"
samtools stats -@ "$threads" "$bam" > "$tmp/$sample.samtools_stats.txt"

mv -f "$tmp"/* "$out"/ && rmdir "$tmp"
