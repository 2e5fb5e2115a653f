#!/usr/bin/python3
"""Benchmarks of ebs-csi-driver (figures for reading, never asserted).

`make bench` runs this with the release build (build/ebs-csi-driver and
build/ebs-ec2-sim); it prints a Markdown report and writes it to --out.

Sections (each its own module, tests/bench/bench_*.py):
  modes      per mode (controller, node, all): start → first Probe OK, idle RSS
             split anon/file (/proc/PID/smaps_rollup), Probe and NodeGetInfo
             latency and throughput (C-core and Python clients), peak RSS under
             a sustained load and RSS after it — issue 2's targets
  lifecycle  EC2 calls by action per volume lifecycle (create → publish →
             unpublish → delete) with N volumes in flight — issue 5's targets
  storm      ControllerPublish of N volumes under EC2's mutating throttle
             (--throttle aws): achieved attach rate against the bucket's limit
  stage      NodeStage of a blank 10 GiB volume against the same mkfs + mount
             by hand on an identical loop device, ext4 and xfs — issue 6's
             target (root and loop devices; skipped otherwise)

--quick runs every section small (about a minute), for a smoke test.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_common as bc  # noqa: E402

SECTIONS = ("modes", "lifecycle", "storm", "stage")


def config(a):
    full = dict(load_seconds=30.0, tput_seconds=5.0, latency_calls=3000, clients=8, idle_seconds=2.0,
                lifecycle_volumes=200, storm_volumes=500, stage_repeats=5, stage_gib=10)
    quick = dict(load_seconds=5.0, tput_seconds=1.0, latency_calls=500, clients=8, idle_seconds=1.0,
                 lifecycle_volumes=50, storm_volumes=100, stage_repeats=1, stage_gib=10)
    c = quick if a.quick else full
    for k in c:
        v = getattr(a, k, None)
        if v is not None:
            c[k] = v
    return argparse.Namespace(**c)


def git_describe():
    try:
        return subprocess.run(["git", "-C", bc.ROOT, "describe", "--tags", "--always", "--dirty"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
    except OSError:
        return "?"


def binary_built(path):
    try:
        out = subprocess.run([path, "--version"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             timeout=10).stdout
        return json.loads(out).get("buildDate", "?")
    except (OSError, ValueError, subprocess.SubprocessError):
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--driver", default=os.path.join(bc.BUILD, "ebs-csi-driver"))
    ap.add_argument("--sim", default=os.path.join(bc.BUILD, "ebs-ec2-sim"))
    ap.add_argument("--out", default=os.path.join(bc.ROOT, "bench", "results.md"))
    ap.add_argument("--quick", action="store_true", help="every section small: a one-minute smoke run")
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections: " + ", ".join(SECTIONS))
    ap.add_argument("--load-seconds", type=float)
    ap.add_argument("--clients", type=int)
    ap.add_argument("--latency-calls", type=int)
    ap.add_argument("--lifecycle-volumes", type=int)
    ap.add_argument("--storm-volumes", type=int)
    ap.add_argument("--stage-repeats", type=int)
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, simulator state)")
    a = ap.parse_args()
    cfg = config(a)
    only = [s.strip() for s in a.only.split(",") if s.strip()]
    for s in only:
        if s not in SECTIONS:
            ap.error(f"unknown section {s}")
    for b in (a.driver, a.sim):
        if not os.access(b, os.X_OK):
            sys.exit(f"bench: {b} is missing: run `make all` first")
    # The modules start these binaries.
    bc.DRIVER_BIN, bc.SIM_BIN = a.driver, a.sim

    bc.stubs()
    import grpc
    cbin = bc.build_c_client()
    load_before = os.getloadavg()[0]
    if load_before > 0.5:
        bc.log(f"load average {load_before:.2f}: other work on this machine will show in the figures")
    work = tempfile.mkdtemp(prefix="ebs-bench-")
    t_start = time.monotonic()
    parts = []
    timings = []
    try:
        if "modes" in only:
            import bench_modes
            t = time.monotonic()
            bc.log("modes: controller, node, all")
            res = bench_modes.run(work, cfg, cbin)
            tbl, notes = bench_modes.table(res, cfg, cbin)
            parts.append(("Memory, start-up and latency per mode", tbl, notes))
            timings.append(("modes", time.monotonic() - t))
        if "lifecycle" in only or "storm" in only:
            import bench_ec2
            if "lifecycle" in only:
                t = time.monotonic()
                bc.log(f"lifecycle: {cfg.lifecycle_volumes} volumes in flight")
                parts.append(("EC2 calls per volume lifecycle",) + bench_ec2.lifecycle(work, cfg))
                timings.append(("lifecycle", time.monotonic() - t))
            if "storm" in only:
                t = time.monotonic()
                bc.log(f"storm: {cfg.storm_volumes} ControllerPublish under --throttle aws")
                parts.append(("Attach storm under EC2's throttle",) + bench_ec2.storm(work, cfg))
                timings.append(("storm", time.monotonic() - t))
        if "stage" in only:
            import bench_stage
            t = time.monotonic()
            bc.log(f"stage: NodeStage of a blank {cfg.stage_gib} GiB volume against mkfs + mount")
            parts.append(("NodeStage against mkfs + mount by hand",) + bench_stage.run(work, cfg))
            timings.append(("stage", time.monotonic() - t))
    finally:
        if a.keep:
            bc.log(f"work directory kept: {work}")
        else:
            bc.unmount_under(work)
            bc.release_loops(work)
            shutil.rmtree(work, ignore_errors=True)
    total = time.monotonic() - t_start

    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    except OSError:
        pass
    md = ["# ebs-csi-driver benchmarks", "",
          f"Release build `{os.path.relpath(a.driver, bc.ROOT)}` (tree {git_describe()}, linked "
          f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(os.path.getmtime(a.driver)))}, "
          f"build date in --version {binary_built(a.driver)}) against "
          f"`{os.path.relpath(a.sim, bc.ROOT)}`, {time.strftime('%Y-%m-%d')}; {platform.machine()}, "
          f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}; Python grpcio {grpc.__version__}. "
          f"{'**Quick run** (`--quick`): small sizes, figures indicative only. ' if a.quick else ''}"
          "Figures are for reading, not asserted. Rerun: `make bench` (about 5 minutes; "
          "`/usr/bin/python3 tests/bench/bench.py --quick` for a one-minute smoke run).", ""]
    for title, tbl, notes in parts:
        md += [f"## {title}", "", tbl, "", notes, ""]
    md += ["Run time: " + ", ".join(f"{n} {s:.0f} s" for n, s in timings) + f"; total {total:.0f} s. "
           f"Load average (1 min) {load_before:.2f} before the run, {os.getloadavg()[0]:.2f} after it "
           "(the benchmarks add about 1): anything else running on the machine shows in the latency, throughput "
           "and NodeStage figures, not in the memory and EC2-call counts.", ""]
    text = "\n".join(md)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
