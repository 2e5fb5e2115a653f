"""ebs-ec2-sim's EC2 Query API driven by boto3 (Debian python3-boto3): the real AWS SDK
judges the protocol — XML shapes, error bodies, signatures — while the tests check
EC2's rules: transitions, idempotency, zones, VolumeInUse, devices, paging, filters,
snapshots, modifications and tags."""
import re
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError

from ec2sim_fixture import (INSTANCE, INSTANCE_B, SECRET_KEY, start_sim, sim, ec2, volume,  # noqa: F401
                            wait_attachment, wait_for, wait_volume)

NS = "{http://ec2.amazonaws.com/doc/2016-11-15/}"


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def create(ec2, **kw):
    args = {"AvailabilityZone": "us-east-1a", "Size": 4, "VolumeType": "gp3"}
    args.update(kw)
    return ec2.create_volume(**args)


def test_volume_lifecycle(ec2):
    v = create(ec2, TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "CSIVolumeName", "Value": "pvc-1"}]}])
    vid = v["VolumeId"]
    assert re.fullmatch(r"vol-[0-9a-f]{17}", vid)
    assert v["State"] == "creating" and v["Size"] == 4 and v["Iops"] == 3000 and v["Throughput"] == 125
    assert v["Tags"] == [{"Key": "CSIVolumeName", "Value": "pvc-1"}]
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    a = ec2.attach_volume(VolumeId=vid, InstanceId=INSTANCE, Device="/dev/xvdaa")
    assert a["State"] == "attaching" and a["Device"] == "/dev/xvdaa"
    v = wait_attachment(ec2, vid, "attached")
    assert v["State"] == "in-use" and v["Attachments"][0]["InstanceId"] == INSTANCE
    inst = ec2.describe_instances(InstanceIds=[INSTANCE])["Reservations"][0]["Instances"][0]
    assert {"DeviceName": "/dev/xvdaa", "VolumeId": vid} == {
        "DeviceName": inst["BlockDeviceMappings"][0]["DeviceName"],
        "VolumeId": inst["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]}
    with pytest.raises(ClientError) as e:
        ec2.delete_volume(VolumeId=vid)
    assert code_of(e) == "VolumeInUse"
    d = ec2.detach_volume(VolumeId=vid)
    assert d["State"] == "detaching"
    wait_attachment(ec2, vid, "detached")
    assert volume(ec2, vid)["State"] == "available"
    ec2.delete_volume(VolumeId=vid)
    with pytest.raises(ClientError) as e:
        ec2.describe_volumes(VolumeIds=[vid])
    assert code_of(e) == "InvalidVolume.NotFound"
    with pytest.raises(ClientError) as e:
        ec2.delete_volume(VolumeId=vid)
    assert code_of(e) == "InvalidVolume.NotFound"


def test_client_token_idempotency(ec2):
    v1 = create(ec2, ClientToken="tok-a", Size=5)
    v2 = create(ec2, ClientToken="tok-a", Size=5)
    assert v1["VolumeId"] == v2["VolumeId"]
    with pytest.raises(ClientError) as e:
        create(ec2, ClientToken="tok-a", Size=6)
    assert code_of(e) == "IdempotentParameterMismatch"
    v3 = create(ec2, ClientToken="tok-b", Size=5)
    assert v3["VolumeId"] != v1["VolumeId"]
    assert len(ec2.describe_volumes()["Volumes"]) == 2


def test_attach_rules(ec2):
    vid = create(ec2)["VolumeId"]
    with pytest.raises(ClientError) as e:
        ec2.attach_volume(VolumeId=vid, InstanceId=INSTANCE, Device="/dev/xvdba")
    assert code_of(e) == "IncorrectState"  # still creating
    wait_volume(ec2, vid, "available")
    with pytest.raises(ClientError) as e:
        ec2.attach_volume(VolumeId=vid, InstanceId=INSTANCE_B, Device="/dev/xvdba")
    assert code_of(e) == "InvalidVolume.ZoneMismatch"
    with pytest.raises(ClientError) as e:
        ec2.attach_volume(VolumeId=vid, InstanceId="i-00000000000000000", Device="/dev/xvdba")
    assert code_of(e) == "InvalidInstanceID.NotFound"
    with pytest.raises(ClientError) as e:
        ec2.attach_volume(VolumeId=vid, InstanceId=INSTANCE, Device="/dev/nvme1n1")
    assert code_of(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        ec2.attach_volume(VolumeId=vid, InstanceId=INSTANCE, Device="/dev/xvda")  # the root device
    assert code_of(e) == "InvalidParameterValue" and "already in use" in str(e.value)
    ec2.attach_volume(VolumeId=vid, InstanceId=INSTANCE, Device="/dev/xvdba")
    with pytest.raises(ClientError) as e:
        ec2.attach_volume(VolumeId=vid, InstanceId=INSTANCE, Device="/dev/xvdbb")
    assert code_of(e) == "VolumeInUse"
    other = create(ec2)["VolumeId"]
    wait_volume(ec2, other, "available")
    with pytest.raises(ClientError) as e:
        ec2.attach_volume(VolumeId=other, InstanceId=INSTANCE, Device="/dev/xvdba")
    assert code_of(e) == "InvalidParameterValue" and "already in use" in str(e.value)
    with pytest.raises(ClientError) as e:
        ec2.detach_volume(VolumeId=other)
    assert code_of(e) == "IncorrectState"
    with pytest.raises(ClientError) as e:
        ec2.detach_volume(VolumeId=vid, InstanceId=INSTANCE_B)
    assert code_of(e) == "InvalidAttachment.NotFound"
    with pytest.raises(ClientError) as e:
        ec2.attach_volume(VolumeId=vid, InstanceId=INSTANCE, Device="/dev/xvdbc", DryRun=True)
    assert code_of(e) == "VolumeInUse"  # DryRun validates fully


def test_multi_attach(ec2, start_sim):
    vid = create(ec2, VolumeType="io2", Iops=1000, MultiAttachEnabled=True, Size=10)["VolumeId"]
    wait_volume(ec2, vid, "available")
    with pytest.raises(ClientError) as e:
        create(ec2, MultiAttachEnabled=True)
    assert code_of(e) == "InvalidParameterCombination"
    ec2.attach_volume(VolumeId=vid, InstanceId=INSTANCE, Device="/dev/xvdba")
    with pytest.raises(ClientError) as e:
        ec2.attach_volume(VolumeId=vid, InstanceId=INSTANCE, Device="/dev/xvdbb")
    assert code_of(e) == "VolumeInUse"


def test_volume_limits_and_dry_run(ec2):
    cases = [
        ({"Size": 0}, "InvalidParameterValue"),
        ({"Size": 70000}, "InvalidParameterValue"),
        ({"VolumeType": "io1", "Size": 10}, "MissingParameter"),
        ({"VolumeType": "io2", "Size": 10, "Iops": 20000}, "InvalidParameterValue"),
        ({"VolumeType": "gp3", "Size": 10, "Iops": 200000}, "InvalidParameterValue"),
        ({"VolumeType": "gp2", "Iops": 300}, "InvalidParameterCombination"),
        ({"VolumeType": "gp2", "Throughput": 300}, "InvalidParameterCombination"),
        ({"VolumeType": "gp3", "Size": 100, "Iops": 3000, "Throughput": 1000}, "InvalidParameterValue"),
        ({"VolumeType": "st1", "Size": 10}, "InvalidParameterValue"),
        ({"VolumeType": "nope"}, "InvalidParameterValue"),
        ({"AvailabilityZone": "us-east-1z"}, "InvalidParameterValue"),
        ({"SnapshotId": "snap-0123456789abcdef0"}, "InvalidSnapshot.NotFound"),
        ({"KmsKeyId": "arn:aws:kms:us-east-1:1:key/x"}, "InvalidParameterDependency"),
        ({"DryRun": True}, "DryRunOperation"),
    ]
    for kw, want in cases:
        with pytest.raises(ClientError) as e:
            create(ec2, **kw)
        assert code_of(e) == want, kw
    with pytest.raises(ClientError) as e:
        create(ec2, VolumeType="gp3", Size=10, Iops=200000)
    assert "Volume iops of 200000 is too high; maximum is 80000" in str(e.value)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as e:
        ec2.describe_availability_zones(DryRun=True)
    assert code_of(e) == "DryRunOperation"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert ec2.describe_volumes()["Volumes"] == []
    v = create(ec2, VolumeType="gp2", Size=100)
    assert v["Iops"] == 300 and "Throughput" not in v
    v = create(ec2, VolumeType="io2", Size=100, Iops=50000, Encrypted=True)
    assert v["Encrypted"] and v["KmsKeyId"].startswith("arn:aws:kms:us-east-1:")


def test_describe_paging_and_filters(ec2):
    ids = []
    for i in range(12):
        tags = [{"Key": "CSIVolumeName", "Value": f"pvc-{i}"}]
        if i % 3 == 0:
            tags.append({"Key": "three", "Value": "yes"})
        ids.append(create(ec2, TagSpecifications=[{"ResourceType": "volume", "Tags": tags}])["VolumeId"])
    seen, token, pages = [], None, 0
    while True:
        kw = {"MaxResults": 5}
        if token:
            kw["NextToken"] = token
        r = ec2.describe_volumes(**kw)
        pages += 1
        seen += [v["VolumeId"] for v in r["Volumes"]]
        token = r.get("NextToken")
        if not token:
            break
    assert pages == 3 and sorted(seen) == sorted(ids) and len(seen) == 12
    paged = [v["VolumeId"] for p in ec2.get_paginator("describe_volumes").paginate(PaginationConfig={"PageSize": 5})
             for v in p["Volumes"]]
    assert sorted(paged) == sorted(ids)
    r = ec2.describe_volumes(Filters=[{"Name": "tag:CSIVolumeName", "Values": ["pvc-1", "pvc-2"]}])
    assert sorted(v["VolumeId"] for v in r["Volumes"]) == sorted([ids[1], ids[2]])
    r = ec2.describe_volumes(Filters=[{"Name": "tag-key", "Values": ["three"]}])
    assert len(r["Volumes"]) == 4
    r = ec2.describe_volumes(Filters=[{"Name": "tag:CSIVolumeName", "Values": ["pvc-1*"]},
                                      {"Name": "availability-zone", "Values": ["us-east-1a"]}])
    assert len(r["Volumes"]) == 3  # pvc-1, pvc-10, pvc-11
    r = ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [ids[5]]}, {"Name": "status",
                                                                                  "Values": ["creating", "available"]}])
    assert [v["VolumeId"] for v in r["Volumes"]] == [ids[5]]
    with pytest.raises(ClientError) as e:
        ec2.describe_volumes(Filters=[{"Name": "bogus", "Values": ["x"]}])
    assert code_of(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        ec2.describe_volumes(MaxResults=2)
    assert code_of(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        ec2.describe_volumes(MaxResults=5, NextToken="garbage")
    assert code_of(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        ec2.describe_volumes(VolumeIds=[ids[0]], MaxResults=5)
    assert code_of(e) == "InvalidParameterCombination"
    with pytest.raises(ClientError) as e:
        ec2.describe_volumes(VolumeIds=["vol-zzz"])
    assert code_of(e) == "InvalidVolumeID.Malformed"
    st = ec2.describe_volume_status(VolumeIds=[ids[0]])["VolumeStatuses"]
    assert st[0]["VolumeId"] == ids[0] and st[0]["VolumeStatus"]["Status"] == "ok"


def test_snapshots(ec2):
    vid = create(ec2, Size=3)["VolumeId"]
    wait_volume(ec2, vid, "available")
    s = ec2.create_snapshot(VolumeId=vid, Description="backup",
                            TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "CSIVolumeSnapshotName",
                                                                                       "Value": "snap-1"}]}])
    sid = s["SnapshotId"]
    assert s["State"] == "pending" and s["VolumeSize"] == 3 and s["Description"] == "backup"
    with pytest.raises(ClientError) as e:
        create(ec2, SnapshotId=sid)
    assert code_of(e) == "IncorrectState"
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    snap = ec2.describe_snapshots(SnapshotIds=[sid])["Snapshots"][0]
    assert snap["Progress"] == "100%" and snap["OwnerId"] == "123456789012"
    assert snap["Tags"] == [{"Key": "CSIVolumeSnapshotName", "Value": "snap-1"}]
    r = ec2.describe_snapshots(Filters=[{"Name": "tag:CSIVolumeSnapshotName", "Values": ["snap-1"]}], OwnerIds=["self"])
    assert [x["SnapshotId"] for x in r["Snapshots"]] == [sid]
    assert ec2.describe_snapshots(OwnerIds=["999999999999"])["Snapshots"] == []
    with pytest.raises(ClientError) as e:
        create(ec2, SnapshotId=sid, Size=2)
    assert code_of(e) == "InvalidParameterValue"
    v2 = ec2.create_volume(AvailabilityZone="us-east-1a", SnapshotId=sid, VolumeType="gp3")
    assert v2["SnapshotId"] == sid and v2["Size"] == 3
    f = ec2.enable_fast_snapshot_restores(AvailabilityZones=["us-east-1a"], SourceSnapshotIds=[sid])
    assert f["Successful"][0]["State"] == "enabling" and f["Unsuccessful"] == []
    assert ec2.describe_fast_snapshot_restores()["FastSnapshotRestores"][0]["SnapshotId"] == sid
    ec2.delete_snapshot(SnapshotId=sid)
    with pytest.raises(ClientError) as e:
        ec2.delete_snapshot(SnapshotId=sid)
    assert code_of(e) == "InvalidSnapshot.NotFound"
    with pytest.raises(ClientError) as e:
        ec2.create_snapshot(VolumeId="vol-0123456789abcdef0")
    assert code_of(e) == "InvalidVolume.NotFound"


