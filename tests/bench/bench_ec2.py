"""EC2 traffic of the controller, counted by the simulator (GET /__sim/stats).

lifecycle: N volumes go through create → publish → unpublish → delete at the
same time, driven through gRPC as the sidecars drive them (retrying on
ABORTED/UNAVAILABLE/DEADLINE_EXCEEDED/RESOURCE_EXHAUSTED); EC2 calls by action
per volume, mutating calls per volume (issue 5's target: 4) and Describe calls
per CSI operation (target ≤ 0.2).

storm: N existing volumes ControllerPublish'ed at once with the simulator's
EC2 throttle on (--throttle aws: AttachVolume is an "other mutating action",
a bucket of 50 tokens refilling 5/s — cloud/ec2sim/sim_faults.c, from
aws-facts §3); the achieved attach rate against what the bucket allows.
"""
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bench_common import (GIB, IMDS_INSTANCE, ZONE, Driver, Sim, instance_ids, instances_spec, log, median, pct,
                          retrying)

# The simulator's --throttle aws bucket for AttachVolume (other mutating actions).
ATTACH_BUCKET = 50
ATTACH_REFILL = 5.0
PER_INSTANCE = 25  # m7i.large: 32 attachments, the root volume takes one


def _cap():
    import csi_pb2
    return csi_pb2.VolumeCapability(mount=csi_pb2.VolumeCapability.MountVolume(fs_type="ext4"),
                                    access_mode=csi_pb2.VolumeCapability.AccessMode(mode=1))


def _calls(stats):
    """{action: (calls, ok, {error: n})} from the simulator's stats."""
    out = {}
    for action, outcomes in stats.get("actions", {}).items():
        total = sum(outcomes.values())
        errs = {k: v for k, v in outcomes.items() if k != "ok"}
        out[action] = (total, outcomes.get("ok", 0), errs)
    return out


def _controller(work, name, sim, workers):
    d = Driver(work, name, ["controller", "--workers", str(min(1024, workers))], sim.env())
    d.wait_probe_ok()
    return d


def lifecycle(work, cfg):
    import grpc
    import csi_pb2
    import csi_pb2_grpc
    n = cfg.lifecycle_volumes
    nodes = instance_ids(max(1, math.ceil(n / PER_INSTANCE)))
    # Default simulator delays (1 s per transition), no throttling, no faults.
    sim = Sim(work, "sim-lifecycle",
              ["--instances", instances_spec([IMDS_INSTANCE], "m5.large") + "," + instances_spec(nodes)])
    d = _controller(work, "driver-lifecycle", sim, n + 16)
    lat = {"create": [], "publish": [], "unpublish": [], "delete": []}
    errors = []
    try:
        ch = d.connect()
        ctl = csi_pb2_grpc.ControllerStub(ch)
        cap = _cap()
        topo = csi_pb2.TopologyRequirement(
            preferred=[csi_pb2.Topology(segments={"topology.ebs.csi.aws.com/zone": ZONE})])
        barrier = threading.Barrier(n)
        mu = threading.Lock()

        def one(i):
            t = {}
            barrier.wait()
            try:
                s = time.monotonic()
                v = retrying(ctl.CreateVolume, csi_pb2.CreateVolumeRequest(
                    name=f"pvc-bench-{i:04d}", capacity_range=csi_pb2.CapacityRange(required_bytes=GIB),
                    volume_capabilities=[cap], parameters={"type": "gp3"}, accessibility_requirements=topo),
                    timeout=300).volume.volume_id
                t["create"] = time.monotonic() - s
                node = nodes[i % len(nodes)]
                s = time.monotonic()
                retrying(ctl.ControllerPublishVolume, csi_pb2.ControllerPublishVolumeRequest(
                    volume_id=v, node_id=node, volume_capability=cap), timeout=300)
                t["publish"] = time.monotonic() - s
                s = time.monotonic()
                retrying(ctl.ControllerUnpublishVolume, csi_pb2.ControllerUnpublishVolumeRequest(
                    volume_id=v, node_id=node), timeout=300)
                t["unpublish"] = time.monotonic() - s
                s = time.monotonic()
                retrying(ctl.DeleteVolume, csi_pb2.DeleteVolumeRequest(volume_id=v), timeout=300)
                t["delete"] = time.monotonic() - s
            except grpc.RpcError as e:
                with mu:
                    errors.append(f"{e.code().name}: {e.details()}")
            with mu:
                for k, x in t.items():
                    lat[k].append(x)

        sim.reset_stats()
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=n) as ex:
            list(ex.map(one, range(n)))
        wall = time.monotonic() - t0
        stats = sim.stats()
    finally:
        rc = d.stop()
        sim.stop()
    calls = _calls(stats)
    describe = sum(c[0] for a, c in calls.items() if a.startswith("Describe"))
    mutating = sum(c[0] for a, c in calls.items() if not a.startswith("Describe"))
    rows = ["| EC2 action | calls | per volume | outcomes |", "|---|---|---|---|"]
    for a in sorted(calls, key=lambda a: (a.startswith("Describe"), a)):
        total, ok, errs = calls[a]
        oc = ", ".join([f"ok {ok}"] + [f"{k} {v}" for k, v in sorted(errs.items())])
        rows.append(f"| {a} | {total} | {total / n:.3f} | {oc} |")
    rows += [
        f"| **mutating calls per volume** | {mutating} | **{mutating / n:.2f}** | target 4 |",
        f"| **Describe calls per CSI operation** ({4 * n} operations) | {describe} | "
        f"**{describe / (4 * n):.3f}** | target ≤ 0.2 |",
        f"| IMDS requests (not EC2) | {stats.get('imds', 0)} | | |",
    ]
    lats = "; ".join(f"{k} {median(sorted(v)):.1f} / {pct(sorted(v), 99):.1f} s" for k, v in lat.items() if v)
    notes = (f"{n} volumes (gp3, 1 GiB) through create → publish → unpublish → delete, all {n} in flight at once "
             f"(one Python thread each, one gRPC connection, the driver with --workers {min(1024, n + 16)} so "
             f"that none waits for a thread), spread over {len(nodes)} m7i.large instances; simulator delays 1 s "
             f"per transition, no throttling or faults. Wall time {wall:.1f} s; CSI call latency median / p99: "
             f"{lats}. Failed lifecycles: {len(errors)}"
             + (f" (first: {errors[0]})" if errors else "") + f". Driver exit status {rc}.")
    log(f"lifecycle: {mutating / n:.2f} mutating per volume, {describe / (4 * n):.3f} Describe per op, "
        f"{wall:.1f} s")
    return "\n".join(rows), notes


