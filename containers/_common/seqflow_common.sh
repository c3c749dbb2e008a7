# Shared functions of every seqflow step script (sourced, not executed).
# The images copy this file beside the scripts (/usr/local/bin); in the repository
# it is containers/_common/, one folder up from the scripts. A script finds it with:
#   common="$(dirname "$0")/seqflow_common.sh"
#   [ -f "$common" ] || common="$(dirname "$0")/../_common/seqflow_common.sh"
#   . "$common"

# Exit statuses of every step script (containers/README.md; seqflow.analysis.steps keeps the same
# numbers, a test holds the two together):
#   0  the outputs are complete;
#   2  invalid arguments (usage, SAMPLE_ID, THREADS, a missing index): nothing was run;
#   3  an input error: the data cannot be trusted (a truncated or non-gzip FASTQ, no reads, mates
#      that do not pair up); running it again cannot help, the input must be replaced;
#   any other: a tool failed; the script exits with the tool's status (1 where that would be 2 or 3,
#      so that those keep their meaning) and names the tool and its first error line.
SEQFLOW_EXIT_USAGE=2
SEQFLOW_EXIT_INPUT=3
# the line of stderr that states why a step failed; seqflow.analysis.steps puts it first in its error
SEQFLOW_CAUSE_PREFIX="seqflow-error: "
# how much of the step's log a failure prints on stderr (CloudWatch on Batch and HealthOmics)
SEQFLOW_LOG_TAIL=20

# The Sample_ID rule of seqflow.paths.SAMPLE_ID_PATTERN (a test keeps the two equal).
# The first character is a letter or a digit so that an id is never read as an option.
SEQFLOW_SAMPLE_ID_PATTERN='^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$'

# seqflow_check_sample_id VALUE: exit 2 unless VALUE is a valid Sample_ID. Every
# script checks its SAMPLE_ID before it becomes part of a file name.
seqflow_check_sample_id() {
  # C collation: [A-Za-z] must mean ASCII letters whatever the caller's locale
  local LC_ALL=C
  if ! [[ "$1" =~ $SEQFLOW_SAMPLE_ID_PATTERN ]]; then
    echo "invalid SAMPLE_ID '$1': must match $SEQFLOW_SAMPLE_ID_PATTERN" >&2
    exit 2
  fi
}

# seqflow_check_threads VALUE: exit 2 unless VALUE is a whole number of threads (1-1024).
seqflow_check_threads() {
  if ! [[ "$1" =~ ^[1-9][0-9]{0,3}$ ]] || [ "$1" -gt 1024 ]; then
    echo "invalid THREADS '$1': expected a whole number from 1 to 1024" >&2
    exit 2
  fi
}

# -- the arguments of call_variants (every caller's script takes the same) ----------------------
#
# usage: call_variants.sh SAMPLE_ID REFERENCE.fa SAMPLE.bam OUT_DIR PLOIDY_FILE [THREADS [REGIONS]]
# REGIONS: "-" (the default) calls the whole genome; else one calling shard, the comma-separated
# regions CONTIG:START-END (1-based, inclusive) it owns (seqflow.references.intervals). CONTIG as the
# reference catalogue names contigs (seqflow.references.fasta.simplify_contig_name: [A-Za-z0-9._-]).
SEQFLOW_REGION_PATTERN='^[A-Za-z0-9._-]+:[0-9]+-[0-9]+$'

# seqflow_call_variants_args ARG...: read a call_variants script's arguments into sample, ref, bam,
# out, ploidy, threads (default 2), regions (default -) and regions_tsv (the regions as lines
# CONTIG<TAB>START<TAB>END, 1-based inclusive; empty for -). Exits 2 (nothing written) on a wrong
# number of arguments, a region that is not CONTIG:START-END, or a PLOIDY_FILE that is not a file.
# SAMPLE_ID and THREADS the script checks itself right after, as every step script does.
seqflow_call_variants_args() {
  [ "$#" -ge 5 ] && [ "$#" -le 7 ] || {
    echo "usage: $0 SAMPLE_ID REFERENCE.fa SAMPLE.bam OUT_DIR PLOIDY_FILE [THREADS [REGIONS]]" >&2; exit 2; }
  sample="$1" ref="$2" bam="$3" out="$4" ploidy="$5" threads="${6:-2}" regions="${7:--}" regions_tsv=""
  if [ "$regions" != - ]; then
    local LC_ALL=C r span list=()
    # read -a drops a trailing empty field: "a:1-2," is refused whole rather than read as "a:1-2"
    if [[ "$regions" == *, ]]; then list=("$regions"); else IFS=, read -r -a list <<< "$regions"; fi
    for r in "${list[@]}"; do
      [[ "$r" =~ $SEQFLOW_REGION_PATTERN ]] || {
        echo "REGIONS: '$r' is not CONTIG:START-END (or give - for the whole genome)" >&2; exit 2; }
      span="${r##*:}"
      regions_tsv+="${r%:*}"$'\t'"${span%-*}"$'\t'"${span#*-}"$'\n'
    done
  fi
  # the former interface took the number 1 or 2 here: say so rather than "file not found"
  [ -f "$ploidy" ] || {
    echo "PLOIDY_FILE '$ploidy' is not a file (a bcftools ploidy file: CHROM FROM TO SEX PLOIDY)" >&2; exit 2; }
}

