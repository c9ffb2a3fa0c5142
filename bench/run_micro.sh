#!/usr/bin/env bash
# Builds the Release micro-benchmarks and runs them.
#
#   bench/run_micro.sh OUT.json [extra Google Benchmark flags...]
#
# Five repetitions, aggregates only (mean, median, stddev, cv); the JSON goes to OUT.json,
# the console table to stdout. Builds with the `release` preset (build/release).
set -euo pipefail

if [[ $# -lt 1 || "$1" == -* ]]; then
  echo "usage: $0 OUT.json [benchmark flags...]" >&2
  exit 2
fi
out="$1"
shift

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build/release"

cd "$root"
cmake --preset release >/dev/null
cmake --build --preset release --target mp_bench_micro

mkdir -p "$(dirname "$out")"
"$build/bench/mp_bench_micro" \
  --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true \
  --benchmark_out="$out" \
  --benchmark_out_format=json \
  "$@"
