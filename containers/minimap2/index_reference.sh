#!/usr/bin/env bash
# Builds the minimap2 short-read index and the FASTA index of a reference once, beside it
# (step index_reference, aligner minimap2).
# usage: index_reference.sh REFERENCE.fa [OUT_DIR]
# writes into OUT_DIR (default: the FASTA's folder), named after the FASTA's file name:
#         REFERENCE.fa.mmi, REFERENCE.fa.fai, REFERENCE.fa.minimap2-index.log,
#         REFERENCE.fa.seqflow-index-minimap2.versions.json,
#         then the marker REFERENCE.fa.seqflow-index-minimap2.ok (its presence means the index is whole).
# The contract (arguments, inputs, outputs, resources) is minimap2/steps.yaml.
set -euo pipefail
common="$(dirname "$0")/seqflow_common.sh"
[ -f "$common" ] || common="$(dirname "$0")/../_common/seqflow_common.sh"
# shellcheck source=containers/_common/seqflow_common.sh
. "$common"
[ "$#" -ge 1 ] && [ "$#" -le 2 ] || { echo "usage: $0 REFERENCE.fa [OUT_DIR]" >&2; exit 2; }
ref="$1"
# OUT_DIR: default the FASTA's folder; on Batch the job's outputs/ folder (uploaded beside the FASTA)
out="${2:-$(dirname "$ref")}"
mkdir -p "$out"
idx="$out/$(basename "$ref")"
marker="$idx.seqflow-index-minimap2.ok"
[ -f "$marker" ] && exit 0
# the tools' stderr goes to the log, and a failure names the tool and its first error line
seqflow_begin "$idx.minimap2-index.log" "reference $ref"
seqflow_run "samtools faidx" samtools faidx "$ref" --fai-idx "$idx.fai.tmp-$$"
mv -f "$idx.fai.tmp-$$" "$idx.fai"
seqflow_run "minimap2 -d" minimap2 -x sr -d "$idx.mmi.tmp-$$" "$ref"
mv -f "$idx.mmi.tmp-$$" "$idx.mmi"
seqflow_write_versions "$idx.seqflow-index-minimap2.versions.json" minimap2 samtools
touch "$marker"
