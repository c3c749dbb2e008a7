#!/usr/bin/env bash
# Calls, normalises and indexes one sample's variants with bcftools.
# usage: call_variants.sh SAMPLE_ID REFERENCE.fa SAMPLE.bam OUT_DIR [PLOIDY] [THREADS]
# writes: OUT_DIR/SAMPLE_ID.vcf.gz and OUT_DIR/SAMPLE_ID.vcf.gz.tbi
# PLOIDY is 1 for haploid genomes (phage, bacteria) or 2 (default).
set -euo pipefail
[ "$#" -ge 4 ] || { echo "usage: $0 SAMPLE_ID REFERENCE.fa SAMPLE.bam OUT_DIR [PLOIDY] [THREADS]" >&2; exit 2; }
sample="$1" ref="$2" bam="$3" out="$4" ploidy="${5:-2}" threads="${6:-2}"
case "$ploidy" in 1|2) ;; *) echo "PLOIDY must be 1 or 2, got: $ploidy" >&2; exit 2 ;; esac
mkdir -p "$out"
tmp="$out/.tmp-call-$sample"
rm -rf "$tmp" && mkdir -p "$tmp"

# duplicates are marked upstream; mpileup skips them by default (flag 1024)
bcftools mpileup --threads "$threads" -f "$ref" --max-depth 1000 -a FORMAT/AD,FORMAT/DP,INFO/AD -Ou "$bam" \
  | bcftools call --threads "$threads" -m -v --ploidy "$ploidy" -Ou \
  | bcftools norm --threads "$threads" -f "$ref" -m -any -Oz -o "$tmp/$sample.vcf.gz"
tabix -p vcf "$tmp/$sample.vcf.gz"

mv -f "$tmp/$sample.vcf.gz" "$out"/
mv -f "$tmp/$sample.vcf.gz.tbi" "$out"/
rm -rf "$tmp"
