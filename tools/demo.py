#!/usr/bin/python3
"""`make demo`: one volume's whole life against the driver that `make run` serves.

create → attach (ControllerPublish) → stage → publish → write a file → snapshot →
restore the snapshot into a new volume → attach, stage and publish it → read the
file back → tear everything down. Each step is printed with its time. Needs the
driver on ./run/csi.sock (started by `make run`, as root so that volumes are
real loop devices) and Debian's python3-grpcio and python3-grpc-tools.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def stubs():
    out = os.path.join(ROOT, "build", "py")
    os.makedirs(out, exist_ok=True)
    proto = os.path.join(ROOT, "csi-proto", "csi.proto")
    if not os.path.exists(os.path.join(out, "csi_pb2.py")) or \
            os.path.getmtime(os.path.join(out, "csi_pb2.py")) < os.path.getmtime(proto):
        from grpc_tools import protoc
        if protoc.main(["protoc", f"-I{ROOT}/csi-proto", "-I/usr/include", f"--python_out={out}",
                        f"--grpc_python_out={out}", proto]) != 0:
            sys.exit("demo: cannot generate the CSI stubs")
    sys.path.insert(0, out)


class Steps:
    def __init__(self):
        self.t0 = time.monotonic()

    def run(self, what, fn):
        t = time.monotonic()
        sys.stdout.write(f"  {what:<52}")
        sys.stdout.flush()
        r = fn()
        print(f"{(time.monotonic() - t) * 1000:8.0f} ms")
        return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", default=os.path.join(ROOT, "run", "csi.sock"), help="the driver's unix socket")
    ap.add_argument("--fs", default="ext4", choices=["ext4", "xfs"])
    a = ap.parse_args()
    if not os.path.exists(a.endpoint):
        sys.exit(f"demo: no driver at {a.endpoint}: start it with `make run` in another terminal")
    stubs()
    import grpc
    import csi_pb2 as pb
    import csi_pb2_grpc as rpc

    ch = grpc.insecure_channel("unix://" + a.endpoint)
    ident, ctrl, node = rpc.IdentityStub(ch), rpc.ControllerStub(ch), rpc.NodeStub(ch)
    work = tempfile.mkdtemp(prefix="ebs-demo-")
    cap = pb.VolumeCapability(mount=pb.VolumeCapability.MountVolume(fs_type=a.fs),
                              access_mode=pb.VolumeCapability.AccessMode(mode=pb.VolumeCapability.AccessMode.SINGLE_NODE_WRITER))
    s = Steps()
    made = []  # (kind, id) to tear down, newest last
    name = f"demo-{os.getpid()}-{int(time.time())}"
    payload = os.urandom(64 * 1024)
    try:
        print(f"ebs-csi-c demo on {a.endpoint}")
        info = s.run("plugin info and node identity", lambda: (ident.GetPluginInfo(pb.GetPluginInfoRequest(), timeout=10),
                                                               node.NodeGetInfo(pb.NodeGetInfoRequest(), timeout=10)))[1]
        topo = pb.TopologyRequirement(preferred=[info.accessible_topology], requisite=[info.accessible_topology])

        def create(vname, source=None):
            req = pb.CreateVolumeRequest(name=vname, capacity_range=pb.CapacityRange(required_bytes=1 << 30),
                                         volume_capabilities=[cap], parameters={"type": "gp3"},
                                         accessibility_requirements=topo)
            if source:
                req.volume_content_source.snapshot.snapshot_id = source
            v = ctrl.CreateVolume(req, timeout=300).volume
            made.append(("volume", v.volume_id))
            return v

        def attach_and_mount(vid, tag):
            pub = ctrl.ControllerPublishVolume(pb.ControllerPublishVolumeRequest(
                volume_id=vid, node_id=info.node_id, volume_capability=cap), timeout=300)
            made.append(("attachment", vid))
            staging = os.path.join(work, tag, "staging")
            target = os.path.join(work, tag, "target")
            os.makedirs(staging)
            node.NodeStageVolume(pb.NodeStageVolumeRequest(volume_id=vid, staging_target_path=staging,
                                                           publish_context=pub.publish_context,
                                                           volume_capability=cap), timeout=300)
            made.append(("staged", (vid, staging)))
            node.NodePublishVolume(pb.NodePublishVolumeRequest(volume_id=vid, staging_target_path=staging,
                                                               target_path=target, publish_context=pub.publish_context,
                                                               volume_capability=cap), timeout=120)
            made.append(("published", (vid, target)))
            return target

        print(f"node {info.node_id}, zone {dict(info.accessible_topology.segments).get('topology.kubernetes.io/zone')}")
        v1 = s.run(f"CreateVolume {name} (1 GiB gp3)", lambda: create(name))
        t1 = s.run(f"attach, stage ({a.fs}) and publish {v1.volume_id}", lambda: attach_and_mount(v1.volume_id, "v1"))

        def write():
            with open(os.path.join(t1, "hello.bin"), "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
        s.run("write a 64 KiB file", write)

        def snapshot():
            snap = ctrl.CreateSnapshot(pb.CreateSnapshotRequest(source_volume_id=v1.volume_id, name=name + "-snap"),
                                       timeout=300).snapshot
            made.append(("snapshot", snap.snapshot_id))
            while not snap.ready_to_use:
                time.sleep(0.5)
                snap = ctrl.ListSnapshots(pb.ListSnapshotsRequest(snapshot_id=snap.snapshot_id),
                                          timeout=60).entries[0].snapshot
            return snap
        snap = s.run("CreateSnapshot and wait until ready", snapshot)
        v2 = s.run(f"restore {snap.snapshot_id} into a new volume", lambda: create(name + "-restored", snap.snapshot_id))
        t2 = s.run(f"attach, stage and publish {v2.volume_id}", lambda: attach_and_mount(v2.volume_id, "v2"))

        def check():
            with open(os.path.join(t2, "hello.bin"), "rb") as f:
                if f.read() != payload:
                    raise SystemExit("demo: the restored file differs!")
        s.run("read the file back from the restored volume", check)
        print("the restored volume holds the same bytes")
    finally:
        for kind, what in reversed(made):
            try:
                if kind == "published":
                    s.run(f"NodeUnpublishVolume {what[0]}", lambda: node.NodeUnpublishVolume(
                        pb.NodeUnpublishVolumeRequest(volume_id=what[0], target_path=what[1]), timeout=120))
                elif kind == "staged":
                    s.run(f"NodeUnstageVolume {what[0]}", lambda: node.NodeUnstageVolume(
                        pb.NodeUnstageVolumeRequest(volume_id=what[0], staging_target_path=what[1]), timeout=120))
                elif kind == "attachment":
                    s.run(f"ControllerUnpublishVolume {what}", lambda: ctrl.ControllerUnpublishVolume(
                        pb.ControllerUnpublishVolumeRequest(volume_id=what, node_id=info.node_id), timeout=300))
                elif kind == "snapshot":
                    s.run(f"DeleteSnapshot {what}", lambda: ctrl.DeleteSnapshot(
                        pb.DeleteSnapshotRequest(snapshot_id=what), timeout=120))
                elif kind == "volume":
                    s.run(f"DeleteVolume {what}", lambda: ctrl.DeleteVolume(
                        pb.DeleteVolumeRequest(volume_id=what), timeout=300))
            except grpc.RpcError as e:
                print(f"\n  teardown of {kind} {what}: {e.code().name}: {e.details()}")
        shutil.rmtree(work, ignore_errors=True)
        print(f"done in {time.monotonic() - s.t0:.1f} s")


if __name__ == "__main__":
    main()
