# Shared helpers of build.sh and push.sh (sourced, not executed).

# seqflow_tools CONTEXT [TOOL...]: the requested tools, or every folder with a Dockerfile.
seqflow_tools() {
  local context="$1"; shift
  if [ "$#" -gt 0 ]; then
    local tool
    for tool in "$@"; do
      case "$tool" in
        ''|*[!a-z0-9_-]*) echo "seqflow: invalid tool name: $tool" >&2; return 2 ;;
      esac
      [ -f "$context/$tool/Dockerfile" ] || { echo "seqflow: no $context/$tool/Dockerfile" >&2; return 2; }
      echo "$tool"
    done
  else
    local dockerfile
    for dockerfile in "$context"/*/Dockerfile; do
      basename "$(dirname "$dockerfile")"
    done
  fi
}

# seqflow_image_tag DOCKERFILE: <TOOL_VERSION>-<IMAGE_REVISION> from the Dockerfile's ARGs.
seqflow_image_tag() {
  local version revision
  version="$(sed -n 's/^ARG TOOL_VERSION=\(.*\)$/\1/p' "$1")"
  revision="$(sed -n 's/^ARG IMAGE_REVISION=\(.*\)$/\1/p' "$1")"
  if [ -z "$version" ] || [ -z "$revision" ]; then
    echo "seqflow: $1 lacks ARG TOOL_VERSION or ARG IMAGE_REVISION" >&2
    return 2
  fi
  echo "$version-$revision"
}
