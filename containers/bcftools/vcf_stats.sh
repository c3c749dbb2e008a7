#!/usr/bin/env bash
# Summary statistics of one sample's calls: counts by type, Ti/Tv, indel sizes (step vcf_stats).
# usage: vcf_stats.sh SAMPLE_ID REFERENCE.fa SAMPLE.vcf.gz OUT_DIR [THREADS]
# needs: REFERENCE.fa.fai beside the FASTA and SAMPLE.vcf.gz.tbi beside the VCF
# writes: OUT_DIR/SAMPLE_ID.bcftools_stats.txt, .vcf_stats.versions.json, and the log .vcf_stats.log
# The contract (arguments, inputs, outputs, resources) is bcftools/steps.yaml.
set -euo pipefail
common="$(dirname "$0")/seqflow_common.sh"
[ -f "$common" ] || common="$(dirname "$0")/../_common/seqflow_common.sh"
# shellcheck source=containers/_common/seqflow_common.sh
. "$common"
[ "$#" -ge 4 ] && [ "$#" -le 5 ] || { echo "usage: $0 SAMPLE_ID REFERENCE.fa SAMPLE.vcf.gz OUT_DIR [THREADS]" >&2; exit 2; }
sample="$1" ref="$2" vcf="$3" out="$4" threads="${5:-2}"
seqflow_check_sample_id "$sample"
seqflow_check_threads "$threads"
mkdir -p "$out"
seqflow_begin "$out/$sample.vcf_stats.log" "sample $sample"
tmp="$out/.tmp-vcfstats-$sample"
rm -rf "$tmp" && mkdir -p "$tmp"

seqflow_run "bcftools stats" bcftools stats --threads "$threads" -F "$ref" -s - "$vcf" > "$tmp/$sample.bcftools_stats.txt"
seqflow_write_versions "$tmp/$sample.vcf_stats.versions.json" bcftools

mv -f "$tmp"/* "$out"/ && rmdir "$tmp"
