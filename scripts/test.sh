#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what it needs, then
# builds and runs every test three ways: g++ (warnings are errors), clang++, and g++ under
# AddressSanitizer + UndefinedBehaviorSanitizer. Every test has a ctest TIMEOUT.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake --workflow --preset ci
cmake --workflow --preset ci-clang
cmake --workflow --preset ci-asan
echo "test.sh: all suites passed"
