#!/usr/bin/env bash
# Builds the bwa index and the FASTA index of a reference once, beside it.
# usage: index_reference.sh REFERENCE.fa
# writes: REFERENCE.fa.{amb,ann,bwt,pac,sa}, REFERENCE.fa.fai, then the marker
#         REFERENCE.fa.seqflow-index-bwa.ok (its presence means the index is whole).
set -euo pipefail
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
touch "$marker"
