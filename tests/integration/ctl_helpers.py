"""Helpers for the controller integration tests (test_controller*.py): a private
ebs-ec2-sim plus an ebs-csi-driver in controller mode pointed at it, CSI request
builders, sidecar-like retries, and readers of the simulator's /__sim/stats.

The simulator serves three instances: INSTANCE and INSTANCE_C in us-east-1a (so a
volume can be attached to either, and a second attachment is EC2's VolumeInUse),
INSTANCE_B in us-east-1b. IMDS answers for INSTANCE, so a volume requested
without topology lands in us-east-1a (the controller's own zone).
"""
import json
import os
import signal
import socket
import time

import grpc

import csi_pb2
import csi_pb2_grpc
from conftest import Driver
from ec2sim_fixture import INSTANCE, INSTANCE_B, Sim

INSTANCE_C = "i-0aaaabbbbccccdddd"
INSTANCES_3 = (f"{INSTANCE}:us-east-1a:m5.large:enis=2:ebs=1,{INSTANCE_C}:us-east-1a:m5.large,"
               f"{INSTANCE_B}:us-east-1b:m7i.large")
GIB = 1 << 30
ZONE_KEY = "topology.kubernetes.io/zone"
C = grpc.StatusCode
# What the CSI sidecars retry (with backoff) instead of reporting a failure.
RETRYABLE = (C.ABORTED, C.UNAVAILABLE, C.DEADLINE_EXCEEDED, C.RESOURCE_EXHAUSTED)
MUTATING = ("CreateVolume", "DeleteVolume", "AttachVolume", "DetachVolume", "ModifyVolume", "CreateSnapshot",
            "DeleteSnapshot", "CopyVolumes", "CreateTags", "DeleteTags")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- processes ------------------------------------------------------------------------

def sim_env(sim):
    """Driver environment reaching the private simulator (EC2 and IMDS)."""
    return {"AWS_ENDPOINT_URL_EC2": sim.url, "AWS_EC2_METADATA_SERVICE_ENDPOINT": sim.url}


class Stack:
    """A private simulator and the drivers started against it, stopped (SIGTERM,
    exit 0 required) by close(). For module-scoped fixtures, where conftest's
    function-scoped start_driver/start_sim cannot be used."""

    def __init__(self, base, sim_args=(), driver_args=("controller",), driver_env=None):
        self.base = str(base)
        os.makedirs(self.base, exist_ok=True)
        self.sims, self.drivers, self.n = [], [], 0
        self.sim = self.start_sim(*sim_args)
        self.driver = self.start_driver(*driver_args, env=driver_env) if driver_args is not None else None

    def start_sim(self, *args, state_dir=None):
        sd = state_dir or os.path.join(self.base, "state")
        s = Sim(sd, os.path.join(self.base, f"sim{len(self.sims)}.log"),
                ["--instances", INSTANCES_3, *args])
        self.sims.append(s)
        return s

    def start_driver(self, *args, env=None):
        e = sim_env(self.sim)
        e.update(env or {})
        self.n += 1
        d = Driver(list(args), os.path.join(self.base, f"d{self.n}"), os.path.join(self.base, f"driver{self.n}.log"),
                   e)
        self.drivers.append(d)
        return d

    def stop_driver(self, d):
        rc = d.stop()
        assert rc == 0, f"driver exited {rc}:\n{d.output()[-4000:]}"

    def close(self):
        failures = []
        for d in self.drivers:
            if d.proc.poll() is None or not d.log.closed:
                rc = d.stop()
                if rc != 0:
                    failures.append(f"driver exited {rc} at teardown:\n{d.output()[-4000:]}")
        for s in self.sims:
            if s.proc.poll() is None or not s.log.closed:
                rc = s.stop()
                if rc != 0:
                    failures.append(f"ebs-ec2-sim exited {rc} at teardown:\n{s.output()[-4000:]}")
        assert not failures, "\n".join(failures)


def ctl(driver):
    return csi_pb2_grpc.ControllerStub(driver.channel)


# ---- simulator stats ------------------------------------------------------------------

def stats(sim):
    status, body, _ = sim.get("/__sim/stats")
    assert status == 200, body
    return json.loads(body)


def reset_stats(sim):
    status, body, _ = sim.get("/__sim/stats", method="DELETE")
    assert status == 200, body


def set_faults(sim, **faults):
    status, body, _ = sim.get("/__sim/faults", method="POST", data=json.dumps(faults).encode(),
                              headers={"Content-Type": "application/json"})
    assert status == 200, body
    return json.loads(body)


