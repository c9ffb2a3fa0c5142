#!/usr/bin/env bash
# Builds and runs the consumer project against an installed mp and against the source tree.
# Usage: run.sh SOURCE_DIR BUILD_DIR WORK_DIR CXX
set -euo pipefail
src=$1 build=$2 work=$3 cxx=$4
rm -rf "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src/tests/consumer" -B "$work/package" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/package" >/dev/null
"$work/package/consumer"
cmake -S "$src/tests/consumer" -B "$work/subdir" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
  -DMP_CONSUME=subdir -DMP_SOURCE_DIR="$src" >/dev/null
cmake --build "$work/subdir" --target consumer >/dev/null
"$work/subdir/consumer"
echo "consumer: find_package and add_subdirectory both work"
