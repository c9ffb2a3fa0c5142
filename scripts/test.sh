#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what it needs, then
# builds and runs every test four ways: g++ (warnings are errors), clang++, g++ under
# AddressSanitizer + UndefinedBehaviorSanitizer, and clang++ under ThreadSanitizer (every
# pool has a thread of its own, and pools, executors and futures are used from many
# threads). Every test has a ctest TIMEOUT.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake --workflow --preset ci
cmake --workflow --preset ci-clang
cmake --workflow --preset ci-asan
cmake --workflow --preset ci-tsan
echo "test.sh: all suites passed"
