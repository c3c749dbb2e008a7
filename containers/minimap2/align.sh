#!/usr/bin/env bash
# Aligns one sample with minimap2 (short-read preset) and produces a duplicate-marked, sorted, indexed BAM
# (step align, aligner minimap2).
# usage: align.sh SAMPLE_ID REFERENCE.fa R1.fastq.gz R2.fastq.gz|- OUT_DIR [THREADS]
#   R2 "-" means single-end reads: minimap2 aligns R1 alone (fixmate leaves unpaired reads as they
#   are; markdup marks single-end duplicates by position and strand).
# needs: REFERENCE.fa.mmi beside REFERENCE.fa (index_reference.sh)
# writes: OUT_DIR/SAMPLE_ID.bam, .bam.bai, .markdup.txt, .align.versions.json, and the log .align.log
# minimap2 does not compare the mates' names (bwa does): the fastp step has checked them. A failure
# names the first stage of the pipeline that failed and its own error line.
# The contract (arguments, inputs, outputs, resources) is minimap2/steps.yaml.
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
# the prebuilt index is part of the contract: indexing a human FASTA on every run would cost more than the alignment
[ -f "$ref.mmi" ] || { echo "no minimap2 index $ref.mmi: build it with index_reference.sh $ref" >&2; exit 2; }
reads=("$r1")
[ "$r2" = - ] || reads+=("$r2")
mkdir -p "$out"
seqflow_begin "$out/$sample.align.log" "sample $sample"
tmp="$out/.tmp-align-$sample"
rm -rf "$tmp" && mkdir -p "$tmp"

# each stage's stderr apart, so that the failure names the stage that caused it
set +e
minimap2 -ax sr -t "$threads" -R "@RG\tID:$sample\tSM:$sample\tPL:ILLUMINA\tLB:$sample" "$ref.mmi" "${reads[@]}" 2> "$tmp/1.stderr" \
  | samtools fixmate -m -u - - 2> "$tmp/2.stderr" \
  | samtools sort -u -@ "$threads" -T "$tmp/sort" - 2> "$tmp/3.stderr" \
  | samtools markdup -@ "$threads" --write-index -f "$tmp/$sample.markdup.txt" \
      -T "$tmp/markdup" - "$tmp/$sample.bam##idx##$tmp/$sample.bam.bai" 2> "$tmp/4.stderr"
status=("${PIPESTATUS[@]}")
set -e
seqflow_pipeline_end "$tmp" "minimap2=${status[0]}" "samtools fixmate=${status[1]}" \
  "samtools sort=${status[2]}" "samtools markdup=${status[3]}" || seqflow_pipeline_failed
seqflow_write_versions "$tmp/$sample.align.versions.json" minimap2 samtools

mv -f "$tmp/$sample.bam" "$tmp/$sample.markdup.txt" "$tmp/$sample.align.versions.json" "$out"/
mv -f "$tmp/$sample.bam.bai" "$out"/
rm -rf "$tmp"
