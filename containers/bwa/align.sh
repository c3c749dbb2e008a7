#!/usr/bin/env bash
# Aligns one sample with bwa mem and produces a duplicate-marked, sorted, indexed BAM.
# usage: align.sh SAMPLE_ID REFERENCE.fa R1.fastq.gz R2.fastq.gz OUT_DIR [THREADS]
# writes: OUT_DIR/SAMPLE_ID.bam, OUT_DIR/SAMPLE_ID.bam.bai, OUT_DIR/SAMPLE_ID.markdup.txt
set -euo pipefail
[ "$#" -ge 5 ] || { echo "usage: $0 SAMPLE_ID REFERENCE.fa R1 R2 OUT_DIR [THREADS]" >&2; exit 2; }
sample="$1" ref="$2" r1="$3" r2="$4" out="$5" threads="${6:-2}"
mkdir -p "$out"
tmp="$out/.tmp-align-$sample"
rm -rf "$tmp" && mkdir -p "$tmp"

bwa mem -t "$threads" -R "@RG\tID:$sample\tSM:$sample\tPL:ILLUMINA\tLB:$sample" "$ref" "$r1" "$r2" 2> "$tmp/bwa.log" \
  | samtools fixmate -m -u - - \
  | samtools sort -u -@ "$threads" -T "$tmp/sort" - \
  | samtools markdup -@ "$threads" --write-index -f "$tmp/$sample.markdup.txt" \
      -T "$tmp/markdup" - "$tmp/$sample.bam##idx##$tmp/$sample.bam.bai"

mv -f "$tmp/$sample.bam" "$tmp/$sample.markdup.txt" "$out"/
mv -f "$tmp/$sample.bam.bai" "$out"/
rm -rf "$tmp"
