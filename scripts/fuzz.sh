#!/usr/bin/env bash
# Runs every fuzzer of the decoders for SECONDS each (default 600), two at a time, from
# the corpus earlier runs grew (build/fuzz/tests/fuzz/corpus). The test script runs the
# same fuzzers for a few seconds each. A crash leaves its input as
# build/fuzz/tests/fuzz/<fuzzer>-crash-*, which `build/fuzz/tests/fuzz/<fuzzer> FILE` replays.
#
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
./scripts/setup.sh
cmake --preset fuzz -D MP_FUZZ_SECONDS="$seconds" >/dev/null
cmake --build --preset fuzz
ctest --preset fuzz
