# Shared functions of every seqflow step script (sourced, not executed).
# The images copy this file beside the scripts (/usr/local/bin); in the repository
# it is containers/_common/, one folder up from the scripts. A script finds it with:
#   common="$(dirname "$0")/seqflow_common.sh"
#   [ -f "$common" ] || common="$(dirname "$0")/../_common/seqflow_common.sh"
#   . "$common"

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
    *) echo "seqflow_tool_version: no version parser for tool '$1'" >&2; return 2 ;;
  esac
  raw="${raw%%[[:space:]]*}"
  # a version goes into JSON unquoted by any escaping: accept only a safe alphabet
  if ! [[ "$raw" =~ ^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$ ]]; then
    echo "seqflow_tool_version: cannot read the version of $1 (got '$raw')" >&2
    return 3
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
