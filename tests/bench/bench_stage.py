"""NodeStage of a blank volume against the same mkfs + mount run by hand
(issue 6's target: ≤ 1.1× the tools themselves), ext4 and xfs.

The driver's volume: the simulator (--attach loop) attaches a sparse file as a
loop device behind its Nitro by-id link; NodeStage finds it, proves it blank,
formats and mounts it. By hand: an identical sparse file on the same
filesystem, attached with the same `losetup --find --show`, then exactly the
mkfs the driver runs (node/mounter_linux.c, mounter_format_args: ext4
`-m 0 -E lazy_itable_init=1,lazy_journal_init=1,nodiscard`; xfs `-K`) and
`mount -t FS` (xfs with `-o nouuid`, as the driver mounts it). Runs alternate
which side goes first. Every loop device and mount made here is removed.
Needs root and loop devices; reports "skipped" otherwise.
"""
import os
import shutil
import subprocess
import time

from bench_common import (GIB, IMDS_INSTANCE, ZONE, Driver, Sim, log, median, release_loops, unmount_under)

MKFS = {
    "ext4": ["mkfs.ext4", "-m", "0", "-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard"],
    "xfs": ["mkfs.xfs", "-K"],
}
MOUNT_OPTS = {"ext4": [], "xfs": ["-o", "nouuid"]}


def available():
    if os.geteuid() != 0:
        return "not root"
    for t in ("losetup", "mkfs.ext4", "mkfs.xfs", "mount"):
        if shutil.which(t) is None:
            return f"{t} missing"
    if not os.path.exists("/dev/loop-control"):
        return "no /dev/loop-control"
    return None


def by_hand(base, fs, gib, k):
    """(mkfs s, mount s) on a fresh sparse file behind a loop device."""
    img = os.path.join(base, f"hand-{fs}-{k}.img")
    mnt = os.path.join(base, f"hand-{fs}-{k}.mnt")
    os.makedirs(mnt)
    with open(img, "wb") as f:
        f.truncate(gib * GIB)
    dev = subprocess.run(["losetup", "--find", "--show", "--", img], check=True, text=True,
                         stdout=subprocess.PIPE).stdout.strip()
    try:
        t0 = time.perf_counter()
        subprocess.run(MKFS[fs] + [dev], check=True, stdin=subprocess.DEVNULL, capture_output=True)
        t1 = time.perf_counter()
        subprocess.run(["mount", "-t", fs, *MOUNT_OPTS[fs], dev, mnt], check=True, capture_output=True)
        t2 = time.perf_counter()
        subprocess.run(["umount", mnt], check=True)
    finally:
        unmount_under(mnt)
        subprocess.run(["losetup", "--detach", dev], stderr=subprocess.DEVNULL)
        os.unlink(img)
    return t1 - t0, t2 - t1


def wait(pred, timeout=60, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


def via_driver(sim, ec2, node, kube, byid, fs, gib, k, log_path):
    """(NodeStage seconds, mkfs + mount seconds inside it) on a blank volume the simulator attached."""
    import csi_pb2
    vid = ec2.create_volume(AvailabilityZone=ZONE, Size=gib, VolumeType="gp3")["VolumeId"]

    def vol():
        return ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]

    wait(lambda: vol()["State"] == "available", what=f"{vid} available")
    ec2.attach_volume(VolumeId=vid, InstanceId=IMDS_INSTANCE, Device=f"/dev/xvdb{chr(ord('a') + k % 26)}")
    link = os.path.join(byid, "nvme-Amazon_Elastic_Block_Store_" + vid.replace("-", ""))
    wait(lambda: vol()["Attachments"] and vol()["Attachments"][0]["State"] == "attached" and os.path.exists(link),
         what=f"{vid} attached")
    staging = os.path.join(kube, "plugins", vid, "globalmount")
    os.makedirs(staging)
    cap = csi_pb2.VolumeCapability(mount=csi_pb2.VolumeCapability.MountVolume(fs_type=fs),
                                   access_mode=csi_pb2.VolumeCapability.AccessMode(mode=1))
    try:
        t0 = time.perf_counter()
        node.NodeStageVolume(csi_pb2.NodeStageVolumeRequest(volume_id=vid, staging_target_path=staging,
                                                            volume_capability=cap), timeout=300)
        dt = time.perf_counter() - t0
        inner = tools_in_driver(log_path, vid)
    finally:
        node.NodeUnstageVolume(csi_pb2.NodeUnstageVolumeRequest(volume_id=vid, staging_target_path=staging),
                               timeout=120)
        unmount_under(staging)
        ec2.detach_volume(VolumeId=vid)
        wait(lambda: not vol()["Attachments"], what=f"{vid} detached")
        ec2.delete_volume(VolumeId=vid)
    return dt, inner


