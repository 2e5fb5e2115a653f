#!/usr/bin/python3
"""make soak: the full stress runs of issue 8 (items 2-5), one after the other.

  faults     500 volume lifecycles, 16 at a time, under --throttle aws, 10% 5xx,
             20 ms latency, 5% stuck attachments (8.3)
  crash      50 kill -9 of the driver during CreateVolume / ControllerPublish /
             NodeStage / NodeExpand, then kill -9 of the simulator mid-run (8.4)
  load       1000 concurrent mixed calls, 5 bursts, memory/fd/thread figures (8.5)
  valgrind   the release daemon under memcheck through the flows (8.2)

Prints one JSON report per scenario, writes them all to --out (default
build/soak-report.json) and exits 1 if any invariant was violated.
Needs root and loop devices (all but load). Reduced versions run in make test:
tests/integration/test_stress_*.py and test_valgrind.py.
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from stress import scenarios as S  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", choices=["faults", "crash", "load", "valgrind"],
                    help="run only this scenario (repeatable)")
    ap.add_argument("--lifecycles", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=16, help="lifecycles in flight (one m5.large: <= 24)")
    ap.add_argument("--crash-runs", type=int, default=50)
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--bursts", type=int, default=5)
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    ap.add_argument("--variant", choices=["release", "asan"], default="asan",
                    help="driver build for faults and crash (load and valgrind always use release)")
    ap.add_argument("--sim-variant", choices=["release", "asan"], default="release")
    ap.add_argument("--workdir", default=None, help="keep logs here (default: a new temp directory)")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "soak-report.json"))
    a = ap.parse_args()
    only = a.only or ["faults", "crash", "load", "valgrind"]
    base = a.workdir or tempfile.mkdtemp(prefix="ebs-soak-")
    os.makedirs(base, exist_ok=True)
    print(f"soak: seed {a.seed}, logs under {base}", flush=True)
    log = lambda m: print(m, flush=True)  # noqa: E731
    reports = []
    runs = {
        "faults": lambda d: [S.run_faults(d, lifecycles=a.lifecycles, concurrency=a.concurrency, seed=a.seed,
                                          variant=a.variant, sim_variant=a.sim_variant, log=log)],
        "crash": lambda d: [S.run_crash(os.path.join(d, "driver"), runs=a.crash_runs, seed=a.seed,
                                        variant=a.variant, sim_variant=a.sim_variant, log=log),
                            S.run_sim_restart(os.path.join(d, "sim"), seed=a.seed, variant=a.variant,
                                              sim_variant=a.sim_variant, inflight=8, log=log)],
        "load": lambda d: [S.run_load(d, calls=a.calls, bursts=a.bursts, seed=a.seed, sim_variant=a.sim_variant,
                                      log=log)],
        "valgrind": lambda d: [S.run_valgrind(d, seed=a.seed, sim_variant=a.sim_variant, log=log)],
    }
    failed = False
    for name in only:
        d = os.path.join(base, name)
        os.makedirs(d, exist_ok=True)
        if name == "crash":
            os.makedirs(os.path.join(d, "driver"), exist_ok=True)
            os.makedirs(os.path.join(d, "sim"), exist_ok=True)
        t = time.monotonic()
        log(f"==> {name}")
        try:
            out = runs[name](d)
        except Exception as e:  # a scenario that could not even run is a failure
            out = [{"scenario": name, "violations": [f"{type(e).__name__}: {e}"]}]
        for r in out:
            reports.append(r)
            brief = {k: v for k, v in r.items() if k not in ("runs_detail", "valgrind_excerpt")}
            print(json.dumps(brief, indent=1, default=str), flush=True)
            if r["violations"]:
                failed = True
        log(f"<== {name}: {time.monotonic() - t:.0f} s, "
            f"{sum(len(r['violations']) for r in out)} violations")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump({"seed": a.seed, "workdir": base, "reports": reports}, f, indent=1, default=str)
    print(f"soak: {'FAILED' if failed else 'passed'}; reports in {a.out}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
