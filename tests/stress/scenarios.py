"""The stress scenarios, parameterised so that make test runs them reduced
(tests/integration/test_stress_*.py, test_valgrind.py) and make soak in full
(tests/stress/soak.py). Each takes a work directory it owns, cleans up every
process, mount and loop device it started before returning or raising, and
returns a report dict whose "violations" list must be empty.
"""
import concurrent.futures as cf
import hashlib
import os
import random
import re
import threading
import time

import grpc

from stress import csiclient as cc
from stress import invariants as inv
from stress import procs as P
from stress.procs import csi_pb2

GIB = 1 << 30
FAULTS = ["--throttle", "aws", "--fail-rate", "0.1", "--latency-ms", "20", "--stuck-attach-rate", "0.05"]


def _dirs(workdir):
    kubelet = os.path.join(workdir, "kubelet")
    os.makedirs(kubelet, exist_ok=True)
    return kubelet


def _start_pair(procs, workdir, sim_args, variant, sim_variant, driver_args=(), delay_ms=200, attach_loop=True):
    sim = procs.add(P.Sim(workdir, sim_args, variant=sim_variant, delay_ms=delay_ms,
                          attach_loop=attach_loop)).start()
    kubelet = _dirs(workdir)
    drv = procs.add(P.Driver(workdir, ["all", "--by-id-dir", sim.dev_dir, "--kubelet-root", kubelet, "-v", "2",
                                       *driver_args], sim.env(), variant=variant))
    drv.start()
    return sim, drv, kubelet


def _paths(kubelet, vid, pod):
    staging = os.path.join(kubelet, "plugins", "kubernetes.io", "csi", "ebs.csi.aws.com", vid, "globalmount")
    target = os.path.join(kubelet, "pods", pod, "volumes", "kubernetes.io~csi", vid, "mount")
    os.makedirs(staging, exist_ok=True)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    return staging, target


def _sha(b):
    return hashlib.sha256(b).hexdigest()


def _finish(report, procs, drivers_must_exit_zero=True):
    rcs = procs.close()
    report["exit_codes"] = {os.path.basename(k): v for k, v in rcs.items()}
    if drivers_must_exit_zero:
        for k, v in rcs.items():
            if v != 0:
                report["violations"].append(f"{os.path.basename(k)}: process exited {v} at SIGTERM")
    leftover = P.mounts_under(procs.workdir)
    if leftover:
        report["violations"].append(f"mounts left after cleanup: {leftover}")
    return report


# ---- 1. fault injection over many lifecycles (issue 8.3) ------------------------------------

