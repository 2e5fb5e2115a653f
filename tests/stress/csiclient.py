"""A CSI client that behaves like the Kubernetes sidecars and kubelet: every call has a
deadline (controller calls 15 s as external-provisioner/-attacher use, node calls
60 s), and ABORTED, UNAVAILABLE, DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED are
retried with exponential backoff (100 ms doubling to 5 s, jittered) until the
operation's overall budget runs out; any other code is final. The channel is
created with a short reconnect backoff so a restarted driver is found quickly.

Every attempt's outcome is counted per method and code (`counts`), and so are the
operations' final outcomes (`finals`): the reports print both.
"""
import collections
import random
import threading
import time

import grpc

from stress.procs import csi_pb2, csi_pb2_grpc  # noqa: F401

RETRYABLE = {grpc.StatusCode.ABORTED, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
             grpc.StatusCode.RESOURCE_EXHAUSTED}
CHANNEL_OPTS = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.min_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", 1000), ("grpc.enable_retries", 0)]

SERVICE_OF = {}
for _svc, _names in (("Identity", ("Probe", "GetPluginInfo", "GetPluginCapabilities")),
                     ("Controller", ("CreateVolume", "DeleteVolume", "ControllerPublishVolume",
                                     "ControllerUnpublishVolume", "ControllerExpandVolume",
                                     "ControllerGetCapabilities")),
                     ("Node", ("NodeStageVolume", "NodeUnstageVolume", "NodePublishVolume", "NodeUnpublishVolume",
                               "NodeExpandVolume", "NodeGetInfo", "NodeGetCapabilities", "NodeGetVolumeStats"))):
    for _n in _names:
        SERVICE_OF[_n] = _svc


class CallFailed(Exception):
    def __init__(self, method, code, details, attempts):
        super().__init__(f"{method}: {code.name if code else '?'}: {details} (after {attempts} attempts)")
        self.method, self.code, self.details, self.attempts = method, code, details, attempts


class Client:
    def __init__(self, endpoint, controller_timeout=15.0, node_timeout=60.0):
        self.endpoint = endpoint
        self.controller_timeout = controller_timeout
        self.node_timeout = node_timeout
        self.lock = threading.Lock()
        self.counts = collections.Counter()     # (method, code name) per attempt
        self.finals = collections.Counter()     # (method, code name) per operation
        self._open()

    def _open(self):
        self.channel = grpc.insecure_channel(self.endpoint, options=CHANNEL_OPTS)
        self.stubs = {"Identity": csi_pb2_grpc.IdentityStub(self.channel),
                      "Controller": csi_pb2_grpc.ControllerStub(self.channel),
                      "Node": csi_pb2_grpc.NodeStub(self.channel)}

    def close(self):
        self.channel.close()

    def _count(self, table, method, code):
        with self.lock:
            table[(method, code)] += 1

    def once(self, method, req, timeout=None):
        """One attempt, no retry; returns the response or raises grpc.RpcError (counted)."""
        svc = SERVICE_OF[method]
        timeout = timeout or (self.node_timeout if svc == "Node" else self.controller_timeout)
        try:
            r = getattr(self.stubs[svc], method)(req, timeout=timeout)
            self._count(self.counts, method, "OK")
            return r
        except grpc.RpcError as e:
            self._count(self.counts, method, e.code().name)
            raise

    def call(self, method, req, budget=300.0, timeout=None, on_retry=None):
        """Retries like a sidecar until OK, a final code, or `budget` seconds."""
        end = time.monotonic() + budget
        delay, attempts = 0.1, 0
        while True:
            attempts += 1
            try:
                r = self.once(method, req, timeout)
                self._count(self.finals, method, "OK")
                return r
            except grpc.RpcError as e:
                code = e.code()
                if code not in RETRYABLE or time.monotonic() + delay > end:
                    self._count(self.finals, method, code.name)
                    raise CallFailed(method, code, e.details(), attempts) from None
                if on_retry:
                    on_retry(method, code, e.details())
            time.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 5.0)


def summarize(counter):
    """{method: {code: n}} from a Counter of (method, code)."""
    out = {}
    for (m, c), n in sorted(counter.items()):
        out.setdefault(m, {})[c] = n
    return out


# ---- requests ---------------------------------------------------------------------------

def mount_cap(fs="ext4"):
    return csi_pb2.VolumeCapability(mount=csi_pb2.VolumeCapability.MountVolume(fs_type=fs),
                                    access_mode=csi_pb2.VolumeCapability.AccessMode(mode=1))


def create_req(name, gib=1, fs="ext4", params=None):
    return csi_pb2.CreateVolumeRequest(name=name, capacity_range=csi_pb2.CapacityRange(required_bytes=gib << 30),
                                       volume_capabilities=[mount_cap(fs)],
                                       parameters=params if params is not None else {"type": "gp3"})


def publish_req(vid, node, fs="ext4"):
    return csi_pb2.ControllerPublishVolumeRequest(volume_id=vid, node_id=node, volume_capability=mount_cap(fs))


def unpublish_req(vid, node):
    return csi_pb2.ControllerUnpublishVolumeRequest(volume_id=vid, node_id=node)


def stage_req(vid, staging, pctx, fs="ext4"):
    return csi_pb2.NodeStageVolumeRequest(volume_id=vid, staging_target_path=staging, volume_capability=mount_cap(fs),
                                          publish_context=pctx)


def unstage_req(vid, staging):
    return csi_pb2.NodeUnstageVolumeRequest(volume_id=vid, staging_target_path=staging)


def nodepublish_req(vid, staging, target, pctx, fs="ext4"):
    return csi_pb2.NodePublishVolumeRequest(volume_id=vid, staging_target_path=staging, target_path=target,
                                            volume_capability=mount_cap(fs), publish_context=pctx)


def nodeunpublish_req(vid, target):
    return csi_pb2.NodeUnpublishVolumeRequest(volume_id=vid, target_path=target)