def calls(st, action=None, outcome=None):
    """Number of EC2 calls in a stats snapshot: of one action (all actions when None),
    with one outcome ("ok", an error code) or any."""
    n = 0
    for a, per in st["actions"].items():
        if action is not None and a != action:
            continue
        for o, k in per.items():
            if outcome is None or o == outcome:
                n += k
    return n


def diff(before, after):
    """{action: {outcome: count}} of the calls between two snapshots."""
    out = {}
    for a, per in after["actions"].items():
        for o, k in per.items():
            d = k - before["actions"].get(a, {}).get(o, 0)
            if d:
                out.setdefault(a, {})[o] = d
    return out


# ---- requests -------------------------------------------------------------------------

def mount_cap(fs="ext4", mode=csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER):
    return csi_pb2.VolumeCapability(mount=csi_pb2.VolumeCapability.MountVolume(fs_type=fs),
                                    access_mode=csi_pb2.VolumeCapability.AccessMode(mode=mode))


def block_cap(mode=csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER):
    return csi_pb2.VolumeCapability(block=csi_pb2.VolumeCapability.BlockVolume(),
                                    access_mode=csi_pb2.VolumeCapability.AccessMode(mode=mode))


def create_req(name, gib=1, params=None, zone=None, cap=None, snapshot=None, source_volume=None, **kw):
    r = csi_pb2.CreateVolumeRequest(name=name, volume_capabilities=[cap or mount_cap()],
                                    capacity_range=csi_pb2.CapacityRange(required_bytes=gib * GIB),
                                    parameters=params or {}, **kw)
    if zone:
        r.accessibility_requirements.CopyFrom(csi_pb2.TopologyRequirement(
            requisite=[csi_pb2.Topology(segments={ZONE_KEY: zone})],
            preferred=[csi_pb2.Topology(segments={ZONE_KEY: zone})]))
    if snapshot:
        r.volume_content_source.CopyFrom(csi_pb2.VolumeContentSource(
            snapshot=csi_pb2.VolumeContentSource.SnapshotSource(snapshot_id=snapshot)))
    if source_volume:
        r.volume_content_source.CopyFrom(csi_pb2.VolumeContentSource(
            volume=csi_pb2.VolumeContentSource.VolumeSource(volume_id=source_volume)))
    return r


def publish_req(vid, node, cap=None, readonly=False, context=None):
    return csi_pb2.ControllerPublishVolumeRequest(volume_id=vid, node_id=node, volume_capability=cap or mount_cap(),
                                                  readonly=readonly, volume_context=context or {})


def unpublish_req(vid, node):
    return csi_pb2.ControllerUnpublishVolumeRequest(volume_id=vid, node_id=node)


def code_of(fn, req, timeout=60):
    """(StatusCode, details, response) of one call."""
    try:
        return C.OK, "", fn(req, timeout=timeout)
    except grpc.RpcError as e:
        return e.code(), e.details(), None


def with_retry(fn, req, budget=90.0, timeout=30.0, retryable=RETRYABLE, log=None):
    """Calls fn(req) as a CSI sidecar does: a per-call timeout, and on a retryable
    code an exponential backoff (50 ms doubling to 2 s) until budget seconds have
    passed. Returns the response; raises the last RpcError otherwise. log, when
    given, is a list that receives every non-OK code seen."""
    end = time.time() + budget
    delay = 0.05
    while True:
        try:
            return fn(req, timeout=timeout)
        except grpc.RpcError as e:
            if log is not None:
                log.append(e.code())
            if e.code() not in retryable or time.time() + delay > end:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def volume_tags(v):
    return {t["Key"]: t["Value"] for t in v.get("Tags", [])}


def all_volumes(ec2):
    out, token = [], None
    while True:
        kw = {"MaxResults": 500}
        if token:
            kw["NextToken"] = token
        r = ec2.describe_volumes(**kw)
        out += r["Volumes"]
        token = r.get("NextToken")
        if not token:
            return out


def all_snapshots(ec2):
    return ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]


def kill_hard(sim):
    """SIGKILLs a simulator (its state file is durable); marks it so teardown does
    not count the -9 as a failure."""
    sim.proc.send_signal(signal.SIGKILL)
    sim.proc.wait(timeout=10)
    sim.log.close()
    sim.expect_fail = True


# ---- metrics --------------------------------------------------------------------------

def scrape(port):
    """{(name, frozenset(label items)): value} of the driver's /metrics."""
    import re
    import urllib.request
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
    label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = sample.match(line)
        assert m, line
        out[(m.group(1), frozenset(label.findall(m.group(3) or "")))] = float(m.group(4))
    return out, text


def metric_sum(samples, name, **labels):
    """Sum of the samples of name whose labels include labels."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))
