#!/usr/bin/env bash
# Read QC and adapter/quality trimming of one sample's paired FASTQs (step fastp).
# usage: fastp_qc.sh SAMPLE_ID R1.fastq.gz R2.fastq.gz OUT_DIR [THREADS]
# writes: OUT_DIR/SAMPLE_ID.trimmed_R1.fastq.gz, .trimmed_R2.fastq.gz,
#         OUT_DIR/SAMPLE_ID.fastp.json, .fastp.html, .fastp.versions.json
# The contract (arguments, inputs, outputs, resources) is fastp/steps.yaml.
# Outputs are written under temporary names and renamed at the end, so a
# killed step never leaves a file that looks finished.
set -euo pipefail
common="$(dirname "$0")/seqflow_common.sh"
[ -f "$common" ] || common="$(dirname "$0")/../_common/seqflow_common.sh"
# shellcheck source=containers/_common/seqflow_common.sh
. "$common"
[ "$#" -ge 4 ] && [ "$#" -le 5 ] || { echo "usage: $0 SAMPLE_ID R1 R2 OUT_DIR [THREADS]" >&2; exit 2; }
sample="$1" r1="$2" r2="$3" out="$4" threads="${5:-2}"
seqflow_check_sample_id "$sample"
seqflow_check_threads "$threads"
mkdir -p "$out"
tmp="$out/.tmp-fastp-$sample"
rm -rf "$tmp" && mkdir -p "$tmp"

fastp --in1 "$r1" --in2 "$r2" \
  --out1 "$tmp/$sample.trimmed_R1.fastq.gz" --out2 "$tmp/$sample.trimmed_R2.fastq.gz" \
  --detect_adapter_for_pe --thread "$threads" \
  --json "$tmp/$sample.fastp.json" --html "$tmp/$sample.fastp.html" \
  --report_title "$sample"
seqflow_write_versions "$tmp/$sample.fastp.versions.json" fastp

mv -f "$tmp"/* "$out"/ && rmdir "$tmp"
