#!/usr/bin/env bash
# Calls, normalises and indexes one sample's variants with freebayes (step call_variants, caller freebayes).
# usage: call_variants.sh SAMPLE_ID REFERENCE.fa SAMPLE.bam OUT_DIR PLOIDY_FILE [THREADS [REGIONS]]
# needs: REFERENCE.fa.fai beside the FASTA and SAMPLE.bam.bai beside the BAM
# writes: OUT_DIR/SAMPLE_ID.vcf.gz, .vcf.gz.tbi, .call_variants.versions.json, and the log .call_variants.log
# PLOIDY_FILE is the reference's bcftools ploidy file (lines CHROM FROM TO SEX PLOIDY, 1-based, and a
# default line "* * * * N"), the same file the bcftools caller reads: the default line sets
# freebayes --ploidy, the others become its --cnv-map (BED: 0-based starts) for the BAM's read-group
# samples. Only SEX "*" lines apply (seqflow's reference catalogue writes no others; a sex-specific
# line is refused rather than silently ignored).
# REGIONS: "-" (default) the whole genome, else CONTIG:START-END[,...] (1-based, inclusive), the
# calling shard; freebayes reads it as a BED of targets. The arguments are read by
# seqflow_call_variants_args (_common/seqflow_common.sh), as the bcftools caller's.
# freebayes is single-threaded; THREADS goes to bcftools norm/filter. Calls below QUAL 20 are kept
# with FILTER LowQual (freebayes reports every candidate it evaluates; bench/caller_accuracy
# measured the threshold, bench/README.md). Complex and multi-nucleotide alleles are split into
# SNPs and indels (bcftools norm --atomize) and multi-allelic records into one per ALT, left-aligned,
# so that both callers' VCFs compare record by record.
# The contract (arguments, inputs, outputs, resources) is freebayes/steps.yaml.
set -euo pipefail
common="$(dirname "$0")/seqflow_common.sh"
[ -f "$common" ] || common="$(dirname "$0")/../_common/seqflow_common.sh"
# shellcheck source=containers/_common/seqflow_common.sh
. "$common"
# the arguments (usage, REGIONS, PLOIDY_FILE) every caller's script reads alike
seqflow_call_variants_args "$@"
seqflow_check_sample_id "$sample"
seqflow_check_threads "$threads"
mkdir -p "$out"
seqflow_begin "$out/$sample.call_variants.log" "sample $sample"
tmp="$out/.tmp-call-$sample"
rm -rf "$tmp" && mkdir -p "$tmp"

# the samples freebayes will see: the BAM's read groups (align writes SM:<sample_id>)
printf '== samtools view -H (read-group samples)\n' >> "$SEQFLOW_LOG"
samtools view -H "$bam" 2>> "$SEQFLOW_LOG" > "$tmp/header.sam" \
  || seqflow_input_error "$bam: samtools cannot read its header"
mapfile -t samples < <(awk -F'\t' '$1 == "@RG" { for (i = 2; i <= NF; i++) if ($i ~ /^SM:/) print substr($i, 4) }' \
  "$tmp/header.sam" | sort -u)
[ "${#samples[@]}" -gt 0 ] || seqflow_input_error "$bam: no @RG line with SM: (freebayes names samples by read group)"

# the ploidy file as freebayes' default ploidy and copy-number map
default_ploidy=2
: > "$tmp/cnv.bed"
while read -r chrom from to sex n rest; do
  case "$chrom" in ''|'#'*) continue ;; esac
  [[ -z "${rest:-}" && "$n" =~ ^[0-9]+$ ]] || seqflow_input_error "$ploidy: line '$chrom $from $to $sex $n${rest:+ $rest}' is not CHROM FROM TO SEX PLOIDY"
  [ "$sex" = "*" ] || seqflow_input_error "$ploidy: sex-specific line '$chrom $from $to $sex $n': seqflow passes no sample sex to the callers"
  if [ "$chrom" = "*" ]; then default_ploidy="$n"; continue; fi
  [[ "$from" =~ ^[0-9]+$ && "$to" =~ ^[0-9]+$ ]] || seqflow_input_error "$ploidy: line '$chrom $from $to $sex $n': FROM and TO must be positions"
  for s in "${samples[@]}"; do printf '%s\t%s\t%s\t%s\t%s\n' "$chrom" "$((from - 1))" "$to" "$s" "$n"; done >> "$tmp/cnv.bed"
done < "$ploidy"
targets=()
if [ "$regions" != "-" ]; then
  printf '%s' "$regions_tsv" | awk -F '\t' -v OFS='\t' '{ print $1, $2 - 1, $3 }' > "$tmp/targets.bed"
  targets=(--targets "$tmp/targets.bed")
fi

# duplicates are marked upstream; freebayes skips them by default. Each stage's stderr apart, so
# that a failure names the stage that caused it.
set +e
freebayes -f "$ref" --ploidy "$default_ploidy" --cnv-map "$tmp/cnv.bed" "${targets[@]}" "$bam" 2> "$tmp/1.stderr" \
  | bcftools filter --threads "$threads" -s LowQual -e 'QUAL<20' -Ou 2> "$tmp/2.stderr" \
  | bcftools norm --threads "$threads" -f "$ref" -a -m -any -Ou 2> "$tmp/3.stderr" \
  | bcftools sort -T "$tmp/sort" -Oz -o "$tmp/$sample.vcf.gz" 2> "$tmp/4.stderr"
status=("${PIPESTATUS[@]}")
set -e
seqflow_pipeline_end "$tmp" "freebayes=${status[0]}" "bcftools filter=${status[1]}" \
  "bcftools norm=${status[2]}" "bcftools sort=${status[3]}" || seqflow_pipeline_failed
seqflow_run tabix tabix -p vcf "$tmp/$sample.vcf.gz"
seqflow_write_versions "$tmp/$sample.call_variants.versions.json" freebayes bcftools samtools tabix

mv -f "$tmp/$sample.vcf.gz" "$tmp/$sample.call_variants.versions.json" "$out"/
mv -f "$tmp/$sample.vcf.gz.tbi" "$out"/
rm -rf "$tmp"
