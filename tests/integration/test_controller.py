"""The Controller service over real gRPC against a private ebs-ec2-sim (issue 5):
every flow checked on both sides — the CSI answer, and what EC2 (the simulator,
read with boto3 and its /__sim/stats call counters) was actually asked.

One simulator and one `ebs-csi-driver controller` serve the whole module (names
are unique per test, and stats are compared before/after each step, so tests do
not see each other's calls); tests that need a fresh or restarted driver start
their own against the same simulator. Every process is stopped with SIGTERM and
must exit 0.
"""
import concurrent.futures
import signal
import time
import uuid

import grpc
import pytest

import csi_pb2
from ctl_helpers import (C, GIB, INSTANCE, INSTANCE_B, INSTANCE_C, ZONE_KEY, Stack, block_cap, calls, code_of,
                         create_req, ctl, diff, mount_cap, publish_req, stats, unpublish_req, volume_tags)
from ec2sim_fixture import wait_for

import botocore.exceptions


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    st = Stack(tmp_path_factory.mktemp("ctl"))
    st.ctl = ctl(st.driver)
    st.ec2 = st.sim.client()
    yield st
    st.close()


def uniq(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def describe(ec2, vid):
    return ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]


def gone(ec2, vid):
    try:
        ec2.describe_volumes(VolumeIds=[vid])
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"] == "InvalidVolume.NotFound"
    return False


def delete(env, vid):
    env.ctl.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=vid), timeout=60)


def by_name(ec2, name):
    return ec2.describe_volumes(Filters=[{"Name": "tag:CSIVolumeName", "Values": [name]}])["Volumes"]


# ---- identity / capabilities ------------------------------------------------------------

def test_probe_healthy_and_capabilities(env):
    r = env.driver.identity().Probe(csi_pb2.ProbeRequest(), timeout=10)
    assert r.ready.value is True
    caps = env.ctl.ControllerGetCapabilities(csi_pb2.ControllerGetCapabilitiesRequest(), timeout=10)
    names = {csi_pb2.ControllerServiceCapability.RPC.Type.Name(c.rpc.type) for c in caps.capabilities}
    assert {"CREATE_DELETE_VOLUME", "PUBLISH_UNPUBLISH_VOLUME", "CREATE_DELETE_SNAPSHOT", "LIST_SNAPSHOTS",
            "CLONE_VOLUME", "EXPAND_VOLUME", "MODIFY_VOLUME"} <= names


def test_probe_with_wrong_secret_is_failed_precondition(env):
    """Probe asks EC2 (DescribeAvailabilityZones DryRun); a wrong secret makes EC2
    answer SignatureDoesNotMatch, which Probe reports as FAILED_PRECONDITION with a
    message that says what to check."""
    before = stats(env.sim)
    d = env.start_driver("controller", env={"AWS_SECRET_ACCESS_KEY": "this-is-not-the-secret-key"})
    code, details, _ = code_of(d.identity().Probe, csi_pb2.ProbeRequest(), timeout=15)
    assert code == C.FAILED_PRECONDITION, (code, details)
    low = details.lower()
    assert "credentials" in low and "describeavailabilityzones" in low, details
    assert "SignatureDoesNotMatch" in details, details
    assert "this-is-not-the-secret-key" not in details
    after = stats(env.sim)
    # (The simulator checks the signature before it reads the form, so it files the call under "-".)
    assert calls(after, None, "SignatureDoesNotMatch") > calls(before, None, "SignatureDoesNotMatch")
    env.stop_driver(d)
    assert "this-is-not-the-secret-key" not in d.output()


