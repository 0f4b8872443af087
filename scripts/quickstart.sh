#!/usr/bin/env bash
# Set everything up, then simulate the quickstart kernel and show its result.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== running examples/quickstart.py"
.venv/bin/python examples/quickstart.py
