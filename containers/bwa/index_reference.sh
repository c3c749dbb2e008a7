#!/usr/bin/env bash
# Builds the bwa index and the FASTA index of a reference once, beside it (step index_reference, aligner bwa).
# usage: index_reference.sh REFERENCE.fa [OUT_DIR]
# writes, into OUT_DIR (default: the FASTA's folder; on Batch the job's outputs/ folder, which the
# staging entrypoint uploads beside the FASTA in S3), named after the FASTA's file name:
#         REFERENCE.fa.{amb,ann,bwt,pac,sa}, REFERENCE.fa.fai, REFERENCE.fa.bwa-index.log,
#         REFERENCE.fa.seqflow-index-bwa.versions.json,
#         then the marker REFERENCE.fa.seqflow-index-bwa.ok (its presence means the index is whole).
# The contract (arguments, inputs, outputs, resources) is bwa/steps.yaml.
set -euo pipefail
common="$(dirname "$0")/seqflow_common.sh"
[ -f "$common" ] || common="$(dirname "$0")/../_common/seqflow_common.sh"
# shellcheck source=containers/_common/seqflow_common.sh
. "$common"
[ "$#" -ge 1 ] && [ "$#" -le 2 ] || { echo "usage: $0 REFERENCE.fa [OUT_DIR]" >&2; exit 2; }
ref="$1"
out="${2:-$(dirname "$ref")}"
mkdir -p "$out"
idx="$out/$(basename "$ref")"
marker="$idx.seqflow-index-bwa.ok"
[ -f "$marker" ] && exit 0
# the tools' stderr goes to the log, and a failure names the tool and its first error line
seqflow_begin "$idx.bwa-index.log" "reference $ref"
seqflow_run "samtools faidx" samtools faidx "$ref" --fai-idx "$idx.fai.tmp-$$"
mv -f "$idx.fai.tmp-$$" "$idx.fai"
# bwa writes five files under the -p prefix: build them under a temporary
# prefix so a killed indexing never leaves a half index under the real name
tmp="$idx.tmp-$$"
seqflow_run "bwa index" bwa index -p "$tmp" "$ref"
for ext in amb ann bwt pac sa; do mv -f "$tmp.$ext" "$idx.$ext"; done
seqflow_write_versions "$idx.seqflow-index-bwa.versions.json" bwa samtools
touch "$marker"