# seqflow_tool_version TOOL: the version TOOL reports about itself, on stdout.
# Each tool has its own way of saying it; all of them are parsed here, once.
seqflow_tool_version() {
  local raw
  case "$1" in
    # bwa has no --version: its usage text (on stderr, exit 1) has "Version: 0.7.17-r1188"
    bwa) raw="$( (bwa 2>&1 || true) | sed -n 's/^Version: *//p')" ;;
    # "samtools 1.16.1", "bcftools 1.16": the first line of --version
    samtools|bcftools) raw="$("$1" --version | sed -n "1s/^$1 //p")" ;;
    # "tabix (htslib) 1.16"
    tabix) raw="$(tabix --version | sed -n '1s/^tabix (htslib) //p')" ;;
    # "2.24-r1122"
    minimap2) raw="$(minimap2 --version)" ;;
    # "fastp 0.23.2", on stderr
    fastp) raw="$(fastp --version 2>&1 | sed -n 's/^fastp //p')" ;;
    # "version:  v1.3.6"
    freebayes) raw="$(freebayes --version | sed -n 's/^version: *v\{0,1\}//p')" ;;
    *) echo "seqflow_tool_version: no version parser for tool '$1'" >&2; return 2 ;;
  esac
  raw="${raw%%[[:space:]]*}"
  # a version goes into JSON unquoted by any escaping: accept only a safe alphabet
  if ! [[ "$raw" =~ ^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$ ]]; then
    echo "seqflow_tool_version: cannot read the version of $1 (got '$raw')" >&2
    return 1
  fi
  printf '%s\n' "$raw"
}

# seqflow_write_versions FILE TOOL...: write {"TOOL": "VERSION", ...} to FILE
# (through a temporary name, so a killed step never leaves half a file).
seqflow_write_versions() {
  local file="$1" tool version sep="" json="{"
  shift
  for tool in "$@"; do
    version="$(seqflow_tool_version "$tool")" || return $?
    json+="$sep\"$tool\": \"$version\""
    sep=", "
  done
  json+="}"
  printf '%s\n' "$json" > "$file.tmp-$$"
  mv -f "$file.tmp-$$" "$file"
}

# -- the step's log and its failures ------------------------------------------------------------
#
# Every tool's stderr goes to one log file kept beside the outputs (OUT_DIR/SAMPLE_ID.STEP.log, an
# output of the step in steps.yaml), written in place from the start so that it is there after a
# failure too. A failure prints the log's last lines and then one line that states the cause:
#   seqflow-error: sample S1: bwa mem exited with 1: [E::bwa_idx_load_from_disk] fail to locate the index files
#   seqflow-error: sample S1: input error: R1 file inputs/S1_R1.fastq.gz is truncated or corrupt: ...

# seqflow_begin LOG SUBJECT: start the step's log LOG (emptied) and report any failure from now on;
# SUBJECT ("sample S1", "reference g.fa") starts the cause line.
seqflow_begin() {
  SEQFLOW_LOG="$1" SEQFLOW_SUBJECT="$2" SEQFLOW_CAUSE="" SEQFLOW_INPUT_ERROR="" SEQFLOW_FAILED_COMMAND=""
  mkdir -p "$(dirname "$SEQFLOW_LOG")"
  : > "$SEQFLOW_LOG"
  # a command that fails outside seqflow_run (mv on a full disk, ...) is named by the exit trap
  set -E
  trap 'SEQFLOW_FAILED_COMMAND="$BASH_COMMAND"' ERR
  trap 'seqflow_on_exit "$?"' EXIT
}

# seqflow_on_exit STATUS: the EXIT trap. On failure: the log's tail and the cause on stderr (and
# the cause in the log), and the exit status of the convention above.
seqflow_on_exit() {
  local status="$1"
  trap - EXIT ERR
  [ "$status" -ne 0 ] || exit 0
  if [ -z "$SEQFLOW_CAUSE" ]; then
    SEQFLOW_CAUSE="${SEQFLOW_FAILED_COMMAND:+the command '$SEQFLOW_FAILED_COMMAND' }exited with $status"
  fi
  # only seqflow_input_error exits 3 and only a usage check exits 2: a tool's 2 or 3 means neither
  if [ -z "$SEQFLOW_INPUT_ERROR" ] && { [ "$status" -eq "$SEQFLOW_EXIT_INPUT" ] || [ "$status" -eq "$SEQFLOW_EXIT_USAGE" ]; }; then
    status=1
  fi
  if [ -s "$SEQFLOW_LOG" ]; then
    printf 'seqflow: the last %s lines of %s:\n' "$SEQFLOW_LOG_TAIL" "$SEQFLOW_LOG" >&2
    tail -n "$SEQFLOW_LOG_TAIL" "$SEQFLOW_LOG" >&2
  fi
  printf '%s%s: %s\n' "$SEQFLOW_CAUSE_PREFIX" "$SEQFLOW_SUBJECT" "$SEQFLOW_CAUSE" | tee -a "$SEQFLOW_LOG" >&2
  exit "$status"
}