# ---- CreateVolume -------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["gp3-custom", "io2-zone-b"])
def test_create_volume_parameters_reach_ec2(env, case):
    name = uniq("pvc")
    if case == "gp3-custom":
        params = {"type": "gp3", "iops": "4000", "throughput": "250", "encrypted": "true",
                  "tagSpecification_1": "team=storage ops",
                  "tagSpecification_2": "owner={{ .PVCNamespace }}/{{ .PVCName }}",
                  "csi.storage.k8s.io/pvc/name": "data-0", "csi.storage.k8s.io/pvc/namespace": "prod",
                  "csi.storage.k8s.io/pv/name": "pv-data-0"}
        gib, zone = 10, None
        want = {"VolumeType": "gp3", "Iops": 4000, "Throughput": 250, "Encrypted": True, "Size": 10,
                "AvailabilityZone": "us-east-1a"}
        want_tags = {"CSIVolumeName": name, "ebs.csi.aws.com/cluster": "true", "team": "storage ops",
                     "owner": "prod/data-0", "kubernetes.io/created-for/pvc/name": "data-0",
                     "kubernetes.io/created-for/pvc/namespace": "prod",
                     "kubernetes.io/created-for/pv/name": "pv-data-0"}
    else:
        params = {"TYPE": "io2", "IOPS": "2000", "Encrypted": "false"}  # keys are case-insensitive
        gib, zone = 4, "us-east-1b"
        want = {"VolumeType": "io2", "Iops": 2000, "Encrypted": False, "Size": 4, "AvailabilityZone": "us-east-1b"}
        want_tags = {"CSIVolumeName": name, "ebs.csi.aws.com/cluster": "true"}
    before = stats(env.sim)
    r = env.ctl.CreateVolume(create_req(name, gib, params, zone=zone), timeout=60)
    after = stats(env.sim)
    vid = r.volume.volume_id
    assert vid.startswith("vol-") and r.volume.capacity_bytes == gib * GIB
    assert [dict(t.segments) for t in r.volume.accessible_topology] == [{ZONE_KEY: want["AvailabilityZone"]}]
    d = diff(before, after)
    assert d["CreateVolume"] == {"ok": 1}, d
    v = describe(env.ec2, vid)
    got = {k: v.get(k) for k in want}
    assert got == want
    assert v["State"] == "available"
    assert volume_tags(v) == want_tags
    delete(env, vid)
    assert gone(env.ec2, vid)


def test_create_volume_default_size_type_and_zone(env):
    name = uniq("pvc")
    r = env.ctl.CreateVolume(csi_pb2.CreateVolumeRequest(name=name, volume_capabilities=[mount_cap()]), timeout=60)
    v = describe(env.ec2, r.volume.volume_id)
    # Upstream's defaults: gp3, 100 GiB; without topology the controller's own zone.
    assert (v["VolumeType"], v["Size"], v["AvailabilityZone"]) == ("gp3", 100, "us-east-1a")
    assert r.volume.capacity_bytes == 100 * GIB
    assert [dict(t.segments) for t in r.volume.accessible_topology] == [{ZONE_KEY: "us-east-1a"}]
    # Same name, same parameters: the same volume (ClientToken), no second volume.
    r2 = env.ctl.CreateVolume(csi_pb2.CreateVolumeRequest(name=name, volume_capabilities=[mount_cap()]), timeout=60)
    assert r2.volume.volume_id == r.volume.volume_id
    # Same name, incompatible parameters: ALREADY_EXISTS.
    code, details, _ = code_of(env.ctl.CreateVolume, create_req(name, 5, {"type": "gp2"}))
    assert code == C.ALREADY_EXISTS, details
    assert len(by_name(env.ec2, name)) == 1
    delete(env, r.volume.volume_id)


# ---- publish / unpublish / delete -------------------------------------------------------------

