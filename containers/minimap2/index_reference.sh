#!/usr/bin/env bash
# Builds the minimap2 short-read index and the FASTA index of a reference once, beside it.
# usage: index_reference.sh REFERENCE.fa
# writes: REFERENCE.fa.mmi, REFERENCE.fa.fai, then the marker
#         REFERENCE.fa.seqflow-index-minimap2.ok (its presence means the index is whole).
set -euo pipefail
[ "$#" -eq 1 ] || { echo "usage: $0 REFERENCE.fa" >&2; exit 2; }
ref="$1"
marker="$ref.seqflow-index-minimap2.ok"
[ -f "$marker" ] && exit 0
samtools faidx "$ref"
minimap2 -x sr -d "$ref.mmi.tmp-$$" "$ref" 2> "$ref.minimap2-index.log"
mv -f "$ref.mmi.tmp-$$" "$ref.mmi"
touch "$marker"
