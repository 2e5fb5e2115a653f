"""ebs-ec2-sim's real data path (--attach=loop, root): volumes are sparse files, an
attached volume is a loop device with the Nitro by-id link, data survives detach and
re-attach, snapshots carry the bytes into new volumes, growing a volume grows the
device, a mounted device keeps its detach "busy", and nothing is left behind."""
import os
import shutil
import subprocess
import tempfile

import pytest

from ec2sim_fixture import INSTANCE, start_sim, volume, wait_attachment, wait_for, wait_volume  # noqa: F401

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("losetup") is None
                                or not os.path.exists("/dev/loop-control"),
                                reason="needs root and loop devices")

GIB = 1 << 30


def loops_of(state_dir):
    out = subprocess.run(["losetup", "--list", "--noheadings", "--raw", "--output", "NAME,BACK-FILE"],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    prefix = os.path.realpath(state_dir) + "/"
    return [line.split(" ", 1)[0] for line in out.splitlines() if line.partition(" ")[2].startswith(prefix)]


def link_of(dev_dir, vid):
    return os.path.join(dev_dir, "nvme-Amazon_Elastic_Block_Store_" + vid.replace("-", ""))


def dev_size(dev):
    with open(f"/sys/block/{os.path.basename(dev)}/size") as f:
        return int(f.read()) * 512


def write_at(path, off, data):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, data, off)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_at(path, off, n):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, n, off)
    finally:
        os.close(fd)


@pytest.fixture
def loop_sim(start_sim, tmp_path):
    dev_dir = tmp_path / "by-id"
    s = start_sim("--attach=loop", "--dev-dir", str(dev_dir))
    s.dev_dir = str(dev_dir)
    yield s
    # Whatever a test did, stopping the simulator must release every loop device and link.
    subprocess.run(["umount", "-l", str(tmp_path / "mnt")], stderr=subprocess.DEVNULL)
    assert s.stop() == 0, s.output()[-4000:]
    assert loops_of(s.state_dir) == []
    assert not os.path.exists(dev_dir) or os.listdir(dev_dir) == []


def attach(ec2, vid, device="/dev/xvdba"):
    ec2.attach_volume(VolumeId=vid, InstanceId=INSTANCE, Device=device)
    return wait_attachment(ec2, vid, "attached")


def test_attach_write_detach_snapshot_restore(loop_sim):
    s, ec2 = loop_sim, loop_sim.client()
    vid = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1, VolumeType="gp3")["VolumeId"]
    wait_volume(ec2, vid, "available")
    img = os.path.join(s.state_dir, "volumes", vid + ".img")
    assert os.path.getsize(img) == GIB and os.stat(img).st_blocks * 512 < GIB  # sparse
    attach(ec2, vid)
    link = link_of(s.dev_dir, vid)
    dev = os.readlink(link)
    assert dev.startswith("/dev/loop") and dev_size(dev) == GIB
    assert loops_of(s.state_dir) == [dev]
    payload = b"ebs-ec2-sim data path " * 100
    write_at(link, 5 * 1024 * 1024, payload)

    ec2.detach_volume(VolumeId=vid)
    wait_attachment(ec2, vid, "detached")
    assert not os.path.lexists(link) and loops_of(s.state_dir) == []

    attach(ec2, vid, "/dev/xvdbb")
    assert read_at(link_of(s.dev_dir, vid), 5 * 1024 * 1024, len(payload)) == payload

    sid = ec2.create_snapshot(VolumeId=vid)["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    restored = ec2.create_volume(AvailabilityZone="us-east-1a", SnapshotId=sid, Size=2)["VolumeId"]
    wait_volume(ec2, restored, "available")
    attach(ec2, restored, "/dev/xvdbc")
    rdev = os.readlink(link_of(s.dev_dir, restored))
    assert dev_size(rdev) == 2 * GIB
    assert read_at(link_of(s.dev_dir, restored), 5 * 1024 * 1024, len(payload)) == payload
    assert len(loops_of(s.state_dir)) == 2

    for v in (vid, restored):
        ec2.detach_volume(VolumeId=v)
    for v in (vid, restored):
        wait_attachment(ec2, v, "detached")
        ec2.delete_volume(VolumeId=v)
        assert not os.path.exists(os.path.join(s.state_dir, "volumes", v + ".img"))
    assert loops_of(s.state_dir) == []


def test_modify_grows_attached_device(loop_sim):
    s, ec2 = loop_sim, loop_sim.client()
    vid = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
    wait_volume(ec2, vid, "available")
    attach(ec2, vid)
    dev = os.readlink(link_of(s.dev_dir, vid))
    ec2.modify_volume(VolumeId=vid, Size=3)
    wait_for(lambda: dev_size(dev) == 3 * GIB, what="loop device grown")
    assert volume(ec2, vid)["Size"] == 3


def test_busy_while_mounted(loop_sim, tmp_path):
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("no mkfs.ext4")
    s, ec2 = loop_sim, loop_sim.client()
    vid = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
    wait_volume(ec2, vid, "available")
    attach(ec2, vid)
    link = link_of(s.dev_dir, vid)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mkfs.ext4", "-q", "-F", link], check=True)
    subprocess.run(["mount", link, str(mnt)], check=True)
    try:
        ec2.detach_volume(VolumeId=vid)
        wait_attachment(ec2, vid, "busy")
        assert os.path.lexists(link)
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
    wait_attachment(ec2, vid, "detached")
    assert not os.path.lexists(link) and loops_of(s.state_dir) == []


def test_restart_restores_devices(start_sim, tmp_path):
    dev_dir = tmp_path / "by-id"
    s1 = start_sim("--attach=loop", "--dev-dir", str(dev_dir))
    ec2 = s1.client()
    vid = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
    wait_volume(ec2, vid, "available")
    attach(ec2, vid)
    write_at(link_of(str(dev_dir), vid), 0, b"persist me")
    assert s1.stop() == 0
    # SIGTERM released the device and the link; the state still says attached.
    assert loops_of(s1.state_dir) == [] and os.listdir(dev_dir) == []
    s2 = start_sim("--attach=loop", "--dev-dir", str(dev_dir), state_dir=s1.state_dir)
    link = link_of(str(dev_dir), vid)
    assert os.readlink(link).startswith("/dev/loop")
    assert read_at(link, 0, 10) == b"persist me"
    assert volume(s2.client(), vid)["Attachments"][0]["State"] == "attached"
    assert s2.stop() == 0
    assert loops_of(s1.state_dir) == []


def test_start_reconciles_unknown_loop_devices(start_sim, tmp_path):
    """A loop device on one of our files that the state does not know (a crash
    between losetup and the state write) is detached at start."""
    state = tmp_path / "state"
    os.makedirs(state / "volumes")
    img = state / "volumes" / "vol-0123456789abcdef0.img"
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    dev = subprocess.run(["losetup", "--find", "--show", str(img)], stdout=subprocess.PIPE, text=True,
                         check=True).stdout.strip()
    try:
        s = start_sim("--attach=loop", "--dev-dir", str(tmp_path / "by-id"), state_dir=state)
        assert loops_of(str(state)) == []
        assert s.stop() == 0
    finally:
        subprocess.run(["losetup", "--detach", dev], stderr=subprocess.DEVNULL)
