#!/usr/bin/python3
"""Runs the whole test suite and ends with one line CI can read: `N passed, N failed, N skipped`.

Unit tests: every build/asan/tests/<module>/test_* program (cmocka, ASan+UBSan),
run from the repository root. Integration tests: pytest over tests/integration,
against the sanitizer build of the daemon. A suite that runs no test is a failure.
"""
import argparse
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_unit(build):
    base = os.path.join(build, "asan", "tests")
    progs = []
    for d, _, files in os.walk(base):
        for f in files:
            p = os.path.join(d, f)
            if f.startswith("test_") and "." not in f and os.access(p, os.X_OK):
                progs.append(p)
    passed = failed = skipped = 0
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:strict_string_checks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    for p in sorted(progs):
        rel = os.path.relpath(p, ROOT)
        print(f"==> {rel}", flush=True)
        try:
            r = subprocess.run([p], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=600)
            out, rc = r.stdout.decode(errors="replace"), r.returncode
        except subprocess.TimeoutExpired as e:
            out, rc = (e.stdout or b"").decode(errors="replace") + "\n(timed out)\n", -1
        sys.stdout.write(out)
        m_pass = re.findall(r"^\[  PASSED  \] (\d+) test", out, re.M)
        m_fail = re.findall(r"^\[  FAILED  \] (\d+) test", out, re.M)
        m_skip = re.findall(r"^\[  SKIPPED \] (\d+) test", out, re.M)
        p_n = sum(map(int, m_pass))
        f_n = sum(map(int, m_fail))
        s_n = sum(map(int, m_skip))
        if rc != 0 and f_n == 0:
            # A crash, a sanitizer report or a leak after the tests' own summary.
            print(f"!! {rel} exited with status {rc}", flush=True)
            f_n = 1
        if p_n + f_n + s_n == 0:
            print(f"!! {rel} ran no test", flush=True)
            f_n = 1
        passed, failed, skipped = passed + p_n, failed + f_n, skipped + s_n
    return passed, failed, skipped, len(progs)


def run_integration(build):
    xml = os.path.join(build, "pytest-results.xml")
    if os.path.exists(xml):
        os.unlink(xml)
    env = dict(os.environ)
    env["EBS_BUILD"] = os.path.abspath(build)
    cmd = ["/usr/bin/python3", "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfEs",
           f"--junitxml={xml}", os.path.join(ROOT, "tests", "integration")]
    print("==> " + " ".join(cmd), flush=True)
    rc = subprocess.run(cmd, cwd=ROOT, env=env).returncode
    if not os.path.exists(xml):
        return 0, 1, 0
    suites = ET.parse(xml).getroot()
    if suites.tag == "testsuite":
        suites = [suites]
    total = fails = skips = 0
    for s in suites:
        total += int(s.get("tests", 0))
        fails += int(s.get("failures", 0)) + int(s.get("errors", 0))
        skips += int(s.get("skipped", 0))
    if rc not in (0, 1, 5) and fails == 0:
        fails = 1
    return total - fails - skips, fails, skips


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--only", choices=["unit", "integration"])
    a = ap.parse_args()
    build = os.path.join(ROOT, a.build) if not os.path.isabs(a.build) else a.build
    passed = failed = skipped = 0
    if a.only in (None, "unit"):
        p, f, s, n = run_unit(build)
        print(f"unit: {n} programs, {p} passed, {f} failed, {s} skipped", flush=True)
        passed, failed, skipped = passed + p, failed + f, skipped + s
    if a.only in (None, "integration"):
        p, f, s = run_integration(build)
        print(f"integration: {p} passed, {f} failed, {s} skipped", flush=True)
        passed, failed, skipped = passed + p, failed + f, skipped + s
    if passed + failed == 0:
        print("no test ran", flush=True)
        failed = 1
    print(f"{passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
