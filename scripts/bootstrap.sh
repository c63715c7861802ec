#!/usr/bin/env bash
# Creates .venv with Python 3.11+ and installs adoscale with the given extras (default: dev), and its rig
# (lab/: the emulator, simulator, demo and packager) beside it.
# Idempotent and quick when nothing changed: it reinstalls only when pyproject.toml is newer than the stamp.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev}"
py=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    py="$candidate"; break
  fi
done
if [ -z "$py" ]; then
  echo "bootstrap: Python 3.11 or newer is required and none was found on PATH" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
stamp=".venv/.adoscale-$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ lab/pyproject.toml -nt "$stamp" ]; then
  # uv (from PyPI, into the venv) installs the same packages from the same index in about 7 s where pip
  # takes about 40 s here; pip does it when uv cannot be had. pip warns about every missing local index
  # entry: those lines say nothing about this project.
  if .venv/bin/python -m pip install --quiet --disable-pip-version-check uv 2> >(grep -v "is ignored" >&2) &&
     .venv/bin/uv pip install --quiet --python .venv/bin/python -e ".[$extras]" -e ./lab; then
    :
  else
    echo "bootstrap: uv was not usable; installing with pip" >&2
    .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2> >(grep -v "is ignored" >&2)
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$extras]" -e ./lab 2> >(grep -v "is ignored" >&2)
  fi
  touch "$stamp"
fi
