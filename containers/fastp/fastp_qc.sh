#!/usr/bin/env bash
# Read QC and adapter/quality trimming of one sample's FASTQs (step fastp), paired-end or single-end.
# usage: fastp_qc.sh SAMPLE_ID R1.fastq.gz R2.fastq.gz|- OUT_DIR [THREADS]
#   R2 "-" means single-end reads (no R2): fastp runs single-end and writes no trimmed R2.
# writes: OUT_DIR/SAMPLE_ID.trimmed_R1.fastq.gz, .trimmed_R2.fastq.gz (paired-end only),
#         OUT_DIR/SAMPLE_ID.fastp.json, .fastp.html, .fastp.versions.json, and the log .fastp.log
# The contract (arguments, inputs, outputs, resources) is fastp/steps.yaml.
#
# fastp exits 0 on a truncated FASTQ or on mates that do not pair up, and the sample would be
# published with part of its reads. So the reads are checked first (in one pass per file, beside
# fastp), and any of these fails the step with exit 3, an input error naming the file and the cause:
#   * a FASTQ that is not one whole gzip file (truncated, corrupt, plain text named .fastq.gz),
#     not whole 4-line FASTQ records, or empty;
#   * R1 and R2 with different numbers of reads, or mates whose names differ (bwa's rule: the
#     name's first word, without a trailing /1 or /2);
#   * fastp reporting an ERROR or "different read numbers", reading fewer reads than the files
#     hold, or keeping none.
# Outputs are written under temporary names and renamed at the end, so a killed step never
# leaves a file that looks finished; the log is written in place and kept whatever happens.
set -euo pipefail
common="$(dirname "$0")/seqflow_common.sh"
[ -f "$common" ] || common="$(dirname "$0")/../_common/seqflow_common.sh"
# shellcheck source=containers/_common/seqflow_common.sh
. "$common"
[ "$#" -ge 4 ] && [ "$#" -le 5 ] || { echo "usage: $0 SAMPLE_ID R1 R2|- OUT_DIR [THREADS]" >&2; exit 2; }
sample="$1" r1="$2" r2="$3" out="$4" threads="${5:-2}"
seqflow_check_sample_id "$sample"
seqflow_check_threads "$threads"
[ -n "$r1" ] && [ "$r1" != - ] || { echo "R1 must be a FASTQ file (R2 may be - for single-end reads)" >&2; exit 2; }
[ -n "$r2" ] || { echo "R2 must be a FASTQ file or - (single-end reads)" >&2; exit 2; }
# a path that starts with - would be read as an option
case "$r1" in -*) r1="./$r1" ;; esac
case "$r2" in -?*) r2="./$r2" ;; esac
mkdir -p "$out"
seqflow_begin "$out/$sample.fastp.log" "sample $sample"
tmp="$out/.tmp-fastp-$sample"
rm -rf "$tmp" && mkdir -p "$tmp"

# scan_fastq FILE CHECK: the read names of a gzipped FASTQ on stdout, one a line (bwa's rule: the
# first word without the @ and a trailing /1 or /2); CHECK.status gets gzip's exit status, CHECK.gzip
# its message, CHECK.records "<lines> <first line that breaks the 4-line layout, or 0>".
scan_fastq() {
  set +e
  gzip -cd "$1" 2> "$2.gzip" | LC_ALL=C awk -v records="$2.records" '
    NR % 4 == 1 { if (!bad && substr($0, 1, 1) != "@") bad = NR
                  name = $1; sub(/^@/, "", name); sub(/\/[12]$/, "", name); print name; next }
    NR % 4 == 3 { if (!bad && substr($0, 1, 1) != "+") bad = NR }
    END { print NR, bad + 0 > records }'
  echo "${PIPESTATUS[0]}" > "$2.status"
}

# check_reads: scan R1 (and R2, in step with it, comparing the mates' names); $tmp/check_pairs
# gets "<first read whose mates' names differ, or 0>\t<R1 name>\t<R2 name>".
check_reads() {
  if [ "$r2" = - ]; then
    scan_fastq "$r1" "$tmp/check_r1" > /dev/null
    return 0
  fi
  mkfifo "$tmp/names_r1" "$tmp/names_r2"
  scan_fastq "$r1" "$tmp/check_r1" > "$tmp/names_r1" &
  local p1=$!
  scan_fastq "$r2" "$tmp/check_r2" > "$tmp/names_r2" &
  local p2=$!
  paste "$tmp/names_r1" "$tmp/names_r2" | LC_ALL=C awk -F '\t' -v out="$tmp/check_pairs" '
    !first && $1 != $2 { first = NR; a = $1; b = $2 }
    END { printf "%d\t%s\t%s\n", first, substr(a, 1, 200), substr(b, 1, 200) > out }'
  wait "$p1" "$p2" || true
}