# seqflow_input_error MESSAGE: fail with an input error (exit 3); MESSAGE names the file and the cause.
seqflow_input_error() {
  SEQFLOW_CAUSE="input error: $1" SEQFLOW_INPUT_ERROR=1
  exit "$SEQFLOW_EXIT_INPUT"
}

# seqflow_first_error: the first line on stdin that reads like an error, not a later warning.
seqflow_first_error() {
  grep -m 1 -i -E '\[E::|error|fail|fatal|abort|cannot|can.t|no such|not found|truncat|unexpected|invalid|denied|killed|segmentation|no space' || true
}

# seqflow_tool_failed LABEL STATUS STDERR_FILE [FROM_LINE]: fail the step because the tool LABEL
# exited with STATUS; the cause is its first error line in STDERR_FILE (from line FROM_LINE).
seqflow_tool_failed() {
  local label="$1" status="$2" file="$3" from="${4:-1}" line
  # (|| true: grep -m 1 may stop reading early, and pipefail would count tail's SIGPIPE)
  line="$(tail -n "+$from" "$file" | seqflow_first_error)" || true
  [ -n "$line" ] || line="$(tail -n "+$from" "$file" | grep -v '^[[:space:]]*$' | tail -n 1)" || true
  if [ "$status" -gt 128 ]; then
    local signal=$((status - 128))
    SEQFLOW_CAUSE="$label was killed by signal $signal"
    [ "$signal" -ne 9 ] || SEQFLOW_CAUSE+=" (SIGKILL: out of memory, or the job's time ran out)"
  else
    SEQFLOW_CAUSE="$label exited with $status"
  fi
  SEQFLOW_CAUSE+="${line:+: $line}"
  exit "$status"
}

# seqflow_run LABEL COMMAND [ARG...]: run COMMAND with its stderr in the step's log (stdout is the
# caller's); when it fails, fail the step naming LABEL, its status and its first error line.
seqflow_run() {
  local label="$1" status=0 from
  shift
  printf '== %s\n' "$label" >> "$SEQFLOW_LOG"
  from=$(($(wc -l < "$SEQFLOW_LOG") + 1))
  "$@" 2>> "$SEQFLOW_LOG" || status=$?
  [ "$status" -eq 0 ] || seqflow_tool_failed "$label" "$status" "$SEQFLOW_LOG" "$from"
}

# seqflow_pipeline_end DIR LABEL=STATUS...: after a pipeline whose stage n wrote its stderr to
# DIR/n.stderr, append each stage's stderr to the log under its label, in pipeline order. Returns 1
# when a stage failed, with SEQFLOW_FAILED_STAGE and SEQFLOW_FAILED_STATUS set to the first stage
# that failed by itself: a stage killed by SIGPIPE (141) failed because a later one stopped reading,
# and the stages after the one that failed fail for want of input, so the cause is upstream.
seqflow_pipeline_end() {
  local dir="$1" spec label status n=0 first="" sigpipe=""
  shift
  SEQFLOW_FAILED_STAGE="" SEQFLOW_FAILED_STATUS=0
  for spec in "$@"; do
    n=$((n + 1)) label="${spec%=*}" status="${spec##*=}"
    printf '== %s (exit %s)\n' "$label" "$status" >> "$SEQFLOW_LOG"
    [ ! -f "$dir/$n.stderr" ] || cat "$dir/$n.stderr" >> "$SEQFLOW_LOG"
    if [ "$status" -ne 0 ] && [ -z "$first" ]; then
      if [ "$status" -eq 141 ]; then
        sigpipe="${sigpipe:-$n}"
      else
        first="$n" SEQFLOW_FAILED_STAGE="$label" SEQFLOW_FAILED_STATUS="$status"
      fi
    fi
  done
  if [ -z "$first" ] && [ -n "$sigpipe" ]; then
    n=0
    for spec in "$@"; do
      n=$((n + 1))
      [ "$n" -ne "$sigpipe" ] || { first="$n" SEQFLOW_FAILED_STAGE="${spec%=*}" SEQFLOW_FAILED_STATUS=141; }
    done
  fi
  SEQFLOW_FAILED_STDERR="${first:+$dir/$first.stderr}"
  [ -z "$first" ]
}

# seqflow_pipeline_failed: fail the step naming the stage seqflow_pipeline_end found and its first error line.
seqflow_pipeline_failed() {
  seqflow_tool_failed "$SEQFLOW_FAILED_STAGE" "$SEQFLOW_FAILED_STATUS" "$SEQFLOW_FAILED_STDERR"
}
