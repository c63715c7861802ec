#!/usr/bin/env bash
# The whole test suite: lint, types, then pytest. Sets itself up from a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh dev
export PATH="$PWD/.venv/bin:$PATH"

# The tests marked `background` spend most of their time waiting (the Terraform apply on the aws provider's
# polls, the workflow cadence on Step Functions' Wait states, Retry-After): they run in a session of their own
# beside lint, types and the two workers instead of holding one of the two workers (CONTRIBUTING.md).
background_log="$(mktemp)"
# In a process group of its own, so that an early exit (a lint error) also stops its moto_server and terraform.
setsid pytest -p no:cacheprovider -m "background and not serial" --durations=5 "$@" >"$background_log" 2>&1 &
background_pid=$!
trap 'kill -TERM -- "-$background_pid" 2>/dev/null || true; rm -f "$background_log"' EXIT

echo "== ruff"; ruff check src lab tests benchmarks
echo "== ruff format"; ruff format --check src lab tests benchmarks
echo "== mypy --strict"; mypy
echo "== pytest (two workers)"; pytest -n 2 --dist loadfile -m "not serial and not background" --durations=15 "$@"

echo "== pytest (background, run beside the two workers)"
background_status=0
wait "$background_pid" || background_status=$?
cat "$background_log"
# Exit 5 (none selected, e.g. when the arguments name other tests) is not a failure.
[ "$background_status" -eq 0 ] || [ "$background_status" -eq 5 ] || exit "$background_status"

# The tests whose timing bounds assume nothing else runs beside them.
echo "== pytest (serial)"; pytest -m serial "$@" || [ $? -eq 5 ]
