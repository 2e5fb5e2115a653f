"""Per mode (controller, node, all): start → first Probe OK, idle RSS split into
anonymous and file-backed, Probe and NodeGetInfo latency and throughput, peak
RSS under a sustained load and RSS after it (issue 2's targets).

Every mode reaches EC2 and IMDS through one ebs-ec2-sim with the standard AWS
environment variables, as it would reach AWS.
"""
import os
import threading
import time

from bench_common import (IMDS_INSTANCE, ZONE, Driver, Sim, c_client, fds_of, log, mb, median, pct, smaps,
                          threads_of)

MODES = ("controller", "node", "all")
IDENTITY = "/csi.v1.Identity/"
NODE = "/csi.v1.Node/"
CONTROLLER = "/csi.v1.Controller/"


def load_methods(mode):
    m = [IDENTITY + "Probe", IDENTITY + "GetPluginInfo", IDENTITY + "GetPluginCapabilities"]
    if mode in ("node", "all"):
        m += [NODE + "NodeGetInfo", NODE + "NodeGetCapabilities"]
    if mode in ("controller", "all"):
        m += [CONTROLLER + "ControllerGetCapabilities"]
    return m


def py_latency(sock, method, n):
    import grpc
    import csi_pb2
    import csi_pb2_grpc
    ch = grpc.insecure_channel("unix://" + sock)
    if method == "Probe":
        call, req = csi_pb2_grpc.IdentityStub(ch).Probe, csi_pb2.ProbeRequest()
    else:
        call, req = csi_pb2_grpc.NodeStub(ch).NodeGetInfo, csi_pb2.NodeGetInfoRequest()
    for _ in range(200):
        call(req, timeout=5)
    lat = []
    for _ in range(n):
        s = time.perf_counter()
        call(req, timeout=5)
        lat.append((time.perf_counter() - s) * 1e6)
    ch.close()
    lat.sort()
    return median(lat), pct(lat, 99)


def py_throughput(sock, method, clients, seconds):
    """clients threads, each with its own channel and connection, one Python process."""
    import grpc
    import csi_pb2
    import csi_pb2_grpc
    counts = [0] * clients
    barrier = threading.Barrier(clients + 1)
    stop = [0.0]

    def client(i):
        with grpc.insecure_channel("unix://" + sock, options=[("grpc.use_local_subchannel_pool", 1)]) as ch:
            if method == "Probe":
                call, req = csi_pb2_grpc.IdentityStub(ch).Probe, csi_pb2.ProbeRequest()
            else:
                call, req = csi_pb2_grpc.NodeStub(ch).NodeGetInfo, csi_pb2.NodeGetInfoRequest()
            call(req, timeout=10)
            barrier.wait()
            n = 0
            while time.monotonic() < stop[0]:
                call(req, timeout=10)
                n += 1
            counts[i] = n

    ths = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in ths:
        t.start()
    stop[0] = time.monotonic() + 3600
    barrier.wait()
    t0 = time.monotonic()
    stop[0] = t0 + seconds
    for t in ths:
        t.join()
    return sum(counts) / (time.monotonic() - t0)


def py_load(sock, methods, clients, seconds):
    """The load with the Python client (used only without the C client)."""
    import grpc
    counts = [0] * clients
    stop = time.monotonic() + seconds

    def client(i):
        with grpc.insecure_channel("unix://" + sock, options=[("grpc.use_local_subchannel_pool", 1)]) as ch:
            calls = [ch.unary_unary(m, request_serializer=None, response_deserializer=None) for m in methods]
            n = 0
            while time.monotonic() < stop:
                calls[n % len(calls)](b"", timeout=10)
                n += 1
            counts[i] = n

    ths = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.monotonic()
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    return {"ok": sum(counts), "err": 0, "seconds": time.monotonic() - t0}


def measure_mode(mode, sim, workdir, cfg, cbin):
    args = [mode, "--by-id-dir", os.path.join(workdir, "by-id")] if mode != "controller" else [mode]
    d = Driver(workdir, f"driver-{mode}", args, sim.env())
    r = {"mode": mode}
    try:
        r["listen_ms"] = d.wait_listening() * 1000
        r["start_ms"] = d.wait_probe_ok() * 1000
        time.sleep(cfg.idle_seconds)
        r["idle"] = smaps(d.proc.pid)
        r["idle_threads"] = threads_of(d.proc.pid)
        r["idle_fds"] = fds_of(d.proc.pid)
        methods = ["Probe"] + (["NodeGetInfo"] if mode != "controller" else [])
        for m in methods:
            r[f"py_lat_{m}"] = py_latency(d.sock, m, cfg.latency_calls)
            path = (IDENTITY if m == "Probe" else NODE) + m
            if cbin:
                c = c_client(cbin, d.sock, "latency", cfg.latency_calls, path)
                r[f"c_lat_{m}"] = (c["p50_us"], c["p99_us"])
                c = c_client(cbin, d.sock, "load", cfg.tput_seconds, cfg.clients, path)
                r[f"c_tput_{m}"] = c["ok"] / c["seconds"]
                r[f"c_tput_err_{m}"] = c["err"]
            r[f"py_tput_{m}"] = py_throughput(d.sock, m, cfg.clients, cfg.tput_seconds)

        # The sustained load, sampling memory while it runs.
        lm = load_methods(mode)
        res = {}
        t = threading.Thread(target=lambda: res.update(
            c_client(cbin, d.sock, "load", cfg.load_seconds, cfg.clients, ",".join(lm)) if cbin
            else py_load(d.sock, lm, cfg.clients, cfg.load_seconds)))
        peak = (0, 0, 0)
        peak_anon = 0
        t.start()
        while t.is_alive():
            m = smaps(d.proc.pid)
            if m[0] > peak[0]:
                peak = m
            peak_anon = max(peak_anon, m[1])
            last = m
            time.sleep(0.2)
        t.join()
        r["loaded"] = last  # the last sample inside the load window
        r["peak"] = peak
        r["peak_anon"] = peak_anon
        r["load_threads"] = threads_of(d.proc.pid)
        r["load_qps"] = res["ok"] / res["seconds"]
        r["load_err"] = res["err"]
        r["load_methods"] = len(lm)
        time.sleep(2.0)
        r["after"] = smaps(d.proc.pid)
        r["after_fds"] = fds_of(d.proc.pid)
    finally:
        r["rc"] = d.stop()
    log(f"{mode}: start {r.get('start_ms', 0):.1f} ms, idle RSS {mb(r['idle'][0])} MB, "
        f"after load {mb(r.get('loaded', (0,))[0])} MB, exit {r['rc']}")
    return r


