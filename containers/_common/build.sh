#!/usr/bin/env bash
# Builds one or all seqflow tool images, tagged <tool version>-<image revision>.
#   containers/_common/build.sh [TOOL...]        (default: every containers/<tool>/Dockerfile)
# Environment:
#   REGISTRY   image name prefix, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/seqflow
#              (default: seqflow, i.e. a local-only name)
#   PLATFORM   target platform (default linux/amd64: the Batch compute environments
#              and HealthOmics run x86_64)
# The tag comes from the Dockerfile's ARG TOOL_VERSION and ARG IMAGE_REVISION, so
# the tag always says which tool release is inside; ECR tags are immutable, so
# bump IMAGE_REVISION when an image changes without a new tool version.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
context="$(dirname "$here")"   # containers/: every image also copies _common/
# shellcheck source=containers/_common/lib.sh
. "$here/lib.sh"

registry="${REGISTRY:-seqflow}"
platform="${PLATFORM:-linux/amd64}"
vcs_url="$(git -C "$context" config --get remote.origin.url 2>/dev/null || echo unknown)"
vcs_ref="$(git -C "$context" rev-parse HEAD 2>/dev/null || echo unknown)"

mapfile -t tools < <(seqflow_tools "$context" "$@")
for tool in "${tools[@]}"; do
  tag="$(seqflow_image_tag "$context/$tool/Dockerfile")"
  image="$registry/$tool:$tag"
  echo "seqflow build: $image"
  docker build \
    --platform "$platform" \
    --file "$context/$tool/Dockerfile" \
    --build-arg "VCS_URL=$vcs_url" \
    --build-arg "VCS_REF=$vcs_ref" \
    --tag "$image" \
    "$context"
done
