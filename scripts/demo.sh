#!/usr/bin/env bash
# The demo on a fresh machine: no cloud account, no Azure DevOps organization needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh dev
exec .venv/bin/adoscale demo "$@"
