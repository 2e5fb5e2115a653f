#!/usr/bin/python3
"""Runs the libFuzzer targets of tests/fuzz/ and ends with one line: `N passed, N failed`.

Each build/fuzz/fuzz_<name> runs over its committed seeds (tests/fuzz/corpus/<name>/,
never written to) plus a working corpus (build/fuzz/corpus/<name>/, kept between runs so
`make fuzz` keeps what it learnt; --fresh uses a temporary one), with the target's
dictionary (tests/fuzz/<name>.dict) when there is one, for --seconds (0: only replay the
corpora). A target fails on any crash, sanitizer report, leak, timeout (-timeout, 10 s
per input) or out-of-memory; its reproducer lands in build/fuzz/artifacts/<name>/.
Reproduce with `build/fuzz/fuzz_<name> <file>`. Exit status: 0 only when every target passed.
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FUZZ_SRC = os.path.join(ROOT, "tests", "fuzz")


def all_targets():
    return sorted(f[:-2] for f in os.listdir(FUZZ_SRC) if f.startswith("fuzz_") and f.endswith(".c"))


def build(build_dir):
    """make fuzz-build, through the root Makefile when it includes fuzz.mk."""
    with open(os.path.join(ROOT, "Makefile")) as f:
        included = "tests/fuzz/fuzz.mk" in f.read()
    cmd = ["make", "--no-print-directory", "-j", str(os.cpu_count() or 2)]
    rel = os.path.relpath(build_dir, ROOT)
    if rel != "build":
        # Relative when inside the tree: make names the targets the same way as a plain `make`.
        cmd.append(f"BUILD={rel if not rel.startswith('..') else build_dir}")
    if not included:
        cmd += ["-f", "Makefile", "-f", "tests/fuzz/fuzz.mk"]
    cmd.append("fuzz-build")
    r = subprocess.run(cmd, cwd=ROOT)
    return r.returncode == 0


def last_int(pattern, text):
    m = re.findall(pattern, text)
    return int(m[-1]) if m else None


def run_target(name, build_dir, seconds, fresh, rss_mb):
    binary = os.path.join(build_dir, "fuzz", name)
    seeds = os.path.join(FUZZ_SRC, "corpus", name)
    artifacts = os.path.join(build_dir, "fuzz", "artifacts", name) + "/"
    os.makedirs(artifacts, exist_ok=True)
    tmp = None
    if fresh:
        tmp = tempfile.mkdtemp(prefix=f"{name}-", dir=os.path.join(build_dir, "fuzz"))
        work = tmp
    else:
        work = os.path.join(build_dir, "fuzz", "corpus", name)
        os.makedirs(work, exist_ok=True)
    before = set(os.listdir(artifacts))
    cmd = [binary, "-timeout=10", f"-rss_limit_mb={rss_mb}", "-print_final_stats=1",
           f"-artifact_prefix={artifacts}"]
    if seconds > 0:
        cmd.append(f"-max_total_time={seconds}")
    else:
        cmd.append("-runs=0")
    d = os.path.join(FUZZ_SRC, f"{name}.dict")
    if os.path.exists(d):
        cmd.append(f"-dict={d}")
    cmd.append(work)
    if os.path.isdir(seeds):
        cmd.append(seeds)
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:strict_string_checks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=seconds + 300)
        out, rc = r.stdout.decode(errors="replace"), r.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode(errors="replace") + "\n(runner: timed out)\n", -1
    elapsed = time.monotonic() - t0
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    new = sorted(set(os.listdir(artifacts)) - before)
    res = {
        "name": name,
        "rc": rc,
        "ok": rc == 0 and not new,
        "runs": last_int(r"stat::number_of_executed_units:\s*(\d+)", out),
        "cov": last_int(r"\bcov: (\d+)", out),
        "ft": last_int(r"\bft: (\d+)", out),
        "corpus": last_int(r"\bcorp: (\d+)", out),
        "seeds": len(os.listdir(seeds)) if os.path.isdir(seeds) else 0,
        "elapsed": elapsed,
        "artifacts": [os.path.join(artifacts, a) for a in new],
        "output": out,
    }
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("targets", nargs="*", help="fuzz_* names (default: all)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", "60")),
                    help="fuzzing time per target (0: replay the corpora only)")
    ap.add_argument("--jobs", type=int, default=1, help="targets run at once")
    ap.add_argument("--fresh", action="store_true", help="temporary working corpus (CI)")
    ap.add_argument("--no-build", action="store_true", help="do not run make fuzz-build first")
    ap.add_argument("--rss-mb", type=int, default=2560)
    args = ap.parse_args()
    build_dir = os.path.abspath(args.build)

    targets = args.targets or all_targets()
    unknown = [t for t in targets if t not in all_targets()]
    if unknown:
        print(f"unknown fuzz target(s): {' '.join(unknown)}", file=sys.stderr)
        return 2
    if not args.no_build and not build(build_dir):
        print("0 passed, 1 failed (fuzz build)")
        return 1
    missing = [t for t in targets if not os.access(os.path.join(build_dir, "fuzz", t), os.X_OK)]
    if missing:
        print(f"not built: {' '.join(missing)} (run make fuzz-build)")
        print(f"0 passed, {len(missing)} failed")
        return 1

    print(f"fuzzing {len(targets)} target(s) for {args.seconds} s each, {args.jobs} at a time", flush=True)
    passed = failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        futs = [ex.submit(run_target, t, build_dir, args.seconds, args.fresh, args.rss_mb) for t in targets]
        for fut in futs:
            r = fut.result()
            stats = (f"runs={r['runs']} cov={r['cov']} ft={r['ft']} corpus={r['corpus']} "
                     f"seeds={r['seeds']} {r['elapsed']:.1f}s")
            if r["ok"]:
                passed += 1
                print(f"  ok     {r['name']:<20} {stats}", flush=True)
            else:
                failed += 1
                print(f"  FAILED {r['name']:<20} {stats} exit={r['rc']}", flush=True)
                # The sanitizer report and libFuzzer's summary: the end of the output.
                tail = r["output"].splitlines()[-60:]
                sys.stdout.write("".join(f"    | {line}\n" for line in tail))
                for a in r["artifacts"]:
                    print(f"    reproducer: {os.path.relpath(a, ROOT)} "
                          f"(run: {os.path.relpath(os.path.join(build_dir, 'fuzz', r['name']), ROOT)} {os.path.relpath(a, ROOT)})")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