def test_publish_unpublish_delete_flow(env):
    name = uniq("pvc")
    vid = env.ctl.CreateVolume(create_req(name, 1), timeout=60).volume.volume_id

    p = env.ctl.ControllerPublishVolume(publish_req(vid, INSTANCE), timeout=60)
    dev = p.publish_context["devicePath"]
    assert dev.startswith("/dev/")
    att = describe(env.ec2, vid)["Attachments"]
    assert [(a["InstanceId"], a["Device"], a["State"]) for a in att] == [(INSTANCE, dev, "attached")]

    # Again on the same node: same devicePath, and no AttachVolume at all.
    before = stats(env.sim)
    p2 = env.ctl.ControllerPublishVolume(publish_req(vid, INSTANCE), timeout=60)
    after = stats(env.sim)
    assert p2.publish_context["devicePath"] == dev
    assert calls(after, "AttachVolume") == calls(before, "AttachVolume"), diff(before, after)

    # ReadWriteOnce: another instance while attached → FAILED_PRECONDITION.
    code, details, _ = code_of(env.ctl.ControllerPublishVolume, publish_req(vid, INSTANCE_C))
    assert code == C.FAILED_PRECONDITION, details
    # Another zone's instance is refused too, and nothing changed on EC2.
    code, details, _ = code_of(env.ctl.ControllerPublishVolume, publish_req(vid, INSTANCE_B))
    assert code != C.OK, details

    # Delete while attached: refused (CSI: FAILED_PRECONDITION, volume in use); it stays.
    code, details, _ = code_of(env.ctl.DeleteVolume, csi_pb2.DeleteVolumeRequest(volume_id=vid))
    assert code == C.FAILED_PRECONDITION, details
    assert "in use" in details.lower() or "VolumeInUse" in details, details
    att = describe(env.ec2, vid)["Attachments"]
    assert [(a["InstanceId"], a["State"]) for a in att] == [(INSTANCE, "attached")]

    # Unpublish twice: OK both; EC2 shows it detached.
    for _ in range(2):
        env.ctl.ControllerUnpublishVolume(unpublish_req(vid, INSTANCE), timeout=60)
    assert describe(env.ec2, vid)["Attachments"] == []
    # Unpublish from a node it never was on: OK.
    env.ctl.ControllerUnpublishVolume(unpublish_req(vid, INSTANCE_C), timeout=60)

    # Now the other node may have it.
    p3 = env.ctl.ControllerPublishVolume(publish_req(vid, INSTANCE_C), timeout=60)
    assert describe(env.ec2, vid)["Attachments"][0]["Device"] == p3.publish_context["devicePath"]
    env.ctl.ControllerUnpublishVolume(unpublish_req(vid, INSTANCE_C), timeout=60)

    # Delete twice: OK both; then unpublish and publish of the deleted volume.
    for _ in range(2):
        delete(env, vid)
    assert gone(env.ec2, vid)
    env.ctl.ControllerUnpublishVolume(unpublish_req(vid, INSTANCE), timeout=60)
    code, details, _ = code_of(env.ctl.ControllerPublishVolume, publish_req(vid, INSTANCE))
    assert code == C.NOT_FOUND, details


def test_publish_unknown_node_or_volume_is_not_found(env):
    vid = env.ctl.CreateVolume(create_req(uniq("pvc"), 1), timeout=60).volume.volume_id
    for req in (publish_req(vid, "i-00000000000000bad"), publish_req("vol-00000000000000bad", INSTANCE),
                publish_req(vid, "not-an-instance")):
        code, details, _ = code_of(env.ctl.ControllerPublishVolume, req)
        assert code == C.NOT_FOUND, (req.volume_id, req.node_id, code, details)
    assert describe(env.ec2, vid)["Attachments"] == []
    delete(env, vid)


def test_concurrent_publish_to_two_nodes_exactly_one_wins(env):
    """Two publishes of one volume to two instances at the same instant (three
    volumes at once, so six calls race): per volume exactly one OK, the other
    FAILED_PRECONDITION, and EC2 shows exactly the winner's attachment."""
    vids = [env.ctl.CreateVolume(create_req(uniq("pvc"), 1), timeout=60).volume.volume_id for _ in range(3)]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        futs = {(vid, node): ex.submit(code_of, env.ctl.ControllerPublishVolume, publish_req(vid, node), 90)
                for vid in vids for node in (INSTANCE, INSTANCE_C)}
        res = {k: f.result() for k, f in futs.items()}
    for vid in vids:
        codes = {node: res[(vid, node)][0] for node in (INSTANCE, INSTANCE_C)}
        assert sorted(c.name for c in codes.values()) == ["FAILED_PRECONDITION", "OK"], \
            (vid, {n: res[(vid, n)][:2] for n in codes})
        winner = next(n for n, c in codes.items() if c == C.OK)
        dev = res[(vid, winner)][2].publish_context["devicePath"]
        att = describe(env.ec2, vid)["Attachments"]
        assert [(a["InstanceId"], a["Device"], a["State"]) for a in att] == [(winner, dev, "attached")]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda v: (env.ctl.ControllerUnpublishVolume(unpublish_req(v, INSTANCE), timeout=60),
                               env.ctl.ControllerUnpublishVolume(unpublish_req(v, INSTANCE_C), timeout=60)), vids))
    for vid in vids:
        assert describe(env.ec2, vid)["Attachments"] == []
        delete(env, vid)


# ---- snapshots ------------------------------------------------------------------------------

def snap_req(name, vid, params=None):
    return csi_pb2.CreateSnapshotRequest(name=name, source_volume_id=vid, parameters=params or {})