def test_modify_volume(ec2):
    vid = create(ec2, Size=4)["VolumeId"]
    with pytest.raises(ClientError) as e:
        ec2.describe_volumes_modifications(VolumeIds=[vid])
    assert code_of(e) == "InvalidVolumeModification.NotFound"
    wait_volume(ec2, vid, "available")
    m = ec2.modify_volume(VolumeId=vid, Size=8, Iops=4000)["VolumeModification"]
    assert m["ModificationState"] == "modifying" and m["TargetSize"] == 8 and m["OriginalSize"] == 4
    assert m["TargetIops"] == 4000 and m["TargetVolumeType"] == "gp3"
    with pytest.raises(ClientError) as e:
        ec2.modify_volume(VolumeId=vid, Size=10)
    assert code_of(e) == "IncorrectModificationState"
    wait_for(lambda: ec2.describe_volumes_modifications(VolumeIds=[vid])["VolumesModifications"][0]
             ["ModificationState"] == "optimizing", what="optimizing")
    assert volume(ec2, vid)["Size"] == 8
    wait_for(lambda: ec2.describe_volumes_modifications(
        Filters=[{"Name": "modification-state", "Values": ["completed"]}])["VolumesModifications"], what="completed")
    with pytest.raises(ClientError) as e:
        ec2.modify_volume(VolumeId=vid, Size=6)
    assert code_of(e) == "InvalidParameterValue"
    m = ec2.modify_volume(VolumeId=vid, VolumeType="io2", Iops=2000)["VolumeModification"]
    assert m["TargetVolumeType"] == "io2" and m["OriginalVolumeType"] == "gp3"


