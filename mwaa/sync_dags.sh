#!/usr/bin/env bash
# Publishes the DAGs, plugins and the seqflow package to the MWAA DAG bucket.
#   mwaa/sync_dags.sh s3://<dag bucket>
# The bucket is the Terraform output mwaa_dag_bucket of the env. MWAA reads
# dags/ (on sys.path, so dags/seqflow/ is the importable package) and the
# requirements and startup script Terraform uploads itself. The .airflowignore
# keeps the DAG processor from parsing the package as DAG files.
set -euo pipefail
bucket="${1:?usage: $0 s3://<mwaa dag bucket>}"
case "$bucket" in s3://*) ;; *) echo "not an s3:// URI: $bucket" >&2; exit 2 ;; esac
root="$(cd "$(dirname "$0")/.." && pwd)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage/dags"
cp -R "$root/dags/." "$stage/dags/"
cp -R "$root/include/seqflow" "$stage/dags/seqflow"
find "$stage" -name '__pycache__' -prune -exec rm -rf {} +
{ [ -f "$root/dags/.airflowignore" ] && cat "$root/dags/.airflowignore"; echo "seqflow/"; } \
  > "$stage/dags/.airflowignore"

aws s3 sync --delete --sse aws:kms "$stage/dags/" "${bucket%/}/dags/"
if [ -d "$root/plugins" ] && [ -n "$(ls -A "$root/plugins")" ]; then
  echo "plugins/ is not empty: zip it and set the airflow module's plugins object (see terraform/README.md)" >&2
fi
