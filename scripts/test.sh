#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what it needs, then
# builds and runs every test four ways: g++ (warnings are errors), clang++, g++ under
# AddressSanitizer + UndefinedBehaviorSanitizer, and clang++ under ThreadSanitizer (every
# pool has a thread of its own, and pools, executors and futures are used from many
# threads). Every test has a ctest TIMEOUT. Last, the libFuzzer fuzzers of the decoders
# (clang, ASan + UBSan) run a few seconds each from seeds made of real messages.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake --workflow --preset ci
cmake --workflow --preset ci-clang
cmake --workflow --preset ci-asan
cmake --workflow --preset ci-tsan
cmake --workflow --preset ci-fuzz
echo "test.sh: all suites passed"
