#!/usr/bin/env bash
# The whole test suite: lint, types, then pytest. Sets itself up from a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh dev
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff"; ruff check src lab tests benchmarks
echo "== ruff format"; ruff format --check src lab tests benchmarks
echo "== mypy --strict"; mypy
echo "== pytest (two workers)"; pytest -n 2 --dist loadfile -m "not serial" --durations=15 "$@"
# The tests whose timing bounds assume nothing else runs beside them; exit 5 (none selected, e.g. when the
# arguments name other tests) is not a failure.
echo "== pytest (serial)"; pytest -m serial "$@" || [ $? -eq 5 ]
