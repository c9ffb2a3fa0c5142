#!/usr/bin/env python3
"""The table of fault scenarios in README.md, made from the fault suite's own results.

    scripts/fault_table.py BUILD_DIR                 # prints the table
    scripts/fault_table.py BUILD_DIR --write README.md   # replaces it in README.md
    scripts/fault_table.py BUILD_DIR --check README.md   # fails if README.md differs

Runs every test binary of the `fault` label (tests/fault/) with a JSON report; each test
records what a user sees in its scenario (mp::test::user_sees). A scenario appears if its
test passed (or was skipped in this build); a failed test makes the script fail. A test
run once per start method (Suite.Name/fork, /forkserver, /spawn) is one row, which names
the methods it passed on. The table sits in README.md between the two marker lines below.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

BEGIN = "<!-- fault-table:begin (scripts/fault_table.py) -->"
END = "<!-- fault-table:end -->"
BINARIES = ["test_pool_faults", "test_pool_limits", "test_process_faults", "test_interrupts",
            "test_start_method_faults", "test_ipc_faults", "test_codec_faults"]


def run_suite(build_dir):
    rows = []
    failed = []
    for name in BINARIES:
        exe = os.path.join(build_dir, "tests", name)
        with tempfile.TemporaryDirectory() as tmp:
            report = os.path.join(tmp, "report.json")
            run = subprocess.run([exe, f"--gtest_output=json:{report}"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 timeout=600, check=False)
            if not os.path.exists(report):
                # The binary died before writing its report (a crash in the runner itself).
                failed.append(f"{name} (exit status {run.returncode}, no report)")
                continue
            with open(report, encoding="utf-8") as f:
                data = json.load(f)
        for suite in data["testsuites"]:
            for test in suite["testsuite"]:
                name, _, method = test["name"].partition("/")
                scenario = f"{suite['name']}.{name}"
                if test.get("failures"):
                    failed.append(f"{scenario}/{method}" if method else scenario)
                    continue
                sees = test.get("user_sees")
                if sees is None:
                    failed.append(f"{scenario} (records no user_sees)")
                    continue
                skipped = test.get("result") == "SKIPPED"
                if rows and rows[-1][0] == scenario:
                    rows[-1][3].append(method)
                else:
                    rows.append((scenario, sees, skipped, [method] if method else []))
    return rows, failed


def render(rows):
    lines = [BEGIN, "", "| scenario (test) | start methods | what the user sees |", "|---|---|---|"]
    for scenario, sees, _, methods in rows:
        lines.append(f"| `{scenario}` | {', '.join(methods) if methods else 'fork'} | {sees} |")
    lines += ["", END]
    return "\n".join(lines)


def replace_in(text, table):
    start = text.find(BEGIN)
    end = text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"fault_table: the markers are missing:\n{BEGIN}\n{END}")
    return text[:start] + table + text[end + len(END):]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="README")
    group.add_argument("--check", metavar="README")
    args = parser.parse_args()

    rows, failed = run_suite(args.build_dir)
    if failed:
        print("fault_table: failed tests:\n  " + "\n  ".join(failed), file=sys.stderr)
        return 1
    # A scenario skipped in this build (e.g. memory_limit under AddressSanitizer) keeps
    # its row: the table lists scenarios, and the plain build runs every one of them.
    table = render(rows)
    if args.write:
        with open(args.write, encoding="utf-8") as f:
            text = f.read()
        with open(args.write, "w", encoding="utf-8") as f:
            f.write(replace_in(text, table))
        print(f"fault_table: {len(rows)} scenarios written to {args.write}")
    elif args.check:
        with open(args.check, encoding="utf-8") as f:
            text = f.read()
        if replace_in(text, table) != text:
            print(f"fault_table: {args.check} is out of date; run "
                  f"scripts/fault_table.py {args.build_dir} --write {args.check}", file=sys.stderr)
            return 1
        print(f"fault_table: {args.check} lists the {len(rows)} scenarios of the suite")
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