def test_tags(ec2):
    vid = create(ec2)["VolumeId"]
    ec2.create_tags(Resources=[vid], Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}])
    assert {t["Key"]: t["Value"] for t in volume(ec2, vid)["Tags"]} == {"a": "1", "b": ""}
    ec2.delete_tags(Resources=[vid], Tags=[{"Key": "a", "Value": "other"}])  # value mismatch: kept
    ec2.delete_tags(Resources=[vid], Tags=[{"Key": "b"}])
    assert volume(ec2, vid)["Tags"] == [{"Key": "a", "Value": "1"}]
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [vid]}])["Tags"]
    assert tags == [{"Key": "a", "ResourceId": vid, "ResourceType": "volume", "Value": "1"}]
    with pytest.raises(ClientError) as e:
        ec2.create_tags(Resources=["vol-0123456789abcdef0"], Tags=[{"Key": "x", "Value": "y"}])
    assert code_of(e) == "InvalidVolume.NotFound"
    with pytest.raises(ClientError) as e:
        ec2.create_tags(Resources=[vid], Tags=[{"Key": "aws:reserved", "Value": "y"}])
    assert code_of(e) == "InvalidParameterValue"


def test_instances_types_zones(ec2):
    r = ec2.describe_instances()
    ids = [i["InstanceId"] for res in r["Reservations"] for i in res["Instances"]]
    assert sorted(ids) == sorted([INSTANCE, INSTANCE_B])
    inst = ec2.describe_instances(InstanceIds=[INSTANCE])["Reservations"][0]["Instances"][0]
    assert inst["Placement"]["AvailabilityZone"] == "us-east-1a" and inst["InstanceType"] == "m5.large"
    assert inst["State"]["Name"] == "running" and len(inst["NetworkInterfaces"]) == 2
    with pytest.raises(ClientError) as e:
        ec2.describe_instances(InstanceIds=["i-0000000000000000f"])
    assert code_of(e) == "InvalidInstanceID.NotFound"
    t = {x["InstanceType"]: x for x in ec2.describe_instance_types(InstanceTypes=["m5.large", "m7i.large"])
         ["InstanceTypes"]}
    assert t["m5.large"]["EbsInfo"]["NvmeSupport"] == "required"
    assert t["m5.large"]["NetworkInfo"]["MaximumNetworkInterfaces"] == 3
    zones = ec2.describe_availability_zones(ZoneNames=["us-east-1b"])["AvailabilityZones"]
    assert zones == [z for z in zones if z["ZoneName"] == "us-east-1b"] and zones[0]["ZoneId"] == "use1-az2"


