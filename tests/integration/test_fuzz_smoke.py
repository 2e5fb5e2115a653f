"""Short pass over the libFuzzer targets for `make test`: every tests/fuzz/fuzz_* target runs
over its committed seed corpus (tests/fuzz/corpus/<target>/, which holds the regression input
of every crash found so far) plus FUZZ_SECONDS (default 3) of fuzzing, two targets at a time.
The long runs are `make fuzz` (tests/fuzz/run_fuzz.py, 60 s per target by default).

Builds build/fuzz/ first when needed (clang; about 30 s from scratch on 2 cores). Skipped with
the reason when clang or its libFuzzer runtime (libclang-rt-14-dev) is missing.
"""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("EBS_BUILD", os.path.join(ROOT, "build"))


def _fuzzer_runtime():
    """None when clang can link a libFuzzer program, else why not."""
    probe = b"int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n"
    try:
        r = subprocess.run(["clang", "-fsanitize=fuzzer", "-x", "c", "-", "-o", "/dev/null"], input=probe,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    except FileNotFoundError:
        return "clang is not installed"
    except subprocess.TimeoutExpired:
        return "clang did not answer"
    if r.returncode != 0:
        return "clang has no libFuzzer runtime (libclang-rt-14-dev): " + r.stdout.decode(errors="replace")[-200:]
    return None


def test_fuzz_targets_smoke():
    why = _fuzzer_runtime()
    if why:
        pytest.skip(why)
    seconds = os.environ.get("FUZZ_SECONDS", "3")
    cmd = [sys.executable, os.path.join(ROOT, "tests", "fuzz", "run_fuzz.py"), "--build", BUILD,
           "--seconds", seconds, "--jobs", "2", "--fresh"]
    r = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
    out = r.stdout.decode(errors="replace")
    print(out)
    assert r.returncode == 0, "fuzz smoke run failed:\n" + out[-6000:]
    assert " 0 failed" in out.splitlines()[-1]
