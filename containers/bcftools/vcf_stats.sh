#!/usr/bin/env bash
# Summary statistics of one sample's calls (counts by type, Ti/Tv, indel sizes).
# usage: vcf_stats.sh SAMPLE_ID REFERENCE.fa SAMPLE.vcf.gz OUT_DIR
# writes: OUT_DIR/SAMPLE_ID.bcftools_stats.txt
set -euo pipefail
[ "$#" -eq 4 ] || { echo "usage: $0 SAMPLE_ID REFERENCE.fa SAMPLE.vcf.gz OUT_DIR" >&2; exit 2; }
sample="$1" ref="$2" vcf="$3" out="$4"
mkdir -p "$out"
bcftools stats -F "$ref" -s - "$vcf" > "$out/.$sample.bcftools_stats.txt.tmp"
mv -f "$out/.$sample.bcftools_stats.txt.tmp" "$out/$sample.bcftools_stats.txt"
