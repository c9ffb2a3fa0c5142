#!/usr/bin/env python3
"""Fails if a test of the build directory given has no TIMEOUT: a hang must fail its
test, never freeze the run.

    scripts/check_test_timeouts.py BUILD_DIR
"""
import json
import subprocess
import sys


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    listing = subprocess.run(
        ["ctest", "--test-dir", sys.argv[1], "--show-only=json-v1"],
        check=True, capture_output=True, text=True).stdout
    tests = json.loads(listing)["tests"]
    missing = [t["name"] for t in tests
               if not any(p["name"] == "TIMEOUT" for p in t.get("properties", []))]
    for name in missing:
        print(f"no TIMEOUT: {name}")
    print(f"{len(tests)} tests, {len(missing)} without a TIMEOUT")
    return 1 if missing or not tests else 0


if __name__ == "__main__":
    sys.exit(main())