def _create_volumes(sim, n):
    """n available gp3 volumes, made straight through the EC2 API (not measured)."""
    ids = []
    mu = threading.Lock()
    local = threading.local()

    def mk(i):
        if not hasattr(local, "ec2"):
            local.ec2 = sim.ec2()
        v = local.ec2.create_volume(AvailabilityZone=ZONE, Size=1, VolumeType="gp3")["VolumeId"]
        with mu:
            ids.append(v)

    with ThreadPoolExecutor(max_workers=8) as ex:
        list(ex.map(mk, range(n)))
    ec2 = sim.ec2()
    end = time.time() + 120
    while time.time() < end:
        pending = 0
        for page in ec2.get_paginator("describe_volumes").paginate(PaginationConfig={"PageSize": 500}):
            pending += sum(1 for v in page["Volumes"] if v["State"] != "available")
        if pending == 0:
            break
        time.sleep(0.2)
    return sorted(ids)


def storm(work, cfg):
    import grpc
    import csi_pb2
    import csi_pb2_grpc
    n = cfg.storm_volumes
    nodes = instance_ids(max(1, math.ceil(n / PER_INSTANCE)), prefix="0c")
    sim = Sim(work, "sim-storm",
              ["--instances", instances_spec([IMDS_INSTANCE], "m5.large") + "," + instances_spec(nodes),
               "--create-delay-ms", "100", "--attach-delay-ms", "100", "--detach-delay-ms", "100"])
    samples = []
    errors = []
    lat = []
    try:
        t = time.monotonic()
        vols = _create_volumes(sim, n)
        log(f"storm: {len(vols)} volumes created in {time.monotonic() - t:.1f} s")
        d = _controller(work, "driver-storm", sim, n + 16)
        try:
            ch = d.connect()
            ctl = csi_pb2_grpc.ControllerStub(ch)
            cap = _cap()
            sim.faults(throttle="aws")  # buckets restart full
            sim.reset_stats()
            barrier = threading.Barrier(n + 1)
            mu = threading.Lock()
            done = threading.Event()

            def pub(i):
                barrier.wait()
                s = time.monotonic()
                try:
                    retrying(ctl.ControllerPublishVolume, csi_pb2.ControllerPublishVolumeRequest(
                        volume_id=vols[i], node_id=nodes[i % len(nodes)], volume_capability=cap), timeout=600)
                    with mu:
                        lat.append(time.monotonic() - s)
                except grpc.RpcError as e:
                    with mu:
                        errors.append(f"{e.code().name}: {e.details()}")

            def sampler(t0):
                while not done.is_set():
                    st = sim.stats()
                    samples.append((time.monotonic() - t0, st["actions"].get("AttachVolume", {}).get("ok", 0)))
                    time.sleep(0.1)

            ex = ThreadPoolExecutor(max_workers=n)
            futs = [ex.submit(pub, i) for i in range(n)]
            barrier.wait()
            t0 = time.monotonic()
            smp = threading.Thread(target=sampler, args=(t0,))
            smp.start()
            for f in futs:
                f.result()
            wall = time.monotonic() - t0
            done.set()
            smp.join()
            ex.shutdown()
            stats = sim.stats()
        finally:
            rc = d.stop()
    finally:
        sim.stop()
    with open(os.path.join(work, "storm-samples.txt"), "w") as f:  # for --keep: AttachVolume ok over time
        f.writelines(f"{t:.2f} {ok}\n" for t, ok in samples)
    calls = _calls(stats)
    att = calls.get("AttachVolume", (0, 0, {}))
    t_all = next((t for t, ok in samples if ok >= n), wall)
    n99 = math.ceil(0.99 * n)
    t_99 = next((t for t, ok in samples if ok >= n99), wall)
    t_burst = next((t for t, ok in samples if ok >= min(n, ATTACH_BUCKET)), 0.0)
    t_min = max(0.0, (n - ATTACH_BUCKET) / ATTACH_REFILL)
    steady = (n - ATTACH_BUCKET) / (t_all - t_burst) if n > ATTACH_BUCKET and t_all > t_burst else float("nan")
    throttled = ", ".join(f"{a} {c[2]['RequestLimitExceeded']}" for a, c in sorted(calls.items())
                          if c[2].get("RequestLimitExceeded"))
    rows = ["| measure | value |", "|---|---|",
            f"| volumes published at once | {n} (over {len(nodes)} instances) |",
            f"| AttachVolume bucket (simulator --throttle aws) | {ATTACH_BUCKET} tokens, refill "
            f"{ATTACH_REFILL:g}/s |",
            f"| theoretical minimum time for {n} AttachVolume | {t_min:.1f} s "
            f"(burst {min(n, ATTACH_BUCKET)}, then {ATTACH_REFILL:g}/s) |",
            f"| time to the {n}th AttachVolume accepted | {t_all:.1f} s |",
            f"| time to the {n99}th (99 %) | {t_99:.1f} s (fraction {max(0.0, (n99 - ATTACH_BUCKET) / ATTACH_REFILL) / t_99 if t_99 > 0 else 0:.2f}) |",
            f"| **achieved fraction of the bucket's limit** | **{(t_min / t_all if t_all > 0 else 0):.2f}** "
            f"({t_min:.1f} s / {t_all:.1f} s) |",
            f"| attach rate after the burst (limit {ATTACH_REFILL:g}/s) | {steady:.2f}/s |",
            f"| time to the last ControllerPublish answered | {wall:.1f} s |",
            f"| ControllerPublish latency median / p99 | {median(sorted(lat)):.1f} / {pct(sorted(lat), 99):.1f} s |",
            f"| AttachVolume calls: accepted / throttled / other errors | {att[1]} / "
            f"{att[2].get('RequestLimitExceeded', 0)} / "
            f"{sum(v for k, v in att[2].items() if k != 'RequestLimitExceeded')} |",
            f"| throttled calls, all actions | {stats.get('throttled', 0)} ({throttled or 'none'}) |",
            "| Describe calls during the storm | "
            + ", ".join(f"{a} {c[0]}" for a, c in sorted(calls.items()) if a.startswith("Describe")) + " |",
            f"| failed publishes | {len(errors)}{(' (first: ' + errors[0] + ')') if errors else ''} |",
            f"| driver exit status | {rc} |"]
    notes = ("Volumes created beforehand through the EC2 API; then the driver (controller, --workers "
             f"{min(1024, n + 16)}) gets all {n} ControllerPublishVolume at once, retried as the external-attacher "
             "would. Simulator: --throttle aws switched on just before the storm (buckets full), attach delay "
             "100 ms. Fraction = theoretical minimum time / achieved time to the last accepted AttachVolume "
             "(1.00 = the bucket is the only limit). Whether the driver's client-side bucket and the simulator's race by "
             "one token at the end of the first burst varies from run to run; a call throttled there is retried "
             "behind every queued call, which the 99 % row leaves out.")
    log(f"storm: {n} attaches in {t_all:.1f} s (limit {t_min:.1f} s), {att[2].get('RequestLimitExceeded', 0)} "
        "throttled")
    return "\n".join(rows), notes
