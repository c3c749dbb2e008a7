#!/usr/bin/env bash
# (wgsim ships in the samtools package; chromium and its driver are for the trigger-form browser test.)
# Installs the Debian packages seqflow needs (tools for the local profile,
# Python for the virtual environment). Idempotent: does nothing when every
# package is already installed.
set -euo pipefail

PACKAGES=(
  python3 python3-venv python3-dev build-essential
  bwa samtools bcftools tabix minimap2 fastp freebayes mosdepth pigz
  sqlite3 ca-certificates
  chromium chromium-driver
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "seqflow setup: installing Debian packages: ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