def list_all(env, **kw):
    """Pages through ListSnapshots with max_entries=1; returns (ids, pages)."""
    ids, pages, token = [], 0, ""
    while True:
        r = env.ctl.ListSnapshots(csi_pb2.ListSnapshotsRequest(max_entries=1, starting_token=token, **kw),
                                  timeout=30)
        pages += 1
        assert len(r.entries) <= 1
        ids += [e.snapshot.snapshot_id for e in r.entries]
        token = r.next_token
        if not token:
            return ids, pages
        assert pages < 200, "ListSnapshots paging does not end"


def test_snapshots_create_list_page_delete(env):
    vid = env.ctl.CreateVolume(create_req(uniq("pvc"), 2), timeout=60).volume.volume_id
    other = env.ctl.CreateVolume(create_req(uniq("pvc"), 1), timeout=60).volume.volume_id
    name = uniq("snapshot")

    before = stats(env.sim)
    s1 = env.ctl.CreateSnapshot(snap_req(name, vid, {"tagSpecification_1": "purpose=test"}), timeout=60).snapshot
    assert s1.snapshot_id.startswith("snap-") and s1.source_volume_id == vid and s1.size_bytes == 2 * GIB
    # Idempotent by name: the same snapshot, no second CreateSnapshot.
    s1b = env.ctl.CreateSnapshot(snap_req(name, vid), timeout=60).snapshot
    assert s1b.snapshot_id == s1.snapshot_id
    assert diff(before, stats(env.sim))["CreateSnapshot"] == {"ok": 1}
    # The same name for another volume: ALREADY_EXISTS.
    code, details, _ = code_of(env.ctl.CreateSnapshot, snap_req(name, other))
    assert code == C.ALREADY_EXISTS, details
    # ready_to_use becomes true (the CO polls by repeating CreateSnapshot).
    wait_for(lambda: env.ctl.CreateSnapshot(snap_req(name, vid), timeout=30).snapshot.ready_to_use, 30, 0.2,
             "snapshot ready_to_use")
    snap = env.ec2.describe_snapshots(SnapshotIds=[s1.snapshot_id])["Snapshots"][0]
    assert snap["State"] == "completed" and snap["VolumeId"] == vid
    assert {t["Key"]: t["Value"] for t in snap["Tags"]}.get("CSIVolumeSnapshotName") == name
    assert {t["Key"]: t["Value"] for t in snap["Tags"]}.get("purpose") == "test"

    # Two more of vid, one of other.
    s2 = env.ctl.CreateSnapshot(snap_req(uniq("snapshot"), vid), timeout=60).snapshot
    s3 = env.ctl.CreateSnapshot(snap_req(uniq("snapshot"), vid), timeout=60).snapshot
    s4 = env.ctl.CreateSnapshot(snap_req(uniq("snapshot"), other), timeout=60).snapshot
    mine = {s1.snapshot_id, s2.snapshot_id, s3.snapshot_id}

    # By id.
    r = env.ctl.ListSnapshots(csi_pb2.ListSnapshotsRequest(snapshot_id=s2.snapshot_id), timeout=30)
    assert [e.snapshot.snapshot_id for e in r.entries] == [s2.snapshot_id] and r.next_token == ""
    assert r.entries[0].snapshot.source_volume_id == vid
    # By id of a snapshot that does not exist: empty, OK.
    r = env.ctl.ListSnapshots(csi_pb2.ListSnapshotsRequest(snapshot_id="snap-0000000000000dead"), timeout=30)
    assert list(r.entries) == []
    # By source volume, all at once and paged one by one.
    r = env.ctl.ListSnapshots(csi_pb2.ListSnapshotsRequest(source_volume_id=vid), timeout=30)
    assert {e.snapshot.snapshot_id for e in r.entries} == mine
    ids, pages = list_all(env, source_volume_id=vid)
    assert sorted(ids) == sorted(mine) and pages >= 3
    # Everything, paged with max_entries=1: every snapshot EC2 has, each exactly once.
    ids, pages = list_all(env)
    ec2_ids = {s["SnapshotId"] for s in env.ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert len(ids) == len(set(ids)) and set(ids) == ec2_ids and mine | {s4.snapshot_id} <= set(ids)
    # A token we never gave: ABORTED (CSI: the CO starts over).
    code, details, _ = code_of(env.ctl.ListSnapshots, csi_pb2.ListSnapshotsRequest(starting_token="bogus"))
    assert code == C.ABORTED, details

    # Delete twice: OK both; gone from EC2 and from ListSnapshots.
    for s in (s1, s2, s3, s4):
        for _ in range(2):
            env.ctl.DeleteSnapshot(csi_pb2.DeleteSnapshotRequest(snapshot_id=s.snapshot_id), timeout=60)
    r = env.ctl.ListSnapshots(csi_pb2.ListSnapshotsRequest(snapshot_id=s1.snapshot_id), timeout=30)
    assert list(r.entries) == []
    left = {s["SnapshotId"] for s in env.ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert not (left & (mine | {s4.snapshot_id}))
    delete(env, vid)
    delete(env, other)


def test_restore_from_snapshot_and_clone(env):
    vid = env.ctl.CreateVolume(create_req(uniq("pvc"), 2), timeout=60).volume.volume_id
    sname = uniq("snapshot")
    sid = env.ctl.CreateSnapshot(snap_req(sname, vid), timeout=60).snapshot.snapshot_id
    wait_for(lambda: env.ctl.CreateSnapshot(snap_req(sname, vid), timeout=30).snapshot.ready_to_use, 30, 0.2,
             "snapshot ready")

    # Restore, larger than the snapshot.
    r = env.ctl.CreateVolume(create_req(uniq("pvc"), 3, snapshot=sid), timeout=60)
    assert r.volume.content_source.snapshot.snapshot_id == sid
    v = describe(env.ec2, r.volume.volume_id)
    assert (v["SnapshotId"], v["Size"], v["State"]) == (sid, 3, "available")
    # Restore without a size: the snapshot's.
    r0 = env.ctl.CreateVolume(csi_pb2.CreateVolumeRequest(
        name=uniq("pvc"), volume_capabilities=[mount_cap()],
        volume_content_source=csi_pb2.VolumeContentSource(
            snapshot=csi_pb2.VolumeContentSource.SnapshotSource(snapshot_id=sid))), timeout=60)
    assert r0.volume.capacity_bytes == 2 * GIB
    # Restore from a snapshot that does not exist: NOT_FOUND.
    code, details, _ = code_of(env.ctl.CreateVolume, create_req(uniq("pvc"), 3, snapshot="snap-0000000000000dead"))
    assert code == C.NOT_FOUND, details
    # Smaller than the snapshot: OUT_OF_RANGE.
    code, details, _ = code_of(env.ctl.CreateVolume, create_req(uniq("pvc"), 1, snapshot=sid))
    assert code == C.OUT_OF_RANGE, details

    # Clone: CopyVolumes, in the source's zone.
    before = stats(env.sim)
    c = env.ctl.CreateVolume(create_req(uniq("pvc"), 4, source_volume=vid), timeout=60)
    after = stats(env.sim)
    assert diff(before, after).get("CopyVolumes") == {"ok": 1}, diff(before, after)
    assert calls(after, "CreateVolume") == calls(before, "CreateVolume")
    assert c.volume.content_source.volume.volume_id == vid
    cv = describe(env.ec2, c.volume.volume_id)
    assert (cv["Size"], cv["AvailabilityZone"], cv["State"]) == (4, "us-east-1a", "available")
    assert volume_tags(cv)["CSIVolumeName"]
    code, details, _ = code_of(env.ctl.CreateVolume, create_req(uniq("pvc"), 4, source_volume="vol-0000000000000dead"))
    assert code == C.NOT_FOUND, details

    for v_ in (r.volume.volume_id, r0.volume.volume_id, c.volume.volume_id, vid):
        delete(env, v_)
    env.ctl.DeleteSnapshot(csi_pb2.DeleteSnapshotRequest(snapshot_id=sid), timeout=60)


# ---- expand / modify ---------------------------------------------------------------------------

def expand_req(vid, gib, cap=None):
    return csi_pb2.ControllerExpandVolumeRequest(volume_id=vid, capacity_range=csi_pb2.CapacityRange(
        required_bytes=gib * GIB), volume_capability=cap or mount_cap())


def test_expand_volume(env):
    def mount_volume():
        vid = env.ctl.CreateVolume(create_req(uniq("pvc"), 1), timeout=60).volume.volume_id
        r = env.ctl.ControllerExpandVolume(expand_req(vid, 3), timeout=60)
        assert r.capacity_bytes == 3 * GIB and r.node_expansion_required is True
        assert describe(env.ec2, vid)["Size"] == 3
        return vid

    def block_volume():
        # A raw block volume needs nothing from the node.
        vid = env.ctl.CreateVolume(create_req(uniq("pvc"), 1, cap=block_cap()), timeout=60).volume.volume_id
        r = env.ctl.ControllerExpandVolume(expand_req(vid, 2, block_cap()), timeout=60)
        assert r.capacity_bytes == 2 * GIB and r.node_expansion_required is False
        assert describe(env.ec2, vid)["Size"] == 2
        return vid

    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        fm, fb = ex.submit(mount_volume), ex.submit(block_volume)
        vids = [fm.result(), fb.result()]
    # Asking for less than it has is not a shrink: OK at the current size, no ModifyVolume.
    before = stats(env.sim)
    r = env.ctl.ControllerExpandVolume(expand_req(vids[0], 2), timeout=60)
    assert r.capacity_bytes == 3 * GIB
    assert diff(before, stats(env.sim)).get("ModifyVolume") is None
    code, details, _ = code_of(env.ctl.ControllerExpandVolume, expand_req("vol-0000000000000dead", 5))
    assert code == C.NOT_FOUND, details
    for vid in vids:
        delete(env, vid)


def test_modify_volume_type_iops_throughput(env):
    vid = env.ctl.CreateVolume(create_req(uniq("pvc"), 10), timeout=60).volume.volume_id
    before = stats(env.sim)
    env.ctl.ControllerModifyVolume(csi_pb2.ControllerModifyVolumeRequest(
        volume_id=vid, mutable_parameters={"iops": "5000", "throughput": "300"}), timeout=60)
    v = describe(env.ec2, vid)
    assert (v["VolumeType"], v["Iops"], v["Throughput"]) == ("gp3", 5000, 300)
    env.ctl.ControllerModifyVolume(csi_pb2.ControllerModifyVolumeRequest(
        volume_id=vid, mutable_parameters={"type": "io2", "iops": "3000"}), timeout=60)
    v = describe(env.ec2, vid)
    assert (v["VolumeType"], v["Iops"]) == ("io2", 3000)
    assert diff(before, stats(env.sim))["ModifyVolume"] == {"ok": 2}
    # An unknown mutable parameter names itself, and EC2 is not asked.
    before = stats(env.sim)
    code, details, _ = code_of(env.ctl.ControllerModifyVolume, csi_pb2.ControllerModifyVolumeRequest(
        volume_id=vid, mutable_parameters={"noSuchKnob": "1"}))
    assert code == C.INVALID_ARGUMENT and "noSuchKnob" in details, details
    assert stats(env.sim)["total"] == before["total"]
    delete(env, vid)


def test_resize_and_modify_together_make_one_modify_volume(env):
    """external-resizer's expand and a VolumeAttributesClass change arriving
    together are merged into ONE ModifyVolume (EC2 allows few per volume a day)."""
    vid = env.ctl.CreateVolume(create_req(uniq("pvc"), 10), timeout=60).volume.volume_id
    before = stats(env.sim)
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        fe = ex.submit(env.ctl.ControllerExpandVolume, expand_req(vid, 20), timeout=60)
        time.sleep(0.2)
        fm = ex.submit(env.ctl.ControllerModifyVolume, csi_pb2.ControllerModifyVolumeRequest(
            volume_id=vid, mutable_parameters={"type": "io2", "iops": "6000"}), timeout=60)
        re_, _ = fe.result(), fm.result()
    after = stats(env.sim)
    assert re_.capacity_bytes == 20 * GIB and re_.node_expansion_required
    d = diff(before, after)
    assert d.get("ModifyVolume") == {"ok": 1}, d
    v = describe(env.ec2, vid)
    assert (v["Size"], v["VolumeType"], v["Iops"]) == (20, "io2", 6000)
    mods = env.ec2.describe_volumes_modifications(VolumeIds=[vid])["VolumesModifications"]
    assert len(mods) == 1 and mods[0]["TargetSize"] == 20 and mods[0]["TargetVolumeType"] == "io2"
    delete(env, vid)


# ---- idempotency without local state ------------------------------------------------------------

def test_create_idempotent_across_driver_restart_mid_call(env):
    """The driver is stopped while a CreateVolume waits for `available` (EC2 has
    made the volume, the CO has no answer); a new driver process given the same
    name answers with that very volume: EC2's ClientToken is the only state."""
    name = uniq("pvc-restart")
    d1 = env.start_driver("controller", "--grace-period", "0")
    before = stats(env.sim)
    fut = ctl(d1).CreateVolume.future(create_req(name, 1), timeout=60)
    wait_for(lambda: calls(stats(env.sim), "CreateVolume", "ok") > calls(before, "CreateVolume", "ok"), 20, 0.02,
             "EC2 CreateVolume answered")
    d1.proc.send_signal(signal.SIGTERM)
    with pytest.raises(grpc.RpcError) as e:
        fut.result()
    assert e.value.code() in (C.CANCELLED, C.UNAVAILABLE, C.ABORTED), e.value
    env.stop_driver(d1)
    first = by_name(env.ec2, name)
    assert len(first) == 1  # EC2 has it; the CO does not know its id

    d2 = env.start_driver("controller")
    r = ctl(d2).CreateVolume(create_req(name, 1), timeout=60)
    assert r.volume.volume_id == first[0]["VolumeId"]
    # And once more after another restart, with the volume long available.
    env.stop_driver(d2)
    d3 = env.start_driver("controller")
    r3 = ctl(d3).CreateVolume(create_req(name, 1), timeout=60)
    assert r3.volume.volume_id == first[0]["VolumeId"]
    assert len(by_name(env.ec2, name)) == 1
    ctl(d3).DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=r3.volume.volume_id), timeout=60)
    env.stop_driver(d3)


