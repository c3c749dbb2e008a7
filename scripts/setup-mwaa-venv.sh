#!/usr/bin/env bash
# The MWAA compatibility check's virtual environment, .venv-mwaa: Airflow 3.0.6
# and the provider and library pins of Airflow's constraints-3.0.6 (what an
# MWAA 3.0.6 environment installs for seqflow), from the committed lock
# mwaa/requirements-check.txt. seqflow is not pip-installed into it: a .pth file
# puts include/ on sys.path, as MWAA puts its DAG folder (mwaa/sync_dags.sh).
#   scripts/setup-mwaa-venv.sh         create or refresh .venv-mwaa (no-op when the lock is unchanged)
#   scripts/setup-mwaa-venv.sh lock    re-compile mwaa/requirements-check.txt (`make mwaa-lock`)
#   scripts/setup-mwaa-venv.sh stamp   print the stamp an up-to-date .venv-mwaa holds
# MWAA runs Python 3.12; this machine has 3.11 only, so the venv (and the lock)
# is for 3.11. tests/mwaa also resolves mwaa/requirements.txt for 3.12.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${SEQFLOW_PYTHON:-/usr/bin/python3}"
UV_VERSION="0.13.8"
DIR=.venv-mwaa
LOCK=mwaa/requirements-check.txt
CONSTRAINTS=mwaa/constraints-3.0.6-python3.12.txt

if [ "${1:-}" = "lock" ]; then
  python3 -m pip install -q "uv==$UV_VERSION"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  # the requirements MWAA gets, with the local copy standing in for the constraints URL
  grep -v '^--constraint' mwaa/requirements.txt > "$tmp/mwaa-requirements.in"
  # the test tools of mwaa/overrides-check.txt leave the constraints (only there: MWAA never installs them)
  overridden="$(sed -n 's/^\([A-Za-z0-9_.-]*\).*==.*/\1/p' mwaa/overrides-check.txt | paste -sd'|')"
  grep -viE "^($overridden)==" "$CONSTRAINTS" > "$tmp/constraints.txt"
  python3 -m uv pip compile mwaa/requirements-check.in "$tmp/mwaa-requirements.in" -c "$tmp/constraints.txt" \
    --override mwaa/overrides-check.txt --python-version 3.11 --python-platform x86_64-manylinux_2_28 --no-header -q -o "$tmp/lock.txt"
  { echo "# The MWAA check venv's lock (.venv-mwaa), compiled by \`make mwaa-lock\` from"
    echo "# mwaa/requirements-check.in and mwaa/requirements.txt against $CONSTRAINTS"
    echo "# (test tools only: with mwaa/overrides-check.txt)"
    echo "# (Airflow's constraints-3.0.6; where the copy comes from: its header), for Python 3.11:"
    echo "# MWAA runs 3.12, which this machine cannot install. Do not edit by hand."
    sed -e "s#$tmp/mwaa-requirements.in#mwaa/requirements.txt#" -e "s#$tmp/constraints.txt#$CONSTRAINTS#" \
      "$tmp/lock.txt"; } > "$LOCK"
  echo "wrote $LOCK"
  exit 0
fi

link_include() {  # include/ of this checkout on the venv's sys.path (again if the checkout moved)
  local site
  site="$("$DIR/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  [ "$(cat "$site/seqflow-include.pth" 2>/dev/null)" = "$PWD/include" ] || echo "$PWD/include" > "$site/seqflow-include.pth"
}

stamp="$DIR/.seqflow-lock.sha256"
# --compile-bytecode: the installed packages' .pyc files (scripts/setup-venv.sh says why); in the
# stamp, so that a venv made without them is synced again
BYTECODE="--compile-bytecode"
want="$( (cat "$LOCK"; echo "$BYTECODE") | sha256sum | cut -d' ' -f1)"
if [ "${1:-}" = "stamp" ]; then  # what an up-to-date venv's stamp holds (tests/mwaa checks it)
  echo "$want"
  exit 0
fi
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  link_include
  exit 0
fi
echo "seqflow setup: creating $DIR from $LOCK"
[ -x "$DIR/bin/python" ] || "$PY" -m venv "$DIR"
echo '*' > "$DIR/.gitignore"  # keeps the venv out of git status without touching the top-level .gitignore
"$DIR/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
"$DIR/bin/python" -m uv pip sync -q $BYTECODE --python "$DIR/bin/python" "$LOCK"
link_include
echo "$want" > "$stamp"
