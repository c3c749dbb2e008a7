#!/usr/bin/env bash
# Pushes images built by build.sh to the seqflow ECR repositories.
#   containers/_common/push.sh [TOOL...]         (default: every tool)
# Environment:
#   AWS_REGION  region of the repositories (required)
#   REGISTRY    optional; default <account>.dkr.ecr.<region>.amazonaws.com/<ECR_PREFIX>
#   ECR_PREFIX  repository name prefix, the Terraform ecr module's output
#               repository_prefix (default: seqflow)
# Repositories are created by Terraform (terraform/modules/ecr) and have
# immutable tags: pushing a tag that already exists fails, which is the point.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
context="$(dirname "$here")"
# shellcheck source=containers/_common/lib.sh
. "$here/lib.sh"

: "${AWS_REGION:?set AWS_REGION to the region of the seqflow ECR repositories}"
account="$(aws sts get-caller-identity --query Account --output text)"
host="$account.dkr.ecr.$AWS_REGION.amazonaws.com"
registry="${REGISTRY:-$host/${ECR_PREFIX:-seqflow}}"

aws ecr get-login-password --region "$AWS_REGION" \
  | docker login --username AWS --password-stdin "$host"

mapfile -t tools < <(seqflow_tools "$context" "$@")
for tool in "${tools[@]}"; do
  tag="$(seqflow_image_tag "$context/$tool/Dockerfile")"
  local_image="seqflow/$tool:$tag"
  remote_image="$registry/$tool:$tag"
  if [ "$local_image" != "$remote_image" ] && docker image inspect "$local_image" >/dev/null 2>&1; then
    docker tag "$local_image" "$remote_image"
  fi
  echo "seqflow push: $remote_image"
  docker push "$remote_image"
done
