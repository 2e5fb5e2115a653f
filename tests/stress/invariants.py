"""Invariant checks for the stress runs.

AttachMonitor polls the simulator's /__sim/state (every 100 ms by default) for the
whole run and records any volume seen with more than one attachment, or attached
to more than one instance — EC2's "never two writers" promise for non-Multi-Attach
volumes, which the driver must never work around. ec2_volumes() lists what EC2
holds (boto3 DescribeVolumes, retried through throttling and 5xx); fs_check() runs
a read-only fsck of an unmounted device.
"""
import subprocess
import threading
import time


class AttachMonitor(threading.Thread):
    def __init__(self, sim, period=0.1):
        super().__init__(daemon=True)
        self.sim, self.period = sim, period
        self.stop_ev = threading.Event()
        self.samples = 0
        self.errors = 0
        self.violations = []        # (time, volume id, [(instance, state)])
        self.max_attached = 0       # most volumes attached at once

    def run(self):
        while not self.stop_ev.is_set():
            try:
                st = self.sim.state()
            except Exception:       # simulator restarting or busy: just sample later
                self.errors += 1
                self.stop_ev.wait(self.period)
                continue
            self.samples += 1
            n = 0
            for v in st.get("volumes", []):
                atts = v.get("attachments") or []
                if atts:
                    n += 1
                insts = {a.get("instance_id", a.get("instance")) for a in atts}
                if len(atts) > 1 or len(insts) > 1:
                    self.violations.append((time.time(), v["id"], [(a.get("instance_id", a.get("instance")),
                                                                    a.get("status")) for a in atts]))
            self.max_attached = max(self.max_attached, n)
            self.stop_ev.wait(self.period)

    def stop(self):
        self.stop_ev.set()
        self.join(10)


def ec2_volumes(sim):
    """{volume id: (state, CSIVolumeName tag, attachments)} of every volume EC2 has."""
    ec2 = sim.client(attempts=30)
    out = {}
    for page in ec2.get_paginator("describe_volumes").paginate(PaginationConfig={"PageSize": 500}):
        for v in page["Volumes"]:
            tags = {t["Key"]: t["Value"] for t in v.get("Tags", [])}
            out[v["VolumeId"]] = (v["State"], tags.get("CSIVolumeName"),
                                  [(a["InstanceId"], a["State"]) for a in v.get("Attachments", [])])
    return out


def fs_check(dev, fs):
    """Read-only check of an unmounted filesystem: (clean?, output)."""
    cmd = ["e2fsck", "-n", "-f", dev] if fs.startswith("ext") else ["xfs_repair", "-n", dev]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    return r.returncode == 0, r.stdout[-2000:]


def blkid_type(dev):
    r = subprocess.run(["blkid", "-p", "-o", "value", "-s", "TYPE", dev], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    return r.stdout.strip() or None
