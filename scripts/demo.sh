#!/usr/bin/env bash
# The main demo, from a fresh Debian 12 machine: installs what it needs, builds in
# Release, runs the seed programs (printing what each seed printed), then mp-bench: the
# seeds' experiments as tables, mp beside threads, OpenMP, oneTBB and the seeds' own
# Python programs, with every answer checked and the plots written to ./plots.
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
echo
echo "=== mp-bench all --quick --plot plots ==="
build/release/tools/mp-bench all --quick --plot plots
