#!/usr/bin/python3
"""Benchmarks of ebs-csi-driver (figures for reading, never asserted).

Reports, for `ebs-csi-driver all` on a unix socket:
  - start → first successful Probe
  - RSS idle and after a sustained load, split into anonymous and file-backed
    memory (/proc/PID/smaps_rollup)
  - Probe latency (median, p99) from one sequential client, and throughput with
    several concurrent clients (the Python client is part of what is measured)
Writes a Markdown table to --out and prints it.
"""
import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def stubs(build):
    out = os.path.join(build, "py")
    os.makedirs(out, exist_ok=True)
    from grpc_tools import protoc
    protoc.main(["protoc", f"-I{ROOT}/csi-proto", "-I/usr/include", f"--python_out={out}",
                 f"--grpc_python_out={out}", f"{ROOT}/csi-proto/csi.proto"])
    sys.path.insert(0, out)


def smaps(pid):
    vals = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                vals[parts[0][:-1]] = int(parts[1])
    rss = vals.get("Rss", 0)
    anon = vals.get("Anonymous", 0)
    return rss, anon, rss - anon


def threads_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def mb(kb):
    return f"{kb / 1024:.2f} MB"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", default=os.path.join(ROOT, "build", "ebs-csi-driver"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results.md"))
    ap.add_argument("--load-seconds", type=float, default=30.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--latency-calls", type=int, default=3000)
    a = ap.parse_args()
    stubs(os.path.join(ROOT, "build"))
    import grpc
    import csi_pb2
    import csi_pb2_grpc

    tmp = tempfile.mkdtemp(prefix="ebs-bench-")
    sock = os.path.join(tmp, "csi.sock")
    t0 = time.monotonic()
    proc = subprocess.Popen([a.driver, "all", "--endpoint", "unix://" + sock], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    rows = []
    try:
        # Poll the socket itself: a gRPC channel that fails to connect backs off
        # for a second or more, which would measure the client, not the driver.
        import socket as pysock
        while True:
            s = pysock.socket(pysock.AF_UNIX)
            try:
                s.connect(sock)
                break
            except OSError:
                if time.monotonic() - t0 > 20:
                    raise
                time.sleep(0.001)
            finally:
                s.close()
        ch = grpc.insecure_channel("unix://" + sock)
        csi_pb2_grpc.IdentityStub(ch).Probe(csi_pb2.ProbeRequest(), timeout=5)
        start_ms = (time.monotonic() - t0) * 1000
        ch.close()
        time.sleep(2.0)
        idle = smaps(proc.pid)
        idle_threads = threads_of(proc.pid)

        # Latency: one client, sequential calls.
        ch = grpc.insecure_channel("unix://" + sock)
        ident = csi_pb2_grpc.IdentityStub(ch)
        for _ in range(200):
            ident.Probe(csi_pb2.ProbeRequest(), timeout=5)
        lat = []
        for _ in range(a.latency_calls):
            s = time.perf_counter()
            ident.Probe(csi_pb2.ProbeRequest(), timeout=5)
            lat.append((time.perf_counter() - s) * 1e6)
        lat.sort()
        p50 = statistics.median(lat)
        p99 = lat[int(len(lat) * 0.99) - 1]
        ch.close()

        # Throughput and loaded memory: concurrent clients for load-seconds, each with its own channel.
        stop = time.monotonic() + a.load_seconds
        counts = [0] * a.clients
        peak = [0, 0, 0]

        def client(i):
            with grpc.insecure_channel("unix://" + sock) as c:
                st = csi_pb2_grpc.IdentityStub(c)
                calls = [st.Probe, st.GetPluginInfo, st.GetPluginCapabilities]
                reqs = [csi_pb2.ProbeRequest(), csi_pb2.GetPluginInfoRequest(), csi_pb2.GetPluginCapabilitiesRequest()]
                n = 0
                while time.monotonic() < stop:
                    calls[n % 3](reqs[n % 3], timeout=10)
                    n += 1
                counts[i] = n

        ths = [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
        t_load = time.monotonic()
        for t in ths:
            t.start()
        while any(t.is_alive() for t in ths):
            m = smaps(proc.pid)
            if m[0] > peak[0]:
                peak = list(m)
            time.sleep(0.5)
        for t in ths:
            t.join()
        elapsed = time.monotonic() - t_load
        loaded = smaps(proc.pid)
        loaded_threads = threads_of(proc.pid)
        qps = sum(counts) / elapsed
        time.sleep(2.0)
        after = smaps(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=60)

    rows = [
        ("start → first Probe OK", f"{start_ms:.1f} ms"),
        ("idle RSS (anon / file)", f"{mb(idle[0])} ({mb(idle[1])} / {mb(idle[2])})"),
        ("idle threads", str(idle_threads)),
        (f"Probe latency, 1 sequential client, {a.latency_calls} calls", f"median {p50:.0f} µs, p99 {p99:.0f} µs"),
        (f"Identity throughput, {a.clients} concurrent clients, {a.load_seconds:.0f} s", f"{qps:.0f} calls/s"),
        ("peak RSS under load (anon / file)", f"{mb(peak[0])} ({mb(peak[1])} / {mb(peak[2])})"),
        (f"RSS after {a.load_seconds:.0f} s of load (anon / file)", f"{mb(loaded[0])} ({mb(loaded[1])} / {mb(loaded[2])})"),
        ("threads after load", str(loaded_threads)),
        ("RSS 2 s after load (anon / file)", f"{mb(after[0])} ({mb(after[1])} / {mb(after[2])})"),
        ("exit status after SIGTERM", str(rc)),
    ]
    md = ["# ebs-csi-driver benchmarks", "",
          f"`{os.path.relpath(a.driver, ROOT)} all` on a unix socket; {platform.machine()}, {os.cpu_count()} cores; "
          f"client: Python grpcio ({grpc.__version__}), which bounds the throughput figure. "
          f"Targets (issue 2): idle RSS ≤ 8 MB, anonymous ≤ 1.5 MB idle and ≤ 3 MB after 30 s of load.",
          "", "| measure | value |", "|---|---|"]
    md += [f"| {k} | {v} |" for k, v in rows]
    text = "\n".join(md) + "\n"
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
