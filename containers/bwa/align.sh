#!/usr/bin/env bash
# Aligns one sample with bwa mem and produces a duplicate-marked, sorted, indexed BAM (step align, aligner bwa).
# usage: align.sh SAMPLE_ID REFERENCE.fa R1.fastq.gz R2.fastq.gz OUT_DIR [THREADS]
# needs: the bwa index beside REFERENCE.fa (index_reference.sh)
# writes: OUT_DIR/SAMPLE_ID.bam, .bam.bai, .markdup.txt, .align.versions.json
# The contract (arguments, inputs, outputs, resources) is bwa/steps.yaml.
set -euo pipefail
common="$(dirname "$0")/seqflow_common.sh"
[ -f "$common" ] || common="$(dirname "$0")/../_common/seqflow_common.sh"
# shellcheck source=containers/_common/seqflow_common.sh
. "$common"
[ "$#" -ge 5 ] && [ "$#" -le 6 ] || { echo "usage: $0 SAMPLE_ID REFERENCE.fa R1 R2 OUT_DIR [THREADS]" >&2; exit 2; }
sample="$1" ref="$2" r1="$3" r2="$4" out="$5" threads="${6:-2}"
seqflow_check_sample_id "$sample"
seqflow_check_threads "$threads"
mkdir -p "$out"
tmp="$out/.tmp-align-$sample"
rm -rf "$tmp" && mkdir -p "$tmp"

bwa mem -t "$threads" -R "@RG\tID:$sample\tSM:$sample\tPL:ILLUMINA\tLB:$sample" "$ref" "$r1" "$r2" 2> "$tmp/bwa.log" \
  | samtools fixmate -m -u - - \
  | samtools sort -u -@ "$threads" -T "$tmp/sort" - \
  | samtools markdup -@ "$threads" --write-index -f "$tmp/$sample.markdup.txt" \
      -T "$tmp/markdup" - "$tmp/$sample.bam##idx##$tmp/$sample.bam.bai"
seqflow_write_versions "$tmp/$sample.align.versions.json" bwa samtools

mv -f "$tmp/$sample.bam" "$tmp/$sample.markdup.txt" "$tmp/$sample.align.versions.json" "$out"/
mv -f "$tmp/$sample.bam.bai" "$out"/
rm -rf "$tmp"
