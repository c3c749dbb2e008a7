#!/usr/bin/env bash
# Builds the bwa index and the FASTA index of a reference once, beside it (step index_reference, aligner bwa).
# usage: index_reference.sh REFERENCE.fa
# writes: REFERENCE.fa.{amb,ann,bwt,pac,sa}, REFERENCE.fa.fai, REFERENCE.fa.bwa-index.log,
#         REFERENCE.fa.seqflow-index-bwa.versions.json,
#         then the marker REFERENCE.fa.seqflow-index-bwa.ok (its presence means the index is whole).
# The contract (arguments, inputs, outputs, resources) is bwa/steps.yaml.
set -euo pipefail
common="$(dirname "$0")/seqflow_common.sh"
[ -f "$common" ] || common="$(dirname "$0")/../_common/seqflow_common.sh"
# shellcheck source=containers/_common/seqflow_common.sh
. "$common"
[ "$#" -eq 1 ] || { echo "usage: $0 REFERENCE.fa" >&2; exit 2; }
ref="$1"
marker="$ref.seqflow-index-bwa.ok"
[ -f "$marker" ] && exit 0
samtools faidx "$ref"
# bwa writes five files under the -p prefix: build them under a temporary
# prefix so a killed indexing never leaves a half index under the real name
tmp="$ref.tmp-$$"
bwa index -p "$tmp" "$ref" 2> "$ref.bwa-index.log"
for ext in amb ann bwt pac sa; do mv -f "$tmp.$ext" "$ref.$ext"; done
seqflow_write_versions "$ref.seqflow-index-bwa.versions.json" bwa samtools
touch "$marker"