# count_reads END FILE CHECK: READS= the number of reads of FILE, or an input error naming END, FILE
# and the cause (not in a $(...) subshell: the error's cause must reach the exit trap)
count_reads() {
  local end="$1" file="$2" check="$3" status lines bad
  [ -s "$file" ] || seqflow_input_error "$end file $file is empty (0 bytes): it has no reads"
  status="$(cat "$check.status" 2> /dev/null || echo 1)"
  if [ "$status" -ne 0 ]; then
    local said
    said="$(grep -v '^[[:space:]]*$' "$check.gzip" | head -n 1)" || true
    if [ "$(head -c 2 "$file" | od -An -tx1 | tr -d ' \n')" != 1f8b ]; then
      seqflow_input_error "$end file $file is not gzip-compressed (a FASTQ must be .fastq.gz): ${said:-gzip exited with $status}"
    fi
    seqflow_input_error "$end file $file is truncated or corrupt, not one whole gzip file: ${said:-gzip exited with $status}"
  fi
  read -r lines bad < "$check.records" || seqflow_input_error "$end file $file could not be read to its end"
  [ "$lines" -gt 0 ] || seqflow_input_error "$end file $file has no reads"
  [ "$bad" -eq 0 ] || seqflow_input_error "$end file $file is not FASTQ: line $bad does not start a 4-line record with '@' (or '+' on its third line)"
  [ $((lines % 4)) -eq 0 ] || seqflow_input_error "$end file $file ends inside a read: $lines lines are not whole 4-line FASTQ records"
  READS=$((lines / 4))
}

check_reads 2> "$tmp/check.stderr" &
checks=$!

pe=()
[ "$r2" = - ] || pe=(--in2 "$r2" --out2 "$tmp/$sample.trimmed_R2.fastq.gz" --detect_adapter_for_pe)
printf '== fastp\n' >> "$SEQFLOW_LOG"
from=$(($(wc -l < "$SEQFLOW_LOG") + 1))
fastp_status=0
fastp --in1 "$r1" --out1 "$tmp/$sample.trimmed_R1.fastq.gz" "${pe[@]}" --thread "$threads" \
  --json "$tmp/$sample.fastp.json" --html "$tmp/$sample.fastp.html" --report_title "$sample" \
  2>> "$SEQFLOW_LOG" || fastp_status=$?
wait "$checks" || true
printf '== read checks (gzip, FASTQ records, mates)\n' >> "$SEQFLOW_LOG"
cat "$tmp/check.stderr" "$tmp"/check_r*.gzip >> "$SEQFLOW_LOG" 2> /dev/null || true

# the reads themselves first: a bad file is the cause of whatever fastp said about it
count_reads R1 "$r1" "$tmp/check_r1"
reads_r1=$READS reads_r2=0 files="R1 file $r1"
if [ "$r2" != - ]; then
  count_reads R2 "$r2" "$tmp/check_r2"
  reads_r2=$READS files+=" and R2 file $r2"
  [ "$reads_r1" -eq "$reads_r2" ] || seqflow_input_error \
    "R1 file $r1 has $reads_r1 reads but R2 file $r2 has $reads_r2: the mates do not pair up"
  IFS=$'\t' read -r first name1 name2 < "$tmp/check_pairs" || first=0
  [ "$first" -eq 0 ] || seqflow_input_error "paired reads have different names: read $first is '$name1' in R1 file $r1 but '$name2' in R2 file $r2"
fi
[ "$fastp_status" -eq 0 ] || seqflow_tool_failed fastp "$fastp_status" "$SEQFLOW_LOG" "$from"
said="$(tail -n "+$from" "$SEQFLOW_LOG" | grep -m 1 -A 1 -E '^ERROR|different read numbers' | paste -sd ' ')" || true
[ -z "$said" ] || seqflow_input_error "fastp reported on $files: $said"

# fastp's own count of what it read and kept
counts="$(python3 -c '
import json, sys
report = json.load(open(sys.argv[1]))
print(report["read1_before_filtering"]["total_reads"], report.get("read2_before_filtering", {}).get("total_reads", 0),
      report["summary"]["after_filtering"]["total_reads"])' "$tmp/$sample.fastp.json")"
read -r fastp_r1 fastp_r2 kept <<< "$counts"
[ "$fastp_r1" -eq "$reads_r1" ] || seqflow_input_error "fastp read $fastp_r1 of the $reads_r1 reads of R1 file $r1"
[ "$r2" = - ] || [ "$fastp_r2" -eq "$reads_r2" ] || seqflow_input_error "fastp read $fastp_r2 of the $reads_r2 reads of R2 file $r2"
[ "$kept" -gt 0 ] || seqflow_input_error "no read of $files passed fastp's filters (quality, length, N bases)"

seqflow_write_versions "$tmp/$sample.fastp.versions.json" fastp
outputs=("$sample.trimmed_R1.fastq.gz" "$sample.fastp.json" "$sample.fastp.html" "$sample.fastp.versions.json")
[ "$r2" = - ] || outputs+=("$sample.trimmed_R2.fastq.gz")
for file in "${outputs[@]}"; do mv -f "$tmp/$file" "$out/"; done
rm -rf "$tmp"
