"""ebs-ec2-sim as a process: flags, durable state across restarts, IMDSv2, throttling
and the other injected faults, and the /__sim control endpoints."""
import json
import os
import signal
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from ec2sim_fixture import (INSTANCE, SIM, ACCESS_KEY, SECRET_KEY, start_sim, sim, ec2, volume,  # noqa: F401
                            wait_attachment, wait_for, wait_volume)


def run_sim(*args, timeout=20):
    r = subprocess.run([SIM, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def test_flags():
    rc, out, _ = run_sim("-h")
    assert rc == 0 and "--listen" in out and "--attach" in out and "--throttle" in out
    rc, _, err = run_sim("--no-such-flag")
    assert rc == 2 and "--no-such-flag" in err
    rc, _, err = run_sim("--attach=floppy")
    assert rc == 2 and "--attach" in err
    rc, _, err = run_sim("--instances", "i-1:eu-west-1a:m5.large")
    assert rc == 2 and "--instances" in err
    rc, _, err = run_sim("--fail-rate", "2")
    assert rc == 2 and "--fail-rate" in err


def test_sigterm_exits_zero_and_persists(start_sim, tmp_path):
    s = start_sim()
    ec2 = s.client()
    vid = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1, ClientToken="t1")["VolumeId"]
    assert s.stop() == 0
    state = json.load(open(os.path.join(s.state_dir, "state.json")))
    assert [v["id"] for v in state["volumes"]] == [vid]
    assert not [f for f in os.listdir(s.state_dir) if f.endswith(".tmp")]


def test_restart_keeps_state(start_sim, tmp_path):
    s1 = start_sim("--create-delay-ms", "1500")
    ec2 = s1.client()
    ready = ec2.create_volume(AvailabilityZone="us-east-1a", Size=2, ClientToken="tok-ready")["VolumeId"]
    wait_volume(ec2, ready, "available")
    ec2.attach_volume(VolumeId=ready, InstanceId=INSTANCE, Device="/dev/xvdba")
    wait_attachment(ec2, ready, "attached")
    snap = ec2.create_snapshot(VolumeId=ready)["SnapshotId"]
    pending = ec2.create_volume(AvailabilityZone="us-east-1b", Size=3,
                                TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "k", "Value": "v"}]}]
                                )["VolumeId"]
    status, token, _ = s1.get("/latest/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    assert status == 200
    assert s1.stop() == 0

    s2 = start_sim("--create-delay-ms", "1500", state_dir=s1.state_dir)
    ec2 = s2.client()
    v = volume(ec2, ready)
    assert v["State"] == "in-use" and v["Attachments"][0]["State"] == "attached"
    assert v["Attachments"][0]["Device"] == "/dev/xvdba"
    assert volume(ec2, pending)["Tags"] == [{"Key": "k", "Value": "v"}]
    # The transition started before the restart finishes by its timestamp.
    wait_volume(ec2, pending, "available", timeout=10)
    assert ec2.describe_snapshots(SnapshotIds=[snap])["Snapshots"][0]["VolumeId"] == ready
    # ClientTokens survive: the same request answers with the same volume.
    again = ec2.create_volume(AvailabilityZone="us-east-1a", Size=2, ClientToken="tok-ready")
    assert again["VolumeId"] == ready
    # New IDs never repeat old ones, and IMDS tokens stay valid for their TTL.
    new = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
    assert new not in (ready, pending)
    status, body, _ = s2.get("/latest/meta-data/instance-id", headers={"X-aws-ec2-metadata-token": token})
    assert status == 200 and body == INSTANCE


def test_imds_v2(sim):
    status, _, _ = sim.get("/latest/meta-data/instance-id")
    assert status == 401
    status, _, _ = sim.get("/latest/api/token", method="PUT")
    assert status == 400
    status, _, _ = sim.get("/latest/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "0"})
    assert status == 400
    status, _, _ = sim.get("/latest/api/token", method="PUT", headers={
        "X-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "1.2.3.4"})
    assert status == 403
    status, tok, hdrs = sim.get("/latest/api/token", method="PUT",
                                headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
    assert status == 200 and tok and hdrs.get("X-aws-ec2-metadata-token-ttl-seconds") == "21600"
    h = {"X-aws-ec2-metadata-token": tok}

    def md(path):
        st, body, _ = sim.get("/latest/meta-data/" + path, headers=h)
        assert st == 200, path
        return body
    assert md("instance-id") == INSTANCE
    assert md("instance-type") == "m5.large"
    assert md("placement/availability-zone") == "us-east-1a"
    assert md("placement/availability-zone-id") == "use1-az1"
    assert md("placement/region") == "us-east-1"
    mac = md("mac")
    macs = md("network/interfaces/macs/").split("\n")
    assert len(macs) == 2 and macs[0] == mac + "/"
    assert md(f"network/interfaces/macs/{mac}/device-number") == "0"
    assert md("block-device-mapping/").split("\n") == ["ami", "ebs1", "root"]
    assert md("block-device-mapping/root") == "/dev/xvda"
    assert sim.get("/latest/meta-data/outpost-arn", headers=h)[0] == 404
    assert sim.get("/latest/meta-data/iam/security-credentials/", headers=h)[0] == 404
    status, doc, _ = sim.get("/latest/dynamic/instance-identity/document", headers=h)
    doc = json.loads(doc)
    assert status == 200 and doc["instanceId"] == INSTANCE and doc["region"] == "us-east-1"
    assert doc["availabilityZone"] == "us-east-1a" and doc["instanceType"] == "m5.large"
    assert sim.get("/latest/meta-data/instance-id", headers={"X-aws-ec2-metadata-token": tok + "x"})[0] == 401
    assert sim.get("/2021-03-23/api/token", method="PUT",
                   headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})[0] in (403, 404)


def test_imds_v1_and_role(start_sim):
    s = start_sim("--imds-v1", "--imds-role", "sim-node-role", "--imds-instance", "i-0fedcba9876543210")
    status, body, _ = s.get("/latest/meta-data/instance-id")
    assert status == 200 and body == "i-0fedcba9876543210"
    assert s.get("/latest/meta-data/iam/security-credentials/")[1] == "sim-node-role"
    status, body, _ = s.get("/latest/meta-data/iam/security-credentials/sim-node-role")
    creds = json.loads(body)
    assert creds["AccessKeyId"] == ACCESS_KEY and creds["SecretAccessKey"] == SECRET_KEY and creds["Expiration"]


def test_throttling_aws_buckets(start_sim):
    s = start_sim("--throttle=aws")
    ec2 = s.client()
    codes = []
    for _ in range(150):
        try:
            ec2.describe_availability_zones()
            codes.append("ok")
        except ClientError as e:
            codes.append(e.response["Error"]["Code"])
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert codes[:100] == ["ok"] * 100  # the bucket holds 100
    assert "RequestLimitExceeded" in codes
    stats = json.loads(s.get("/__sim/stats")[1])
    assert stats["throttled"] == codes.count("RequestLimitExceeded")
    time.sleep(0.3)  # refill: 20 per second
    ec2.describe_availability_zones()
    # Other actions have their own buckets.
    ec2.describe_volumes(MaxResults=5)


def test_throttling_custom_and_runtime_faults(start_sim):
    s = start_sim("--throttle", "3/1")
    ec2 = s.client()
    results = []
    for _ in range(6):
        try:
            ec2.describe_volumes()
            results.append(True)
        except ClientError as e:
            assert e.response["Error"]["Code"] == "RequestLimitExceeded"
            results.append(False)
    assert results[:3] == [True] * 3 and results.count(False) >= 2
    status, body, _ = s.get("/__sim/faults", method="POST", data=json.dumps({"throttle": "off"}).encode())
    assert status == 200 and json.loads(body)["throttle"] == "off"
    for _ in range(10):
        ec2.describe_volumes()
    status, _, _ = s.get("/__sim/faults", method="POST", data=b'{"nonsense": 1}')
    assert status == 400


def test_fail_rate_is_seeded(start_sim, tmp_path):
    def run(seed, state):
        s = start_sim("--fail-rate", "0.5", "--seed", str(seed), state_dir=tmp_path / state)
        ec2 = s.client()
        out = []
        for _ in range(20):
            try:
                ec2.describe_availability_zones()
                out.append("ok")
            except ClientError as e:
                out.append(e.response["Error"]["Code"])
        assert s.stop() == 0
        return out
    a, b = run(7, "a"), run(7, "b")
    assert a == b
    assert set(a) - {"ok"} <= {"InternalError", "Unavailable"} and len(set(a)) > 1


def test_stuck_attach_and_force_detach(start_sim):
    s = start_sim("--stuck-attach-rate", "1")
    ec2 = s.client()
    vid = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
    wait_volume(ec2, vid, "available")
    ec2.attach_volume(VolumeId=vid, InstanceId=INSTANCE, Device="/dev/xvdba")
    time.sleep(0.6)
    assert volume(ec2, vid)["Attachments"][0]["State"] == "attaching"
    ec2.detach_volume(VolumeId=vid, Force=True)
    wait_attachment(ec2, vid, "detached")


def test_latency_and_stats(start_sim):
    s = start_sim("--latency-ms", "200")
    ec2 = s.client()
    t = time.time()
    ec2.describe_volumes()
    assert time.time() - t >= 0.2
    with pytest.raises(ClientError):
        ec2.delete_volume(VolumeId="vol-0123456789abcdef0")
    stats = json.loads(s.get("/__sim/stats")[1])
    assert stats["actions"]["DescribeVolumes"]["ok"] == 1
    assert stats["actions"]["DeleteVolume"]["InvalidVolume.NotFound"] == 1
    assert json.loads(s.get("/__sim/stats", method="DELETE")[1])["total"] == 0
    assert s.get("/__sim/nothing")[0] == 404


def test_sigint_also_clean(start_sim):
    s = start_sim()
    s.client().describe_volumes()
    assert s.stop(sig=signal.SIGINT) == 0


def test_dropped_connections(start_sim):
    s = start_sim("--drop-rate", "1")
    ec2 = s.client()
    with pytest.raises(Exception) as e:
        ec2.describe_volumes()
    assert not isinstance(e.value, ClientError)  # no answer at all, not an EC2 error
    s.get("/__sim/faults", method="POST", data=b'{"drop_rate": 0}')
    ec2.describe_volumes()
    assert json.loads(s.get("/__sim/stats")[1])["dropped"] >= 1