def test_errors_and_auth(sim, ec2):
    bad = sim.client(secret_key="wrong-secret")
    with pytest.raises(ClientError) as e:
        bad.describe_volumes()
    assert code_of(e) == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    unknown = sim.client(access_key="AKIAUNKNOWNKEY000000")
    with pytest.raises(ClientError) as e:
        unknown.describe_volumes()
    assert code_of(e) == "AuthFailure" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401
    status, body, _ = sim.raw({"Action": "DescribeVolumes"}, region="eu-west-1")
    assert status == 403 and "<Code>SignatureDoesNotMatch</Code>" in body
    status, body, _ = sim.raw({"Action": "DescribeVolumes", "Bogus": "1"})
    root = ET.fromstring(body)
    assert status == 400 and root.tag == "Response"
    assert root.find("Errors/Error/Code").text == "UnknownParameter" and root.find("RequestID").text
    status, body, _ = sim.raw({"Action": "FlyToTheMoon"})
    assert status == 400 and "<Code>InvalidAction</Code>" in body
    status, body, _ = sim.raw({"Action": "DeleteVolume"})
    assert status == 400 and "<Code>MissingParameter</Code>" in body
    status, body, _ = sim.raw({"Action": "DescribeVolumes", "MaxResults": "x"})
    assert status == 400 and "<Code>InvalidParameterValue</Code>" in body
    status, _, _ = sim.get("/", method="POST", data=b"Action=DescribeVolumes&Version=2016-11-15")
    assert status == 401
    # GET with the query signed works too, and success bodies carry the EC2 namespace.
    status, body, _ = sim.raw({"Action": "DescribeAvailabilityZones"}, method="GET")
    root = ET.fromstring(body)
    assert status == 200 and root.tag == NS + "DescribeAvailabilityZonesResponse"
    assert root.find(NS + "requestId").text


