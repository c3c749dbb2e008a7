#!/usr/bin/env bash
# Read QC and adapter/quality trimming of one sample's paired FASTQs.
# usage: fastp_qc.sh SAMPLE_ID R1.fastq.gz R2.fastq.gz OUT_DIR [THREADS]
# writes: OUT_DIR/SAMPLE_ID.trimmed_R1.fastq.gz, .trimmed_R2.fastq.gz,
#         OUT_DIR/SAMPLE_ID.fastp.json, OUT_DIR/SAMPLE_ID.fastp.html
# Outputs are written under temporary names and renamed at the end, so a
# killed step never leaves a file that looks finished.
set -euo pipefail
[ "$#" -ge 4 ] || { echo "usage: $0 SAMPLE_ID R1 R2 OUT_DIR [THREADS]" >&2; exit 2; }
sample="$1" r1="$2" r2="$3" out="$4" threads="${5:-2}"
mkdir -p "$out"
tmp="$out/.tmp-fastp-$sample"
rm -rf "$tmp" && mkdir -p "$tmp"

fastp --in1 "$r1" --in2 "$r2" \
  --out1 "$tmp/$sample.trimmed_R1.fastq.gz" --out2 "$tmp/$sample.trimmed_R2.fastq.gz" \
  --detect_adapter_for_pe --thread "$threads" \
  --json "$tmp/$sample.fastp.json" --html "$tmp/$sample.fastp.html" \
  --report_title "$sample" 2> "$tmp/$sample.fastp.log"

mv -f "$tmp"/* "$out"/ && rmdir "$tmp"
