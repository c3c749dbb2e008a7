#!/usr/bin/env bash
# Calls, normalises and indexes one sample's variants with bcftools (step call_variants, caller bcftools).
# usage: call_variants.sh SAMPLE_ID REFERENCE.fa SAMPLE.bam OUT_DIR PLOIDY_FILE [THREADS [REGIONS]]
# needs: REFERENCE.fa.fai beside the FASTA and SAMPLE.bam.bai beside the BAM
# writes: OUT_DIR/SAMPLE_ID.vcf.gz, .vcf.gz.tbi, .call_variants.versions.json, and the log .call_variants.log
# PLOIDY_FILE is the reference's bcftools ploidy file (the reference catalogue writes
# <name>.ploidy beside the FASTA): lines CHROM FROM TO SEX PLOIDY, e.g. "chrM 1 16569 * 1",
# and a default line "* * * * 2". SEX "*" applies a line to every sample.
# REGIONS: "-" (the default) calls the whole genome; else one calling shard, the comma-separated
# regions CONTIG:START-END (1-based, inclusive) it owns (seqflow.references.intervals; the arguments
# are read by seqflow_call_variants_args of _common/seqflow_common.sh). The shard piles up its regions plus SEQFLOW_CALL_PAD bases (default 1000) on each side and keeps the records
# whose POS (after normalisation) lies in its own regions: a read, an indel or a left-shift across a
# border is seen as in the whole-genome run, and every record is written by exactly one shard, so
# the shards' VCFs, concatenated in order, hold the whole-genome records.
# The contract (arguments, inputs, outputs, resources) is bcftools/steps.yaml.
set -euo pipefail
common="$(dirname "$0")/seqflow_common.sh"
[ -f "$common" ] || common="$(dirname "$0")/../_common/seqflow_common.sh"
# shellcheck source=containers/_common/seqflow_common.sh
. "$common"
# the arguments (usage, REGIONS, PLOIDY_FILE) every caller's script reads alike
seqflow_call_variants_args "$@"
seqflow_check_sample_id "$sample"
seqflow_check_threads "$threads"
pad="${SEQFLOW_CALL_PAD:-1000}"
[[ "$pad" =~ ^[0-9]+$ ]] || { echo "SEQFLOW_CALL_PAD must be a whole number of bases, got '$pad'" >&2; exit 2; }
mkdir -p "$out"
seqflow_begin "$out/$sample.call_variants.log" "sample $sample"
tmp="$out/.tmp-call-$sample"
rm -rf "$tmp" && mkdir -p "$tmp"

pileup_where=() owned_only=(cat)
if [ "$regions" != - ]; then
  # contig lengths (the .fai) clip the padding; bcftools reads both files as CHROM BEG END, 1-based inclusive
  if ! printf '%s' "$regions_tsv" | awk -F '\t' -v pad="$pad" -v owned="$tmp/owned.tsv" -v padded="$tmp/padded.tsv" '
      FNR == NR { length_of[$1] = $2; next }
      { if (!($1 in length_of)) { print "REGIONS: contig " $1 " is not in the FASTA index" > "/dev/stderr"; exit 2 }
        lo = $2 - pad; hi = $3 + pad
        printf "%s\t%d\t%d\n", $1, $2, $3 > owned
        printf "%s\t%d\t%d\n", $1, (lo < 1 ? 1 : lo), (hi > length_of[$1] ? length_of[$1] : hi) > padded }
    ' "$ref.fai" -; then
    exit 2
  fi
  # margins of two regions of one contig may overlap: merged, or mpileup would visit their bases twice
  sort -k1,1 -k2,2n "$tmp/padded.tsv" | awk -F '\t' -v OFS='\t' '
      $1 == c && $2 <= e + 1 { if ($3 > e) e = $3; next }
      c != "" { print c, s, e }
      { c = $1; s = $2; e = $3 }
      END { if (c != "") print c, s, e }' > "$tmp/padded.merged.tsv"
  pileup_where=(-R "$tmp/padded.merged.tsv")
  owned_only=(bcftools view -T "$tmp/owned.tsv" --targets-overlap 0 -Ou)
fi

# duplicates are marked upstream; mpileup skips them by default (flag 1024). Single-end reads are
# not "anomalous pairs": mpileup counts them. Each stage's stderr apart, so that a failure names
# the stage that caused it.
set +e
bcftools mpileup --threads "$threads" -f "$ref" "${pileup_where[@]}" --max-depth 1000 -a FORMAT/AD,FORMAT/DP,INFO/AD \
    -Ou "$bam" 2> "$tmp/1.stderr" \
  | bcftools call --threads "$threads" -m -v --ploidy-file "$ploidy" -Ou 2> "$tmp/2.stderr" \
  | bcftools norm --threads "$threads" -f "$ref" -m -any -Ou 2> "$tmp/3.stderr" \
  | "${owned_only[@]}" 2> "$tmp/4.stderr" \
  | bcftools view -Oz -o "$tmp/$sample.vcf.gz" 2> "$tmp/5.stderr"
status=("${PIPESTATUS[@]}")
set -e
seqflow_pipeline_end "$tmp" "bcftools mpileup=${status[0]}" "bcftools call=${status[1]}" \
  "bcftools norm=${status[2]}" "bcftools view (owned regions)=${status[3]}" "bcftools view=${status[4]}" \
  || seqflow_pipeline_failed
seqflow_run tabix tabix -p vcf "$tmp/$sample.vcf.gz"
seqflow_write_versions "$tmp/$sample.call_variants.versions.json" bcftools tabix

mv -f "$tmp/$sample.vcf.gz" "$tmp/$sample.call_variants.versions.json" "$out"/
mv -f "$tmp/$sample.vcf.gz.tbi" "$out"/
rm -rf "$tmp"
