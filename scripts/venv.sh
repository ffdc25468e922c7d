#!/usr/bin/env bash
# Create the project-local Python environment (.venv) with the emulators' and
# tests' requirements, and those of any requirements file named as an argument
# (scripts/bench and scripts/link-order add bench/requirements.txt).
# Idempotent: re-installs a file's requirements only when the file changes.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
for req in tests/requirements.txt "$@"; do
  case "$req" in
    tests/requirements.txt) stamp=.venv/.requirements.sha256 ;;
    *) stamp=".venv/.$(basename "$(dirname "$req")")-requirements.sha256" ;;
  esac
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$req"
    echo "$want" > "$stamp"
  fi
done