def lifecycle(cl, kubelet, node, i, seed, conflict_rate, results, known, known_lock):
    """One volume, as the sidecars and kubelet drive it; appends a result dict."""
    rng = random.Random(seed * 100003 + i)
    fs = "ext4" if i % 2 == 0 else "xfs"
    name = f"pvc-stress-{seed}-{i:04d}"
    res = {"i": i, "name": name, "fs": fs, "ok": False, "step": "create", "intact": None, "conflict": False}
    t0 = time.monotonic()
    try:
        vid = cl.call("CreateVolume", cc.create_req(name, 1, fs)).volume.volume_id
        with known_lock:
            known[vid] = name
        res["vid"] = vid
        res["step"] = "publish"
        if rng.random() < conflict_rate:
            # A second attacher racing for the same volume on another instance (a pod moved
            # while the old VolumeAttachment still exists): EC2 lets exactly one win.
            res["conflict"] = True
            pctx = _racing_publish(cl, vid, node, res)
        else:
            pctx = cl.call("ControllerPublishVolume", cc.publish_req(vid, node, fs)).publish_context
        staging, target = _paths(kubelet, vid, f"pod-{seed}-{i}")
        res["step"] = "stage"
        cl.call("NodeStageVolume", cc.stage_req(vid, staging, pctx, fs))
        res["step"] = "nodepublish"
        cl.call("NodePublishVolume", cc.nodepublish_req(vid, staging, target, pctx, fs))
        res["step"] = "write"
        payload = rng.randbytes(rng.randint(4096, 1 << 20))
        with open(os.path.join(target, "data.bin"), "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        res["step"] = "nodeunpublish"
        cl.call("NodeUnpublishVolume", cc.nodeunpublish_req(vid, target))
        res["step"] = "unstage"
        cl.call("NodeUnstageVolume", cc.unstage_req(vid, staging))
        res["step"] = "restage"
        cl.call("NodeStageVolume", cc.stage_req(vid, staging, pctx, fs))
        with open(os.path.join(staging, "data.bin"), "rb") as f:
            res["intact"] = _sha(f.read()) == _sha(payload)
        res["step"] = "unstage2"
        cl.call("NodeUnstageVolume", cc.unstage_req(vid, staging))
        res["step"] = "unpublish"
        cl.call("ControllerUnpublishVolume", cc.unpublish_req(vid, node))
        res["step"] = "delete"
        cl.call("DeleteVolume", csi_pb2.DeleteVolumeRequest(volume_id=vid))
        with known_lock:
            known[vid] = None          # deleted
        res["step"] = "done"
        res["ok"] = True
    except Exception as e:  # recorded, turned into a violation by the caller
        res["error"] = f"{type(e).__name__}: {e}"
    res["seconds"] = round(time.monotonic() - t0, 2)
    results.append(res)


def _racing_publish(cl, vid, node, res):
    out = {}

    def pub(inst):
        try:
            out[inst] = ("OK", cl.call("ControllerPublishVolume", cc.publish_req(vid, inst)).publish_context)
        except cc.CallFailed as e:
            out[inst] = (e.code.name, e.details)

    ts = [threading.Thread(target=pub, args=(n,)) for n in (P.OTHER, node)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    res["race"] = {k: v[0] for k, v in out.items()}
    if out[node][0] == "OK" and out[P.OTHER][0] == "OK":
        raise AssertionError(f"{vid} published to both {node} and {P.OTHER}")
    for inst, (code, _) in out.items():
        if code not in ("OK", "FAILED_PRECONDITION"):
            raise AssertionError(f"racing publish of {vid} to {inst}: {code} {out[inst][1]}")
    if out[node][0] == "OK":
        return out[node][1]
    # The other instance won: its attacher lets go, ours retries (as the attach-detach controller would).
    cl.call("ControllerUnpublishVolume", cc.unpublish_req(vid, P.OTHER))
    return cl.call("ControllerPublishVolume", cc.publish_req(vid, node)).publish_context


def run_faults(workdir, lifecycles=20, concurrency=10, seed=1, variant="asan", sim_variant="asan",
               conflict_rate=0.2, fault_args=FAULTS, delay_ms=200, log=print):
    report = {"scenario": "faults", "lifecycles": lifecycles, "concurrency": concurrency, "seed": seed,
              "sim_args": list(fault_args), "violations": []}
    procs = P.Procs(workdir)
    t0 = time.monotonic()
    try:
        sim, drv, kubelet = _start_pair(procs, workdir, [*fault_args, "--seed", str(seed)], variant, sim_variant,
                                        delay_ms=delay_ms)
        mon = inv.AttachMonitor(sim)
        mon.start()
        cl = cc.Client(drv.endpoint)
        node = cl.call("NodeGetInfo", csi_pb2.NodeGetInfoRequest()).node_id
        results, known, lock = [], {}, threading.Lock()
        with cf.ThreadPoolExecutor(concurrency) as ex:
            futs = [ex.submit(lifecycle, cl, kubelet, node, i, seed, conflict_rate, results, known, lock)
                    for i in range(lifecycles)]
            for n, _ in enumerate(cf.as_completed(futs), 1):
                if n % 50 == 0:
                    log(f"  faults: {n}/{lifecycles} lifecycles done ({time.monotonic() - t0:.0f} s)")
        mon.stop()
        report["seconds_lifecycles"] = round(time.monotonic() - t0, 1)
        failed = [r for r in results if not r["ok"]]
        for r in failed:
            report["violations"].append(f"lifecycle {r['i']} ({r['fs']}) failed at {r['step']}: {r.get('error')}")
        bad = [r for r in results if r["intact"] is False]
        for r in bad:
            report["violations"].append(f"lifecycle {r['i']}: file read back after restage differs")
        report["ok"] = len(results) - len(failed)
        report["files_intact"] = sum(1 for r in results if r["intact"])
        report["conflicts"] = sum(1 for r in results if r["conflict"])
        report["conflict_outcomes"] = [r.get("race") for r in results if r.get("race")]
        secs = sorted(r["seconds"] for r in results)
        report["lifecycle_seconds"] = {"median": secs[len(secs) // 2], "max": secs[-1]} if secs else {}
        # EC2 now: nothing the client does not know about; nothing it knows is left.
        vols = inv.ec2_volumes(sim)
        unknown = {v: s for v, s in vols.items() if v not in known and s[0] != "deleted"}
        leaked = {v: s for v, s in vols.items() if v in known and s[0] != "deleted"}
        if unknown:
            report["violations"].append(f"volumes in EC2 the client never heard of: {unknown}")
        if leaked:
            report["violations"].append(f"volumes the client created and deleted still in EC2: {leaked}")
        report["monitor"] = {"samples": mon.samples, "sample_errors": mon.errors, "max_attached": mon.max_attached}
        for v in mon.violations[:20]:
            report["violations"].append(f"volume attached to two instances at once: {v}")
        # Nothing left on the node: no mount under the kubelet root, no loop device.
        end = time.time() + 15
        while time.time() < end and P.loops_of(sim.state_dir):
            time.sleep(0.2)
        if P.loops_of(sim.state_dir):
            report["violations"].append(f"loop devices left: {P.loops_of(sim.state_dir)}")
        if P.mounts_under(kubelet):
            report["violations"].append(f"mounts left: {P.mounts_under(kubelet)}")
        st = sim.stats()
        report["ec2"] = {"total": st.get("total"), "throttled": st.get("throttled"),
                         "faults_5xx": sum(n for a in st["actions"].values() for c, n in a.items()
                                           if c in ("InternalError", "Unavailable")),
                         "by_action": {a: dict(c) for a, c in st["actions"].items()}}
        report["stuck_attachments_recovered"] = drv.output().count("has been attaching")
        report["calls"] = cc.summarize(cl.counts)
        cl.close()
    finally:
        _finish(report, procs)
    report["seconds"] = round(time.monotonic() - t0, 1)
    return report


# ---- 2. crash consistency (issue 8.4) ------------------------------------------------------

CRASH_OPS = ("NodeStageVolume", "CreateVolume", "ControllerPublishVolume", "NodeExpandVolume")
# The child a kill aims at, for half of the runs of the node operations.
CRASH_CHILD = {"NodeStageVolume": "mkfs", "NodeExpandVolume": ("resize2fs", "xfs_growfs")}
CRASH_WINDOW = {"CreateVolume": 1.0, "ControllerPublishVolume": 1.2, "NodeStageVolume": 0.6,
                "NodeExpandVolume": 0.6}


class _Killer:
    """Kills the driver (its process group) either after a random delay or at a random
    moment while a child of the wanted name runs; records what ran at that instant."""

    def __init__(self, drv, rng, window, child=None):
        self.drv, self.rng, self.window, self.child = drv, rng, window, child
        self.ran = []
        self.mode = "child" if child else "random"
        self.child_window = 0.015

    def fire(self, started, done):
        if self.child:
            pats = self.child if isinstance(self.child, tuple) else (self.child,)
            end = time.monotonic() + 30
            while time.monotonic() < end and not done.is_set():
                if any(p in k for k in P.child_names(self.drv.pid) for p in pats):
                    time.sleep(self.rng.uniform(0, self.child_window))
                    break
                time.sleep(0.0005)
        else:
            time.sleep(self.rng.uniform(0, self.window))
        self.ran = P.child_names(self.drv.pid)
        self.done_before = done.is_set()
        self.drv.kill9(group=True)


def _crash_one(ctx, op, run, rng):
    """One crash run of `op`: set-up without kills, the op in a thread, kill -9, restart,
    the client's retries converge; then the op's own invariant."""
    cl, drv, sim, kubelet, node = ctx["cl"], ctx["drv"], ctx["sim"], ctx["kubelet"], ctx["node"]
    # ext4 and xfs alternate; NodeExpand always on xfs: an online ext4 grow needs
    # CAP_SYS_RESOURCE, which sandboxes (this CI's included) may withhold even from root.
    fs = "ext4" if (run // len(ctx["ops"])) % 2 == 0 and op != "NodeExpandVolume" else "xfs"
    # Node runs use big (sparse) volumes so that mkfs and the grow take long enough to be hit.
    gib = 1 if op in ("CreateVolume", "ControllerPublishVolume") else (64 if fs == "ext4" else 100)
    name = f"pvc-crash-{ctx['seed']}-{run:03d}"
    out = {"run": run, "op": op, "fs": fs, "violations": []}
    staging = None
    vid = None
    payload = None
    try:
        if op != "CreateVolume":
            vid = cl.call("CreateVolume", cc.create_req(name, gib, fs)).volume.volume_id
            ctx["known"].add(vid)
        pctx = None
        if op in ("NodeStageVolume", "NodeExpandVolume"):
            pctx = cl.call("ControllerPublishVolume", cc.publish_req(vid, node, fs)).publish_context
            staging, _ = _paths(kubelet, vid, f"crash-{run}")
        if op == "NodeExpandVolume":
            cl.call("NodeStageVolume", cc.stage_req(vid, staging, pctx, fs))
            payload = rng.randbytes(1 << 18)
            with open(os.path.join(staging, "data.bin"), "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            cl.call("ControllerExpandVolume", csi_pb2.ControllerExpandVolumeRequest(
                volume_id=vid, capacity_range=csi_pb2.CapacityRange(required_bytes=2 * gib * GIB),
                volume_capability=cc.mount_cap(fs)))
        req = {"CreateVolume": lambda: cc.create_req(name, 1, fs),
               "ControllerPublishVolume": lambda: cc.publish_req(vid, node, fs),
               "NodeStageVolume": lambda: cc.stage_req(vid, staging, pctx, fs),
               "NodeExpandVolume": lambda: csi_pb2.NodeExpandVolumeRequest(
                   volume_id=vid, volume_path=staging,
                   capacity_range=csi_pb2.CapacityRange(required_bytes=2 * gib * GIB),
                   volume_capability=cc.mount_cap(fs))}[op]()
        child = CRASH_CHILD.get(op) if rng.random() < ctx["child_rate"] else None
        killer = _Killer(drv, rng, CRASH_WINDOW[op], child)
        result, done = {}, threading.Event()

        def work():
            try:
                result["resp"] = cl.call(op, req, budget=180)
            except Exception as e:
                result["err"] = e
            done.set()

        t0 = time.monotonic()
        th = threading.Thread(target=work)
        th.start()
        killer.fire(t0, done)
        out["kill_at_s"] = round(time.monotonic() - t0, 3)
        out["kill_mode"] = killer.mode
        out["killed_after_op_done"] = killer.done_before
        out["children_at_kill"] = killer.ran
        if op == "NodeStageVolume" and not killer.done_before:
            # What a kill left on the device, before the restarted driver looks at it.
            out["device_after_kill"] = _device_type_of(sim, vid)
        log_mark = len(drv.output())
        time.sleep(rng.uniform(0, 0.3))
        drv.start()
        th.join(200)
        out["converge_s"] = round(time.monotonic() - t0, 2)
        if "err" in result or th.is_alive():
            e = result.get("err")
            out["outcome"] = f"refused: {e}" if e else "no answer"
            if op == "NodeStageVolume":
                # What is on the device the driver would not finish formatting?
                out["device_type"] = _device_type_of(sim, vid)
                ctx["refused"].append(out)
                out["refused"] = True
            out["violations"].append(f"{op} did not converge after kill -9: {e}")
            return out
        out["outcome"] = "converged"
        if op == "NodeStageVolume":
            after = drv.output()[log_mark:]
            out["formatted_on_retry"] = "formatting blank device" in after
            # A kill mid-mkfs: the restarted driver finishes its own format (node/format_claim.h).
            out["finished_interrupted_format"] = "formatting half-formatted device" in after
        resp = result["resp"]
        # The operation's invariant.
        if op == "CreateVolume":
            vid = resp.volume.volume_id
            ctx["known"].add(vid)
            same = [v for v, s in inv.ec2_volumes(sim).items() if s[1] == name and s[0] != "deleted"]
            out["volumes_for_name"] = len(same)
            if same != [vid]:
                out["violations"].append(f"CreateVolume {name}: EC2 holds {same}, the answer named {vid}")
        elif op == "ControllerPublishVolume":
            atts = inv.ec2_volumes(sim)[vid][2]
            out["attachments"] = atts
            if atts != [(node, "attached")]:
                out["violations"].append(f"ControllerPublish {vid}: attachments {atts}")
        elif op == "NodeStageVolume":
            if not P.mounts_under(staging):
                out["violations"].append(f"NodeStage {vid} OK but nothing mounted at {staging}")
            else:
                payload = rng.randbytes(1 << 16)
                with open(os.path.join(staging, "data.bin"), "wb") as f:
                    f.write(payload)
                    f.flush()
                    os.fsync(f.fileno())
        elif op == "NodeExpandVolume":
            s = os.statvfs(staging)
            size = s.f_blocks * s.f_frsize
            out["fs_bytes"] = size
            if size < int(1.8 * gib * GIB):
                out["violations"].append(f"NodeExpand {vid}: filesystem is {size} bytes after convergence")
            with open(os.path.join(staging, "data.bin"), "rb") as f:
                if _sha(f.read()) != _sha(payload):
                    out["violations"].append(f"NodeExpand {vid}: data changed")
        if staging and op in ("NodeStageVolume", "NodeExpandVolume"):
            cl.call("NodeUnstageVolume", cc.unstage_req(vid, staging))
            dev = _device_of(sim, vid)
            clean, text = inv.fs_check(dev, fs)
            out["fsck_clean"] = clean
            if not clean:
                out["violations"].append(f"{op} {vid}: fsck -n not clean after kill and convergence:\n{text}")
            out["blkid"] = inv.blkid_type(dev)
    except Exception as e:
        out["violations"].append(f"{op} run {run}: {type(e).__name__}: {e}")
    finally:
        _teardown_volume(ctx, vid, staging, out)
    return out


def _device_of(sim, vid):
    return os.path.realpath(os.path.join(sim.dev_dir, "nvme-Amazon_Elastic_Block_Store_" + vid.replace("-", "")))


def _device_type_of(sim, vid):
    try:
        dev = _device_of(sim, vid)
        with open(dev, "rb") as f:
            head = f.read(1 << 20)
        return {"blkid": inv.blkid_type(dev), "first_mib_zero": not any(head)}
    except OSError as e:
        return {"error": str(e)}


def _teardown_volume(ctx, vid, staging, out):
    cl = ctx["cl"]
    if vid is None:
        return
    try:
        if staging:
            cl.call("NodeUnstageVolume", cc.unstage_req(vid, staging), budget=60)
        cl.call("ControllerUnpublishVolume", cc.unpublish_req(vid, ctx["node"]), budget=120)
        cl.call("DeleteVolume", csi_pb2.DeleteVolumeRequest(volume_id=vid), budget=120)
    except Exception as e:
        out["violations"].append(f"tear-down of {vid}: {e}")


def run_crash(workdir, runs=6, seed=1, variant="asan", sim_variant="asan", ops=CRASH_OPS, child_rate=0.5,
              log=print):
    report = {"scenario": "crash", "runs": runs, "seed": seed, "violations": []}
    procs = P.Procs(workdir)
    t0 = time.monotonic()
    rng = random.Random(seed)
    try:
        sim, drv, kubelet = _start_pair(procs, workdir, ["--seed", str(seed)], variant, sim_variant, delay_ms=200)
        mon = inv.AttachMonitor(sim)
        mon.start()
        cl = cc.Client(drv.endpoint)
        node = cl.call("NodeGetInfo", csi_pb2.NodeGetInfoRequest()).node_id
        ctx = {"cl": cl, "drv": drv, "sim": sim, "kubelet": kubelet, "node": node, "seed": seed, "known": set(),
               "refused": [], "child_rate": child_rate, "ops": ops}
        runs_out = []
        for run in range(runs):
            op = ops[run % len(ops)]
            r = _crash_one(ctx, op, run, rng)
            runs_out.append(r)
            report["violations"].extend(r["violations"])
            if (run + 1) % 10 == 0:
                log(f"  crash: {run + 1}/{runs} runs ({time.monotonic() - t0:.0f} s)")
        mon.stop()
        report["runs_detail"] = runs_out
        report["driver_starts"] = drv.starts
        by = {}
        for r in runs_out:
            k = by.setdefault(r["op"], {"runs": 0, "converged": 0, "refused": 0, "killed_in_flight": 0,
                                        "finished_interrupted_format": 0, "killed_during": {}})
            k["runs"] += 1
            k["converged"] += r.get("outcome") == "converged"
            k["finished_interrupted_format"] += bool(r.get("finished_interrupted_format"))
            k["refused"] += bool(r.get("refused"))
            k["killed_in_flight"] += r.get("killed_after_op_done") is False
            for c in r.get("children_at_kill", []):
                k["killed_during"][c] = k["killed_during"].get(c, 0) + 1
        report["by_op"] = by
        report["refused_stages"] = ctx["refused"]
        vols = inv.ec2_volumes(sim)
        left = {v: s for v, s in vols.items() if s[0] != "deleted"}
        if left:
            report["violations"].append(f"volumes left in EC2: {left}")
        report["monitor"] = {"samples": mon.samples, "max_attached": mon.max_attached}
        for v in mon.violations[:20]:
            report["violations"].append(f"volume attached to two instances at once: {v}")
        report["calls"] = cc.summarize(cl.counts)
        cl.close()
    finally:
        _finish(report, procs)
    report["seconds"] = round(time.monotonic() - t0, 1)
    return report


def run_sim_restart(workdir, seed=1, variant="asan", sim_variant="asan", inflight=4, down_s=3.0, log=print):
    """kill -9 the SIMULATOR while lifecycles are in flight, keep it down, restart it on
    the same port and state directory: meanwhile the driver answers UNAVAILABLE or
    DEADLINE_EXCEEDED, afterwards everything converges, the driver never restarted."""
    report = {"scenario": "sim-restart", "violations": []}
    procs = P.Procs(workdir)
    t0 = time.monotonic()
    try:
        sim, drv, kubelet = _start_pair(procs, workdir, ["--seed", str(seed)], variant, sim_variant, delay_ms=300)
        pid = drv.pid
        cl = cc.Client(drv.endpoint)
        node = cl.call("NodeGetInfo", csi_pb2.NodeGetInfoRequest()).node_id
        results, known, lock = [], {}, threading.Lock()
        ths = [threading.Thread(target=lifecycle, args=(cl, kubelet, node, i, seed, 0.0, results, known, lock))
               for i in range(inflight)]
        for t in ths:
            t.start()
        time.sleep(0.8)
        sim.kill9()
        down_at = time.monotonic()
        # While it is down: single attempts, no retry — what would a sidecar see?
        codes = {}
        for method, req in (("CreateVolume", cc.create_req(f"pvc-down-{seed}", 1)),
                            ("ControllerPublishVolume", cc.publish_req("vol-0123456789abcdef0", node)),
                            ("DeleteVolume", csi_pb2.DeleteVolumeRequest(volume_id="vol-0123456789abcdef0")),
                            ("Probe", csi_pb2.ProbeRequest())):
            t = time.monotonic()
            try:
                r = cl.once(method, req, timeout=10)
                codes[method] = "OK" + (f" ready={r.ready.value}" if method == "Probe" else "")
            except grpc.RpcError as e:
                codes[method] = e.code().name
            codes[method + "_s"] = round(time.monotonic() - t, 2)
        report["while_down"] = codes
        for m in ("CreateVolume", "ControllerPublishVolume", "DeleteVolume"):
            if codes[m] not in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
                report["violations"].append(f"{m} while EC2 is down answered {codes[m]}")
        if codes["CreateVolume"] == "OK":
            known["pvc-down"] = None
        time.sleep(max(0.0, down_s - (time.monotonic() - down_at)))
        sim.start()
        report["down_s"] = round(time.monotonic() - down_at, 1)
        for t in ths:
            t.join(300)
        for r in results:
            if not r["ok"]:
                report["violations"].append(f"lifecycle {r['i']} did not recover: {r['step']}: {r.get('error')}")
            elif not r["intact"]:
                report["violations"].append(f"lifecycle {r['i']}: data differs")
        report["lifecycles_ok"] = sum(r["ok"] for r in results)
        # Recovered without a restart.
        if drv.pid != pid or not drv.alive() or drv.starts != 1:
            report["violations"].append("the driver was restarted or died")
        try:
            cl.once("CreateVolume", cc.create_req(f"pvc-after-{seed}", 1), timeout=15)
            report["after_restart"] = "OK"
        except grpc.RpcError as e:
            report["after_restart"] = e.code().name
            report["violations"].append(f"CreateVolume after the simulator came back: {e.code().name}")
        vols = inv.ec2_volumes(sim)
        for v, s in vols.items():
            if s[0] != "deleted" and s[1] == f"pvc-after-{seed}":
                cl.call("DeleteVolume", csi_pb2.DeleteVolumeRequest(volume_id=v))
            elif s[0] != "deleted" and v not in known:
                report["violations"].append(f"unknown volume left in EC2: {v} {s}")
        report["calls"] = cc.summarize(cl.counts)
        cl.close()
    finally:
        _finish(report, procs)
    report["seconds"] = round(time.monotonic() - t0, 1)
    return report


# ---- 3. load (issue 8.5) -------------------------------------------------------------------

def _tcp_remote_ports(pid):
    """{socket inode: remote port} of pid's TCP sockets."""
    out = {}
    for name in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{name}") as f:
                next(f)
                for ln in f:
                    parts = ln.split()
                    out[parts[9]] = int(parts[2].rsplit(":", 1)[1], 16)
        except (OSError, StopIteration, IndexError, ValueError):
            pass
    return out


def _mem(pid, ec2_port=None):
    """RSS, threads, and open fds split in two: TCP connections to EC2 (libcurl's
    connection cache: bounded by the worker threads, not a leak) and everything else."""
    vm, roll = P.rss_kb(pid)
    ports = _tcp_remote_ports(pid)
    ec2 = other = 0
    for t in _fd_targets(pid).values():
        if t.startswith("socket:[") and ec2_port is not None and ports.get(t[8:-1]) == ec2_port:
            ec2 += 1
        else:
            other += 1
    return {"rss_kb": vm, "smaps_rss_kb": roll, "fds": other + ec2, "fds_no_ec2": other, "ec2_conns": ec2,
            "threads": P.thread_count(pid)}


def _fd_targets(pid):
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[fd] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return out


GRPC_THREADS = {"default-executo", "grpc_global_tim", "timer_manager", "event_engine", "resolver-execut"}


def _thread_names(pid):
    """{thread name: count}: which pools the threads belong to."""
    out = {}
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/comm") as f:
                n = f.read().strip()
        except OSError:
            continue
        out[n] = out.get(n, 0) + 1
    return dict(sorted(out.items()))


def _burst(cl, node, n, names, vids, rng):
    """n single-attempt calls at once, mixed 40% Probe, 30% NodeGetInfo, 20% CreateVolume
    (over `names`, so several calls race for each name) and 10% ControllerPublish (over
    `vids`); returns ({method: {code: count}}, wall seconds)."""
    kinds, nc, np_ = [], 0, 0
    for i in range(n):
        r = i % 10
        if r < 4:
            kinds.append(("Probe", csi_pb2.ProbeRequest()))
        elif r < 7:
            kinds.append(("NodeGetInfo", csi_pb2.NodeGetInfoRequest()))
        elif r < 9:
            kinds.append(("CreateVolume", cc.create_req(names[nc % len(names)], 1)))
            nc += 1
        else:
            kinds.append(("ControllerPublishVolume", cc.publish_req(vids[np_ % len(vids)], node)))
            np_ += 1
    rng.shuffle(kinds)
    futs = []
    t0 = time.monotonic()
    for method, req in kinds:
        stub = cl.stubs[cc.SERVICE_OF[method]]
        futs.append((method, getattr(stub, method).future(req, timeout=120)))
    codes = {}
    for method, f in futs:
        try:
            f.result()
            code = "OK"
        except grpc.RpcError as e:
            code = e.code().name
        codes.setdefault(method, {}).setdefault(code, 0)
        codes[method][code] += 1
    return codes, round(time.monotonic() - t0, 2)


def run_load(workdir, calls=1000, seed=1, variant="release", sim_variant="asan", settle_s=5.0,
             rss_tolerance_kb=2048, publish_volumes=20, names_per_burst=25, bursts=2, max_ec2_conns=40,
             grpc_thread_cap=4 * (os.cpu_count() or 2) + 8, log=print):
    """Two identical bursts of `calls` concurrent calls: the first brings the worker pools,
    connections and caches to their steady state (figures reported), the second is
    measured against it. After each burst the volumes are detached and deleted and the
    driver left alone for settle_s."""
    report = {"scenario": "load", "calls": calls, "variant": variant, "violations": []}
    procs = P.Procs(workdir)
    t0 = time.monotonic()
    rng = random.Random(seed)
    try:
        sim, drv, _ = _start_pair(procs, workdir, ["--throttle", "aws", "--seed", str(seed)], variant, sim_variant,
                                  delay_ms=100, attach_loop=False)
        cl = cc.Client(drv.endpoint)
        node = cl.call("NodeGetInfo", csi_pb2.NodeGetInfoRequest()).node_id
        time.sleep(1)
        report["idle"] = _mem(drv.pid, sim.port)
        pool = cf.ThreadPoolExecutor(48)
        vids = list(pool.map(lambda i: cl.call("CreateVolume", cc.create_req(f"pvc-load-pub-{seed}-{i}", 1))
                             .volume.volume_id, range(publish_volumes)))
        keep = set(vids)

        def cleanup():
            list(pool.map(lambda v: cl.call("ControllerUnpublishVolume", cc.unpublish_req(v, node)), vids))
            gone = [v for v, s in inv.ec2_volumes(sim).items() if s[0] != "deleted" and v not in keep]
            list(pool.map(lambda v: cl.call("DeleteVolume", csi_pb2.DeleteVolumeRequest(volume_id=v)), gone))
            time.sleep(settle_s)

        def settled():
            # The least of four samples a second apart, per figure: glibc gives memory
            # back lazily, and gRPC core's executor/timer threads come and go.
            best = _mem(drv.pid, sim.port)
            for _ in range(3):
                time.sleep(1)
                m = _mem(drv.pid, sim.port)
                best = {k: min(best[k], m[k]) for k in best}
            return best

        # Saturate the worker pool first (threads start on demand and stay, each with
        # its malloc arena): 3 x --workers slow calls at once, distinct names.
        list(pool.map(lambda i: cl.call("CreateVolume", cc.create_req(f"pvc-load-sat-{seed}-{i}", 1)),
                      range(48)))
        peak = {"rss_kb": 0, "fds": 0, "threads": 0}
        series = report["settled_after_each_burst"] = []
        fds_base = None
        for k in range(bursts):
            burst = "warmup" if k == 0 else "measured"
            names = [f"pvc-load-{k}-{seed}-{i}" for i in range(names_per_burst)]
            if k == 1:
                base = report["baseline"] = settled()
                base_names = _thread_names(drv.pid)
                fds_base = _fd_targets(drv.pid)
            stop = threading.Event()

            def sampler():
                while not stop.is_set():
                    try:
                        m = _mem(drv.pid, sim.port)
                        for k in peak:
                            peak[k] = max(peak[k], m[k])
                    except OSError:
                        pass
                    stop.wait(0.05)

            th = threading.Thread(target=sampler, daemon=True)
            th.start()
            codes, wall = _burst(cl, node, calls, names, vids, rng)
            stop.set()
            th.join()
            report[f"{burst}_seconds"] = wall
            report[f"{burst}_codes"] = codes
            report[f"{burst}_peak"] = dict(peak)
            answered = sum(n for c in codes.values() for n in c.values())
            allowed = {"OK", "ABORTED", "UNAVAILABLE", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED"}
            bad = {m: {c: n for c, n in cs.items() if c not in allowed} for m, cs in codes.items()}
            bad = {m: cs for m, cs in bad.items() if cs}
            if answered != calls:
                report["violations"].append(f"{burst}: {calls - answered} calls not answered")
            if bad:
                report["violations"].append(f"{burst}: calls answered with a non-retryable error: {bad}")
            for m in ("Probe", "NodeGetInfo", "CreateVolume", "ControllerPublishVolume"):
                if codes.get(m, {}).get("OK", 0) == 0:
                    report["violations"].append(f"{burst}: no {m} answered OK")
            cleanup()
            series.append(settled())
        list(pool.map(lambda v: cl.call("DeleteVolume", csi_pb2.DeleteVolumeRequest(volume_id=v)), vids))
        pool.shutdown()
        left = {v: s for v, s in inv.ec2_volumes(sim).items() if s[0] != "deleted"}
        if left:
            report["violations"].append(f"volumes left in EC2: {left}")
        after = report["after"] = settled()
        report["thread_names_baseline"] = base_names
        report["thread_names_after"] = _thread_names(drv.pid)
        report["rss_delta_kb"] = after["rss_kb"] - base["rss_kb"]
        report["fd_delta"] = after["fds"] - base["fds"]
        if report["rss_delta_kb"] > rss_tolerance_kb:
            report["violations"].append(f"RSS {base['rss_kb']} kB before, {after['rss_kb']} kB after "
                                        f"(+{report['rss_delta_kb']} kB > {rss_tolerance_kb})")
        report["new_fds"] = sorted(set(_fd_targets(drv.pid).items()) - set(fds_base.items()))
        if after["fds_no_ec2"] > base["fds_no_ec2"]:
            report["violations"].append(f"open fds (EC2 connections aside) {base['fds_no_ec2']} before, "
                                        f"{after['fds_no_ec2']} after: {report['new_fds']}")
        if after["ec2_conns"] > max_ec2_conns:
            report["violations"].append(f"{after['ec2_conns']} connections to EC2 kept open (> {max_ec2_conns})")
        # The driver's own threads (the RPC pools, the dispatcher...) must be back where
        # they were; gRPC core's executor grows to about 2 per core under load and keeps
        # them (1 -> 4 "default-executo" seen here): bounded, not a leak.
        own = lambda names: sum(n for k, n in names.items() if k not in GRPC_THREADS)  # noqa: E731
        grpc_after = sum(n for k, n in report["thread_names_after"].items() if k in GRPC_THREADS)
        if own(report["thread_names_after"]) > own(base_names):
            report["violations"].append(f"driver threads {base_names} before, {report['thread_names_after']} after")
        if grpc_after > grpc_thread_cap:
            report["violations"].append(f"{grpc_after} gRPC core threads after the load (> {grpc_thread_cap})")
        report["calls_retried"] = cc.summarize(cl.counts)
        cl.close()
    finally:
        _finish(report, procs)
    report["seconds"] = round(time.monotonic() - t0, 1)
    return report


# ---- 4. valgrind (issue 8.2) ---------------------------------------------------------------

SUPP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "valgrind.supp")


def _valgrind_summary(text):
    errs = re.findall(r"ERROR SUMMARY: (\d+) errors", text)
    lost = re.findall(r"definitely lost: ([\d,]+) bytes in ([\d,]+) blocks", text)
    indirect = re.findall(r"indirectly lost: ([\d,]+) bytes", text)
    possibly = re.findall(r"possibly lost: ([\d,]+) bytes", text)
    num = lambda v: int(v.replace(",", "")) if v else 0  # noqa: E731
    return {"errors": num(errs[-1]) if errs else None,
            "definitely_lost_bytes": num(lost[-1][0]) if lost else 0,
            "indirectly_lost_bytes": num(indirect[-1]) if indirect else 0,
            "possibly_lost_bytes": num(possibly[-1]) if possibly else 0,
            "leak_summary_seen": "LEAK SUMMARY" in text or "All heap blocks were freed" in text}


def run_valgrind(workdir, seed=1, sim_variant="asan", extra_valgrind=(), log=print):
    """The RELEASE daemon under memcheck through the integration flows, then SIGTERM:
    0 errors, 0 definitely-lost bytes."""
    report = {"scenario": "valgrind", "violations": []}
    procs = P.Procs(workdir)
    t0 = time.monotonic()
    vg_log = os.path.join(workdir, "valgrind.log")
    wrapper = ["valgrind", "--tool=memcheck", "--leak-check=full", "--errors-for-leak-kinds=definite",
               "--error-exitcode=99", "--track-fds=no", "--num-callers=30", f"--log-file={vg_log}",
               f"--suppressions={SUPP}", *extra_valgrind]
    rc = None
    try:
        loop = P.can_loop()
        sim = procs.add(P.Sim(workdir, ["--seed", str(seed)], variant=sim_variant, delay_ms=100,
                              attach_loop=loop)).start()
        kubelet = _dirs(workdir)
        drv = P.Driver(workdir, ["all", "--by-id-dir", sim.dev_dir, "--kubelet-root", kubelet, "-v", "4",
                                 "--grace-period", "10"], sim.env(), variant="release", wrapper=wrapper)
        procs.add(drv)
        drv.start(timeout=120)
        report["start_s"] = round(time.monotonic() - t0, 1)
        cl = cc.Client(drv.endpoint, controller_timeout=60, node_timeout=120)
        steps = []
        cl.call("GetPluginInfo", csi_pb2.GetPluginInfoRequest())
        cl.call("GetPluginCapabilities", csi_pb2.GetPluginCapabilitiesRequest())
        cl.call("Probe", csi_pb2.ProbeRequest())
        cl.call("ControllerGetCapabilities", csi_pb2.ControllerGetCapabilitiesRequest())
        cl.call("NodeGetCapabilities", csi_pb2.NodeGetCapabilitiesRequest())
        node = cl.call("NodeGetInfo", csi_pb2.NodeGetInfoRequest()).node_id
        steps.append("identity")
        # Errors on the way: a garbage body, an unknown method, invalid arguments.
        garbage = {}
        for path, body in (("/csi.v1.Controller/CreateVolume", b"\xff\xff\xff\xff\x0f garbage"),
                           ("/csi.v1.Node/NodeGetInfo", b"\x0a\x80\x80\x80\x80\x10"),
                           ("/csi.v1.Nope/Nothing", b"")):
            try:
                cl.channel.unary_unary(path, request_serializer=None, response_deserializer=None)(body, timeout=60)
                garbage[path] = "OK"
            except grpc.RpcError as e:
                garbage[path] = e.code().name
        report["garbage"] = garbage
        if garbage["/csi.v1.Controller/CreateVolume"] != "INVALID_ARGUMENT":
            report["violations"].append(f"garbage CreateVolume answered {garbage}")
        for method, req in (("CreateVolume", csi_pb2.CreateVolumeRequest()),
                            ("NodeStageVolume", csi_pb2.NodeStageVolumeRequest(volume_id="vol-1")),
                            ("DeleteVolume", csi_pb2.DeleteVolumeRequest(volume_id="vol-0000000000000000f"))):
            try:
                cl.once(method, req, timeout=60)
            except grpc.RpcError:
                pass
        steps.append("errors")
        vid = cl.call("CreateVolume", cc.create_req(f"pvc-vg-{seed}", 1)).volume.volume_id
        cl.call("CreateVolume", cc.create_req(f"pvc-vg-{seed}", 1))      # idempotent replay
        pctx = cl.call("ControllerPublishVolume", cc.publish_req(vid, node)).publish_context
        steps.append("create+publish")
        if loop:
            staging, target = _paths(kubelet, vid, "vg")
            cl.call("NodeStageVolume", cc.stage_req(vid, staging, pctx))
            cl.call("NodePublishVolume", cc.nodepublish_req(vid, staging, target, pctx))
            with open(os.path.join(target, "f"), "wb") as f:
                f.write(b"valgrind")
            cl.call("NodeGetVolumeStats", csi_pb2.NodeGetVolumeStatsRequest(volume_id=vid, volume_path=target))
            cl.call("NodeUnpublishVolume", cc.nodeunpublish_req(vid, target))
            cl.call("NodeUnstageVolume", cc.unstage_req(vid, staging))
            steps.append("stage+publish")
        cl.call("ControllerUnpublishVolume", cc.unpublish_req(vid, node))
        cl.call("DeleteVolume", csi_pb2.DeleteVolumeRequest(volume_id=vid))
        steps.append("unpublish+delete")
        report["steps"] = steps
        report["calls"] = cc.summarize(cl.counts)
        cl.close()
        rc = drv.stop(timeout=120)
    finally:
        rcs = procs.close()
        report["exit_codes"] = {os.path.basename(k): v for k, v in rcs.items()}
    text = open(vg_log).read() if os.path.exists(vg_log) else ""
    s = _valgrind_summary(text)
    report["valgrind"] = s
    report["driver_exit"] = rc
    report["valgrind_log"] = vg_log
    if rc != 0:
        report["violations"].append(f"driver under valgrind exited {rc} (99: valgrind found errors)")
    if s["errors"] is None:
        report["violations"].append("no valgrind ERROR SUMMARY found")
    elif s["errors"] != 0:
        report["violations"].append(f"valgrind: {s['errors']} errors")
    if s["definitely_lost_bytes"] != 0:
        report["violations"].append(f"valgrind: {s['definitely_lost_bytes']} bytes definitely lost")
    if report["violations"]:
        report["valgrind_excerpt"] = text[-6000:]
    report["seconds"] = round(time.monotonic() - t0, 1)
    return report
