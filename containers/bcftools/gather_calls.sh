#!/usr/bin/env bash
# Gathers one sample's calling shards into its VCF (step gather_calls, scope gather: after call_variants
# ran once per calling shard, seqflow.analysis.scatter).
# usage: gather_calls.sh SAMPLE_ID SHARDS_DIR SHARD_KEYS OUT_DIR [THREADS]
# needs: SHARDS_DIR/KEY/SAMPLE_ID.vcf.gz, .call_variants.versions.json and .call_variants.log of every
# KEY of SHARD_KEYS (comma-separated, in genome order: the shards' keys, seqflow.references.intervals)
# writes: OUT_DIR/SAMPLE_ID.vcf.gz, .vcf.gz.tbi, .call_variants.versions.json (the shards' caller
# versions, which must all be the same) and the log .call_variants.log (this step's stderr, then each
# shard's log under its key): the outputs of call_variants, so later steps read them alike.
# The shards own disjoint regions in order and write only the records whose POS they own
# (call_variants.sh), so `bcftools concat --naive` (no decompression) yields a sorted VCF holding
# every record once. One shard is copied as it is.
# The contract (arguments, inputs, outputs, resources) is bcftools/steps.yaml.
set -euo pipefail
common="$(dirname "$0")/seqflow_common.sh"
[ -f "$common" ] || common="$(dirname "$0")/../_common/seqflow_common.sh"
# shellcheck source=containers/_common/seqflow_common.sh
. "$common"
[ "$#" -ge 4 ] && [ "$#" -le 5 ] || { echo "usage: $0 SAMPLE_ID SHARDS_DIR SHARD_KEYS OUT_DIR [THREADS]" >&2; exit 2; }
sample="$1" shards="$2" keys="$3" out="$4" threads="${5:-2}"
seqflow_check_sample_id "$sample"
seqflow_check_threads "$threads"
IFS=, read -r -a key_list <<< "$keys"
[ "${#key_list[@]}" -ge 1 ] || { echo "SHARD_KEYS: name at least one shard" >&2; exit 2; }
for key in "${key_list[@]}"; do
  [[ "$key" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || { echo "SHARD_KEYS: '$key' is not a shard key (e.g. 0003-1a2b3c4d)" >&2; exit 2; }
done
mkdir -p "$out"
seqflow_begin "$out/$sample.call_variants.log" "sample $sample"
tmp="$out/.tmp-gather-$sample"
rm -rf "$tmp" && mkdir -p "$tmp"

for key in "${key_list[@]}"; do
  for suffix in vcf.gz call_variants.versions.json call_variants.log; do
    [ -f "$shards/$key/$sample.$suffix" ] || seqflow_input_error "shard $key has no $shards/$key/$sample.$suffix"
  done
  cmp -s "$shards/${key_list[0]}/$sample.call_variants.versions.json" "$shards/$key/$sample.call_variants.versions.json" \
    || seqflow_input_error "shard $key was called with other tool versions than shard ${key_list[0]}"
  printf '%s\n' "$shards/$key/$sample.vcf.gz" >> "$tmp/shards.txt"
done

if [ "${#key_list[@]}" -eq 1 ]; then
  cp "$shards/${key_list[0]}/$sample.vcf.gz" "$tmp/$sample.vcf.gz"
else
  seqflow_run "bcftools concat" bcftools concat --naive --threads "$threads" -f "$tmp/shards.txt" -o "$tmp/$sample.vcf.gz"
fi
seqflow_run "tabix" tabix -f -p vcf "$tmp/$sample.vcf.gz"
cp "$shards/${key_list[0]}/$sample.call_variants.versions.json" "$tmp/$sample.call_variants.versions.json"
# this step's own tools are recorded in its log (the versions output is the shards' caller's)
seqflow_write_versions "$tmp/gather.versions.json" bcftools tabix
printf '== gather_calls versions: %s\n' "$(cat "$tmp/gather.versions.json")" >> "$SEQFLOW_LOG"
rm -f "$tmp/shards.txt" "$tmp/gather.versions.json"
for key in "${key_list[@]}"; do
  printf '== shard %s\n' "$key" >> "$SEQFLOW_LOG"
  cat "$shards/$key/$sample.call_variants.log" >> "$SEQFLOW_LOG"
done

mv -f "$tmp"/* "$out"/ && rmdir "$tmp"
