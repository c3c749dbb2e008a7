#!/usr/bin/env bash
# Calls, normalises and indexes one sample's variants with bcftools (step call_variants, caller bcftools).
# usage: call_variants.sh SAMPLE_ID REFERENCE.fa SAMPLE.bam OUT_DIR PLOIDY_FILE [THREADS]
# needs: REFERENCE.fa.fai beside the FASTA and SAMPLE.bam.bai beside the BAM
# writes: OUT_DIR/SAMPLE_ID.vcf.gz, .vcf.gz.tbi, .call_variants.versions.json, and the log .call_variants.log
# PLOIDY_FILE is the reference's bcftools ploidy file (the reference catalogue writes
# <name>.ploidy beside the FASTA): lines CHROM FROM TO SEX PLOIDY, e.g. "chrM 1 16569 * 1",
# and a default line "* * * * 2". SEX "*" applies a line to every sample.
# The contract (arguments, inputs, outputs, resources) is bcftools/steps.yaml.
set -euo pipefail
common="$(dirname "$0")/seqflow_common.sh"
[ -f "$common" ] || common="$(dirname "$0")/../_common/seqflow_common.sh"
# shellcheck source=containers/_common/seqflow_common.sh
. "$common"
[ "$#" -ge 5 ] && [ "$#" -le 6 ] || {
  echo "usage: $0 SAMPLE_ID REFERENCE.fa SAMPLE.bam OUT_DIR PLOIDY_FILE [THREADS]" >&2; exit 2; }
sample="$1" ref="$2" bam="$3" out="$4" ploidy="$5" threads="${6:-2}"
seqflow_check_sample_id "$sample"
seqflow_check_threads "$threads"
# the former interface took the number 1 or 2 here: say so rather than "file not found"
[ -f "$ploidy" ] || { echo "PLOIDY_FILE '$ploidy' is not a file (a bcftools ploidy file: CHROM FROM TO SEX PLOIDY)" >&2; exit 2; }
mkdir -p "$out"
seqflow_begin "$out/$sample.call_variants.log" "sample $sample"
tmp="$out/.tmp-call-$sample"
rm -rf "$tmp" && mkdir -p "$tmp"

# duplicates are marked upstream; mpileup skips them by default (flag 1024). Single-end reads are
# not "anomalous pairs": mpileup counts them. Each stage's stderr apart, so that a failure names
# the stage that caused it.
set +e
bcftools mpileup --threads "$threads" -f "$ref" --max-depth 1000 -a FORMAT/AD,FORMAT/DP,INFO/AD -Ou "$bam" 2> "$tmp/1.stderr" \
  | bcftools call --threads "$threads" -m -v --ploidy-file "$ploidy" -Ou 2> "$tmp/2.stderr" \
  | bcftools norm --threads "$threads" -f "$ref" -m -any -Oz -o "$tmp/$sample.vcf.gz" 2> "$tmp/3.stderr"
status=("${PIPESTATUS[@]}")
set -e
seqflow_pipeline_end "$tmp" "bcftools mpileup=${status[0]}" "bcftools call=${status[1]}" \
  "bcftools norm=${status[2]}" || seqflow_pipeline_failed
seqflow_run tabix tabix -p vcf "$tmp/$sample.vcf.gz"
seqflow_write_versions "$tmp/$sample.call_variants.versions.json" bcftools tabix

mv -f "$tmp/$sample.vcf.gz" "$tmp/$sample.call_variants.versions.json" "$out"/
mv -f "$tmp/$sample.vcf.gz.tbi" "$out"/
rm -rf "$tmp"