def run(workdir, cfg, cbin):
    sim = Sim(workdir, "sim-modes", ["--instances", f"{IMDS_INSTANCE}:{ZONE}:m5.large"])
    os.makedirs(os.path.join(workdir, "by-id"), exist_ok=True)
    try:
        results = [measure_mode(m, sim, workdir, cfg, cbin) for m in MODES]
    finally:
        sim.stop()
    return results


def _lat(r, key):
    v = r.get(key)
    return f"{v[0]:.0f} / {v[1]:.0f}" if v else "—"


def _num(r, key, fmt="{:.0f}"):
    v = r.get(key)
    return fmt.format(v) if v is not None else "—"


def table(results, cfg, cbin):
    def row(name, fn, target=""):
        return f"| {name} | " + " | ".join(fn(r) for r in results) + f" | {target} |"

    ls = int(cfg.load_seconds)
    mem = lambda t: f"{mb(t[0])} ({mb(t[1])} / {mb(t[2])})"  # noqa: E731
    out = [
        "| measure | " + " | ".join(f"`{r['mode']}`" for r in results) + " | target |",
        "|---|" + "---|" * len(results) + "---|",
        row("start → socket listening (ms)", lambda r: f"{r['listen_ms']:.1f}"),
        row("start → first Probe OK (ms)", lambda r: f"{r['start_ms']:.1f}"),
        row("idle RSS, MB (anon / file)", lambda r: mem(r["idle"]), "RSS ≤ 8, anon ≤ 1.5"),
        row("idle threads / open fds", lambda r: f"{r['idle_threads']} / {r['idle_fds']}"),
        row("Probe latency µs, median / p99 — C-core client", lambda r: _lat(r, "c_lat_Probe")),
        row("Probe latency µs, median / p99 — Python client", lambda r: _lat(r, "py_lat_Probe")),
        row("NodeGetInfo latency µs, median / p99 — C-core client", lambda r: _lat(r, "c_lat_NodeGetInfo")),
        row("NodeGetInfo latency µs, median / p99 — Python client", lambda r: _lat(r, "py_lat_NodeGetInfo")),
        row(f"Probe calls/s, {cfg.clients} clients — C-core", lambda r: _num(r, "c_tput_Probe")),
        row(f"Probe calls/s, {cfg.clients} clients — Python", lambda r: _num(r, "py_tput_Probe")),
        row(f"NodeGetInfo calls/s, {cfg.clients} clients — C-core", lambda r: _num(r, "c_tput_NodeGetInfo")),
        row(f"NodeGetInfo calls/s, {cfg.clients} clients — Python", lambda r: _num(r, "py_tput_NodeGetInfo")),
        row(f"load: {ls} s, {cfg.clients} clients, mixed fast-lane calls (calls/s, errors)",
            lambda r: f"{r['load_qps']:.0f}, {r['load_err']:.0f}"),
        row("peak RSS under load, MB (anon / file)", lambda r: mem(r["peak"])),
        row(f"RSS at the end of {ls} s of load, MB (anon / file)", lambda r: mem(r["loaded"]),
            "anon ≤ 3" if ls >= 30 else f"anon ≤ 3 (after 30 s; this run: {ls} s)"),
        row("RSS 2 s after the load, MB (anon / file)", lambda r: mem(r["after"])),
        row("threads under load / fds after", lambda r: f"{r['load_threads']} / {r['after_fds']}"),
        row("exit status after SIGTERM", lambda r: str(r["rc"]), "0"),
    ]
    idle_ok = all(r["idle"][0] <= 8 * 1024 for r in results)
    anon_ok = all(r["idle"][1] <= 1.5 * 1024 for r in results)
    load_ok = all(r["loaded"][1] <= 3 * 1024 and r["peak_anon"] <= 3 * 1024 for r in results)
    verdict = (f"Against issue 2's targets: idle RSS ≤ 8 MB {'met' if idle_ok else '**not met**'}; "
               f"idle anon ≤ 1.5 MB {'met' if anon_ok else '**not met**'}; "
               f"anon ≤ 3 MB under/after load {'met' if load_ok else '**not met**'} (every mode).")
    client = ("The C-core client (tests/bench/bench_client.c, one connection per client thread) drives the load; "
              if cbin else "The Python client drives the load (the C-core client could not be built); ")
    notes = (client + "Python grpcio costs more CPU per call than the driver, so its figures measure mostly "
             "itself. Client and driver share the machine's cores, so throughput is a lower bound of the "
             "driver's.")
    return "\n".join(out), verdict + " " + notes