def _clock(line):
    """Seconds of the day from a klog line ("I1126 01:44:28.762465 ...")."""
    h, m, sec = line.split()[1].split(":")
    return int(h) * 3600 + int(m) * 60 + float(sec)


def tools_in_driver(log_path, vid):
    """mkfs + mount as the driver's own log times them: from "formatting blank
    device" to "volume VID ... staged"; None when the lines are not there."""
    with open(log_path, errors="replace") as f:
        lines = f.readlines()
    start = None
    for ln in lines:
        if "formatting blank device" in ln:
            start = ln
        elif f"volume {vid} " in ln and "staged at" in ln and start is not None:
            try:
                return _clock(ln) - _clock(start)
            except (ValueError, IndexError):
                return None
    return None


def run(work, cfg):
    why = available()
    if why:
        log(f"stage: skipped ({why})")
        return "| measure | value |\n|---|---|\n| NodeStage vs mkfs + mount | skipped |", f"Skipped: {why}."
    import csi_pb2_grpc
    base = os.path.join(work, "stage")
    byid, kube, hand = (os.path.join(base, d) for d in ("by-id", "kubelet", "hand"))
    for d in (byid, kube, hand):
        os.makedirs(d)
    gib = cfg.stage_gib
    sim = Sim(base, "sim", ["--attach", "loop", "--dev-dir", byid, "--delay-ms", "100",
                            "--instances", f"{IMDS_INSTANCE}:{ZONE}:m7i.large"])
    d = None
    res = {fs: {"drv": [], "inner": [], "mkfs": [], "mount": []} for fs in MKFS}
    try:
        d = Driver(base, "driver", ["node", "--by-id-dir", byid, "--kubelet-root", kube], sim.env())
        d.wait_probe_ok()
        node = csi_pb2_grpc.NodeStub(d.connect())
        ec2 = sim.ec2()
        k = 0
        for fs in MKFS:
            # One untimed round each first: the tools' pages into the cache.
            for r in range(cfg.stage_repeats + 1):
                order = ("hand", "drv") if r % 2 == 0 else ("drv", "hand")
                for side in order:
                    if side == "hand":
                        m, n = by_hand(hand, fs, gib, k)
                        if r > 0:
                            res[fs]["mkfs"].append(m)
                            res[fs]["mount"].append(n)
                    else:
                        t, inner = via_driver(sim, ec2, node, kube, byid, fs, gib, k, d.log_path)
                        if r > 0:
                            res[fs]["drv"].append(t)
                            if inner is not None:
                                res[fs]["inner"].append(t - inner)
                    k += 1
    finally:
        rc = d.stop() if d else None
        unmount_under(base)
        sim.stop()
        release_loops(base)
    rows = ["| filesystem | mkfs by hand (ms) | mount by hand (ms) | mkfs + mount (ms) | NodeStage (ms) | "
            "ratio (target ≤ 1.1) | NodeStage outside mkfs + mount (ms) |", "|---|---|---|---|---|---|---|"]
    summary = []
    for fs, v in res.items():
        mk, mo = median(v["mkfs"]), median(v["mount"])
        tools = median([a + b for a, b in zip(v["mkfs"], v["mount"])])
        st = median(v["drv"])
        ratio = st / tools if tools else float("nan")
        rows.append(f"| {fs} | {mk * 1000:.0f} | {mo * 1000:.0f} | {tools * 1000:.0f} | {st * 1000:.0f} | "
                    f"**{ratio:.2f}×** | {median(v['inner']) * 1000:.1f} |")
        summary.append(f"{fs} {ratio:.2f}×")
    notes = (f"Blank {gib} GiB gp3 volume, sparse file behind a loop device on both sides; medians of "
             f"{cfg.stage_repeats} runs each (after one untimed warm-up round). NodeStage is the whole gRPC call "
             "as kubelet makes it (device lookup and proof, blank check, mkfs, mount); by hand is the two "
             f"commands timed from Python. The last column is NodeStage minus the driver's own mkfs + mount (from its "
             "log: \"formatting blank device\" to \"staged\"): gRPC, device lookup, the blank proof (libblkid), "
             f"mount-table checks. Driver exit status {rc}.")
    log("stage: " + ", ".join(summary))
    return "\n".join(rows), notes
