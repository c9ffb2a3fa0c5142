#!/usr/bin/env bash
# Installs every Debian package that mp's build, tests, examples and benchmarks need.
# Idempotent: packages already present are left alone, and apt is not touched at all
# when nothing is missing. Run as root (or through sudo) on Debian 12.
set -euo pipefail

packages=(
  # toolchain and build; libclang-rt-14-dev holds clang's sanitizer and libFuzzer runtimes
  g++ clang libclang-rt-14-dev cmake ninja-build make pkg-config clang-format
  # chosen libraries: serialization, formatting, command line, hashing, the disk cache's
  # database (mp::Memory)
  libcereal-dev libfmt-dev libcli11-dev libxxhash-dev libsqlite3-dev
  # Boost.Interprocess (headers only): the allocator and map inside mp::SharedDict's and
  # mp::SharedList's shared memory (docs/decisions/0009-shared-containers.md)
  libboost-dev
  # tests and micro-benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # peers the benchmarks measure against: oneTBB, OpenMP for clang (g++ ships libgomp)
  libtbb-dev libomp-14-dev
  # plots for the demo and the benchmark
  gnuplot-nox
  # mp-bench's `python` subcommand runs the seeds' Python programs beside mp (Debian's
  # python3, so joblib comes from Debian too; the scripts need no numpy)
  python3 python3-joblib
  # seed 002's million-digit integers (GMP's C++ interface): its example, test and benchmark
  libgmp-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
