#!/usr/bin/env bash
# checkov over deploy/terraform, in its own virtual environment (it pins many packages of its own).
# Fails on any failed check; every skip in the .tf files carries a one-line justification.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-checkov/bin/checkov ]; then
  python3 -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check "checkov>=3.2" 2> >(grep -v "is ignored" >&2)
fi
exec .venv-checkov/bin/checkov --directory deploy/terraform --framework terraform --compact --quiet \
  --download-external-modules false --skip-download "$@"