def test_copy_volumes(sim, ec2):
    src = create(ec2, Size=5, TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "k", "Value": "v"}]}])
    wait_volume(ec2, src["VolumeId"], "available")
    params = {"Action": "CopyVolumes", "SourceVolumeId": src["VolumeId"], "Size": "6", "ClientToken": "copy-1",
              "TagSpecification.1.ResourceType": "volume", "TagSpecification.1.Tag.1.Key": "copy",
              "TagSpecification.1.Tag.1.Value": "yes"}
    status, body, _ = sim.raw(params)
    assert status == 200, body
    root = ET.fromstring(body)
    item = root.find(f"{NS}volumeSet/{NS}item")
    new_id = item.find(NS + "volumeId").text
    assert item.find(NS + "sourceVolumeId").text == src["VolumeId"] and item.find(NS + "size").text == "6"
    status, body2, _ = sim.raw(params)
    assert status == 200 and new_id in body2
    status, body3, _ = sim.raw({**params, "Size": "7"})
    assert status == 400 and "IdempotentParameterMismatch" in body3
    v = wait_volume(ec2, new_id, "available")
    assert v["Tags"] == [{"Key": "copy", "Value": "yes"}]


def test_concurrent_clients(sim):
    """Many connections at once (one thread each in the simulator): every call is
    answered, ClientTokens hold under races, and the state stays consistent."""
    import concurrent.futures

    def worker(n):
        c = sim.client()
        ids = set()
        for i in range(8):
            ids.add(c.create_volume(AvailabilityZone="us-east-1a", Size=1, ClientToken=f"race-{i}")["VolumeId"])
            c.describe_volumes(MaxResults=5)
            c.create_tags(Resources=list(ids), Tags=[{"Key": f"w{n}", "Value": str(i)}])
        return ids

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(worker, range(8)))
    assert all(r == results[0] for r in results)  # the same 8 tokens → the same 8 volumes
    vols = sim.client().describe_volumes()["Volumes"]
    assert len(vols) == 8 and all(len(v["Tags"]) == 8 for v in vols)
