#!/usr/bin/env bash
# Creates the project's virtual environments from the committed locks.
#   .venv       Airflow, the seqflow package (editable) and the test tools
#   .venv-lint  checkov, whose pins conflict with Airflow's
# Re-runs only when a lock file changed (stamp files hold the lock's hash).
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${SEQFLOW_PYTHON:-/usr/bin/python3}"
UV_VERSION="0.13.8"
# Installed packages' .pyc files, written once here: this machine sets PYTHONDONTWRITEBYTECODE=1,
# so without them every Python process compiles Airflow's imports again (measured: 3.8 s against
# 1.9 s to import Airflow, the Amazon provider, pyarrow and seqflow.params), and the suite and the
# demo start hundreds of them.
BYTECODE="--compile-bytecode"

make_venv() {  # make_venv <dir> <lock>
  local dir="$1" lock="$2" stamp="$1/.seqflow-lock.sha256"
  local want
  # the stamp covers how the venv is made too (BYTECODE), so a change of it re-syncs old venvs
  want="$( (cat "$lock" pyproject.toml; echo "$BYTECODE") | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  echo "seqflow setup: creating $dir from $lock"
  [ -x "$dir/bin/python" ] || "$PY" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
  "$dir/bin/python" -m uv pip sync -q $BYTECODE --python "$dir/bin/python" "$lock"
  echo "$want" > "$stamp"
}

make_venv .venv requirements.txt
# the package itself, editable, without touching the locked dependencies
.venv/bin/python -m uv pip install -q --python .venv/bin/python --no-deps -e .
make_venv .venv-lint requirements-lint.txt
