#!/usr/bin/env bash
# Builds the minimap2 short-read index and the FASTA index of a reference once, beside it
# (step index_reference, aligner minimap2).
# usage: index_reference.sh REFERENCE.fa
# writes: REFERENCE.fa.mmi, REFERENCE.fa.fai, REFERENCE.fa.minimap2-index.log,
#         REFERENCE.fa.seqflow-index-minimap2.versions.json,
#         then the marker REFERENCE.fa.seqflow-index-minimap2.ok (its presence means the index is whole).
# The contract (arguments, inputs, outputs, resources) is minimap2/steps.yaml.
set -euo pipefail
common="$(dirname "$0")/seqflow_common.sh"
[ -f "$common" ] || common="$(dirname "$0")/../_common/seqflow_common.sh"
# shellcheck source=containers/_common/seqflow_common.sh
. "$common"
[ "$#" -eq 1 ] || { echo "usage: $0 REFERENCE.fa" >&2; exit 2; }
ref="$1"
marker="$ref.seqflow-index-minimap2.ok"
[ -f "$marker" ] && exit 0
samtools faidx "$ref"
minimap2 -x sr -d "$ref.mmi.tmp-$$" "$ref" 2> "$ref.minimap2-index.log"
mv -f "$ref.mmi.tmp-$$" "$ref.mmi"
seqflow_write_versions "$ref.seqflow-index-minimap2.versions.json" minimap2 samtools
touch "$marker"