def test_name_reused_after_delete_gets_a_new_volume(env):
    name = uniq("pvc-reuse")
    v1 = env.ctl.CreateVolume(create_req(name, 1), timeout=60).volume.volume_id
    delete(env, v1)
    assert gone(env.ec2, v1)
    v2 = env.ctl.CreateVolume(create_req(name, 1), timeout=60).volume.volume_id
    assert v2 != v1
    vols = by_name(env.ec2, name)
    assert [(v["VolumeId"], v["State"]) for v in vols] == [(v2, "available")]
    # And a retry of that CreateVolume still answers v2.
    assert env.ctl.CreateVolume(create_req(name, 1), timeout=60).volume.volume_id == v2
    delete(env, v2)


# ---- validation ------------------------------------------------------------------------------------

MNMW = csi_pb2.VolumeCapability.AccessMode.MULTI_NODE_MULTI_WRITER
VALIDATION = [
    # (id, method, request, code, text the message must contain)
    ("create-no-name", "CreateVolume", lambda: create_req("", 1), C.INVALID_ARGUMENT, "name"),
    ("create-no-caps", "CreateVolume", lambda: csi_pb2.CreateVolumeRequest(name="x"), C.INVALID_ARGUMENT,
     "volume_capabilities"),
    ("create-bad-type", "CreateVolume", lambda: create_req("x", 1, {"type": "gp9"}), C.INVALID_ARGUMENT, "type"),
    ("create-bad-iops", "CreateVolume", lambda: create_req("x", 1, {"iops": "lots"}), C.INVALID_ARGUMENT, "iops"),
    ("create-bad-bool", "CreateVolume", lambda: create_req("x", 1, {"encrypted": "yes"}), C.INVALID_ARGUMENT,
     "encrypted"),
    ("create-unknown-key", "CreateVolume", lambda: create_req("x", 1, {"flavour": "vanilla"}), C.INVALID_ARGUMENT,
     "flavour"),
    ("create-fmt-on-block", "CreateVolume", lambda: create_req("x", 1, {"blockSize": "4096"}, cap=block_cap()),
     C.INVALID_ARGUMENT, "blockSize"),
    ("create-bad-fs", "CreateVolume", lambda: create_req("x", 1, cap=mount_cap("ntfs")), C.INVALID_ARGUMENT,
     "fs_type"),
    ("create-multiwriter-gp3", "CreateVolume", lambda: create_req("x", 1, cap=block_cap(MNMW)),
     C.INVALID_ARGUMENT, "MULTI_NODE_MULTI_WRITER"),
    ("create-required-over-limit", "CreateVolume", lambda: csi_pb2.CreateVolumeRequest(
        name="x", volume_capabilities=[mount_cap()],
        capacity_range=csi_pb2.CapacityRange(required_bytes=5 * GIB, limit_bytes=2 * GIB)),
     C.INVALID_ARGUMENT, "capacity_range"),
    ("create-too-big", "CreateVolume", lambda: create_req("x", 70000), C.OUT_OF_RANGE, "capacity_range"),
    ("create-st1-too-small-limit", "CreateVolume", lambda: csi_pb2.CreateVolumeRequest(
        name="x", volume_capabilities=[mount_cap()], parameters={"type": "st1"},
        capacity_range=csi_pb2.CapacityRange(limit_bytes=10 * GIB)), C.OUT_OF_RANGE, "st1"),
    ("create-bad-tag", "CreateVolume", lambda: create_req("x", 1, {"tagSpecification_1": "noequals"}),
     C.INVALID_ARGUMENT, "tagSpecification"),
    ("create-reserved-tag", "CreateVolume", lambda: create_req("x", 1, {"tagSpecification_1": "CSIVolumeName=y"}),
     C.INVALID_ARGUMENT, "CSIVolumeName"),
    ("delete-no-id", "DeleteVolume", lambda: csi_pb2.DeleteVolumeRequest(), C.INVALID_ARGUMENT, "volume_id"),
    ("publish-no-node", "ControllerPublishVolume", lambda: publish_req("vol-0123456789abcdef0", ""),
     C.INVALID_ARGUMENT, "node_id"),
    ("publish-no-cap", "ControllerPublishVolume", lambda: csi_pb2.ControllerPublishVolumeRequest(
        volume_id="vol-0123456789abcdef0", node_id=INSTANCE), C.INVALID_ARGUMENT, "volume_capability"),
    ("unpublish-no-id", "ControllerUnpublishVolume", lambda: unpublish_req("", INSTANCE), C.INVALID_ARGUMENT,
     "volume_id"),
    ("snapshot-no-source", "CreateSnapshot", lambda: csi_pb2.CreateSnapshotRequest(name="s"), C.INVALID_ARGUMENT,
     "source_volume_id"),
    ("snapshot-no-name", "CreateSnapshot", lambda: csi_pb2.CreateSnapshotRequest(
        source_volume_id="vol-0123456789abcdef0"), C.INVALID_ARGUMENT, "name"),
    ("snapshot-bad-param", "CreateSnapshot", lambda: csi_pb2.CreateSnapshotRequest(
        name="s", source_volume_id="vol-0123456789abcdef0", parameters={"colour": "red"}), C.INVALID_ARGUMENT,
     "colour"),
    ("delete-snapshot-no-id", "DeleteSnapshot", lambda: csi_pb2.DeleteSnapshotRequest(), C.INVALID_ARGUMENT,
     "snapshot_id"),
    ("list-negative", "ListSnapshots", lambda: csi_pb2.ListSnapshotsRequest(max_entries=-1), C.INVALID_ARGUMENT,
     "max_entries"),
    ("expand-no-range", "ControllerExpandVolume", lambda: csi_pb2.ControllerExpandVolumeRequest(
        volume_id="vol-0123456789abcdef0"), C.INVALID_ARGUMENT, "capacity_range"),
    ("modify-bad-param", "ControllerModifyVolume", lambda: csi_pb2.ControllerModifyVolumeRequest(
        volume_id="vol-0123456789abcdef0", mutable_parameters={"iops": "-5"}), C.INVALID_ARGUMENT, "iops"),
    ("validate-no-caps", "ValidateVolumeCapabilities", lambda: csi_pb2.ValidateVolumeCapabilitiesRequest(
        volume_id="vol-0123456789abcdef0"), C.INVALID_ARGUMENT, "volume_capabilities"),
]


def test_validation_errors_name_the_field_without_any_ec2_call(env):
    before = stats(env.sim)
    failures = []
    for ident, method, mk, want, needle in VALIDATION:
        code, details, _ = code_of(getattr(env.ctl, method), mk(), timeout=15)
        if code != want or needle.lower() not in details.lower():
            failures.append(f"{ident}: {code} {details!r} (want {want.name} naming {needle})")
    after = stats(env.sim)
    assert not failures, "\n".join(failures)
    assert after["total"] == before["total"], diff(before, after)
