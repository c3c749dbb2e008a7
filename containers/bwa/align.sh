#!/usr/bin/env bash
# Aligns one sample with bwa mem and produces a duplicate-marked, sorted, indexed BAM (step align, aligner bwa).
# usage: align.sh SAMPLE_ID REFERENCE.fa R1.fastq.gz R2.fastq.gz|- OUT_DIR [THREADS]
#   R2 "-" means single-end reads: bwa mem aligns R1 alone (fixmate leaves unpaired reads as they
#   are; markdup marks single-end duplicates by position and strand).
# needs: the bwa index beside REFERENCE.fa (index_reference.sh)
# writes: OUT_DIR/SAMPLE_ID.bam, .bam.bai, .markdup.txt, .align.versions.json, and the log .align.log
# Mates whose names differ are an input error (exit 3) with bwa's own message; any other failure
# names the first stage of the pipeline that failed and its own error line.
# The contract (arguments, inputs, outputs, resources) is bwa/steps.yaml.
set -euo pipefail
common="$(dirname "$0")/seqflow_common.sh"
[ -f "$common" ] || common="$(dirname "$0")/../_common/seqflow_common.sh"
# shellcheck source=containers/_common/seqflow_common.sh
. "$common"
[ "$#" -ge 5 ] && [ "$#" -le 6 ] || { echo "usage: $0 SAMPLE_ID REFERENCE.fa R1 R2|- OUT_DIR [THREADS]" >&2; exit 2; }
sample="$1" ref="$2" r1="$3" r2="$4" out="$5" threads="${6:-2}"
seqflow_check_sample_id "$sample"
seqflow_check_threads "$threads"
[ -n "$r1" ] && [ "$r1" != - ] && [ -n "$r2" ] || { echo "R1 must be a FASTQ file, R2 a FASTQ file or - (single-end)" >&2; exit 2; }
reads=("$r1")
[ "$r2" = - ] || reads+=("$r2")
mkdir -p "$out"
seqflow_begin "$out/$sample.align.log" "sample $sample"
tmp="$out/.tmp-align-$sample"
rm -rf "$tmp" && mkdir -p "$tmp"

# each stage's stderr apart, so that the failure names the stage that caused it
set +e
bwa mem -t "$threads" -R "@RG\tID:$sample\tSM:$sample\tPL:ILLUMINA\tLB:$sample" "$ref" "${reads[@]}" 2> "$tmp/1.stderr" \
  | samtools fixmate -m -u - - 2> "$tmp/2.stderr" \
  | samtools sort -u -@ "$threads" -T "$tmp/sort" - 2> "$tmp/3.stderr" \
  | samtools markdup -@ "$threads" --write-index -f "$tmp/$sample.markdup.txt" \
      -T "$tmp/markdup" - "$tmp/$sample.bam##idx##$tmp/$sample.bam.bai" 2> "$tmp/4.stderr"
status=("${PIPESTATUS[@]}")
set -e
if ! seqflow_pipeline_end "$tmp" "bwa mem=${status[0]}" "samtools fixmate=${status[1]}" \
    "samtools sort=${status[2]}" "samtools markdup=${status[3]}"; then
  # bwa checks that mates carry one name: the reads are at fault, not the run
  if [ "$SEQFLOW_FAILED_STAGE" = "bwa mem" ] && said="$(grep -m 1 'paired reads have different names' "$tmp/1.stderr")"; then
    seqflow_input_error "R1 file $r1 and R2 file $r2 do not pair up: bwa: $said"
  fi
  seqflow_pipeline_failed
fi
seqflow_write_versions "$tmp/$sample.align.versions.json" bwa samtools

mv -f "$tmp/$sample.bam" "$tmp/$sample.markdup.txt" "$tmp/$sample.align.versions.json" "$out"/
mv -f "$tmp/$sample.bam.bai" "$out"/
rm -rf "$tmp"
