#!/usr/bin/env bash
# The main demo, from a fresh Debian 12 machine: installs what it needs, builds in
# Release and runs the seed programs, printing what each seed printed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release
for ex in build/release/examples/example_*; do
  echo
  echo "=== $(basename "$ex") ==="
  "$ex"
done
