#!/usr/bin/python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/ (committed; rerun after changing a
target's input format). Deterministic: the same files every time, named seed-<what>.

Sources: tests/fixtures/ec2/*.xml, tests/fixtures/sigv4 (.req files), tests/fixtures/nvme/*.bin,
hand-made documents below, and protobuf encodings of CSI requests made with the Python stubs of
csi-proto/csi.proto (generated into build/py as tests/integration/conftest.py does). Files named
crash-* (regression inputs of fixed bugs) are never touched.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
FIX = os.path.join(ROOT, "tests", "fixtures")


def stubs():
    out = os.path.join(ROOT, "build", "py")
    os.makedirs(out, exist_ok=True)
    proto = os.path.join(ROOT, "csi-proto", "csi.proto")
    if not os.path.exists(os.path.join(out, "csi_pb2.py")) or \
            os.path.getmtime(os.path.join(out, "csi_pb2.py")) < os.path.getmtime(proto):
        from grpc_tools import protoc
        rc = protoc.main(["protoc", f"-I{os.path.join(ROOT, 'csi-proto')}", "-I/usr/include",
                          f"--python_out={out}", f"--grpc_python_out={out}", proto])
        assert rc == 0, "protoc failed"
    sys.path.insert(0, out)
    import csi_pb2
    return csi_pb2


class Writer:
    def __init__(self, target):
        self.dir = os.path.join(CORPUS, target)
        os.makedirs(self.dir, exist_ok=True)
        for f in os.listdir(self.dir):
            if f.startswith("seed-"):
                os.unlink(os.path.join(self.dir, f))
        self.n = 0

    def __call__(self, name, data):
        if isinstance(data, str):
            data = data.encode()
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        with open(os.path.join(self.dir, f"seed-{safe}"), "wb") as f:
            f.write(data)
        self.n += 1


def z(*fields):
    return b"\0".join(f.encode() if isinstance(f, str) else f for f in fields)


# ---- fuzz_ec2_xml ----------------------------------------------------------------------------
EC2_SEL = {
    "CreateVolume": 0, "CopyVolumes": 1, "DescribeVolumes": 2, "DescribeVolumes-empty": 2,
    "AttachVolume": 3, "DetachVolume": 4, "DeleteVolume": 5, "DeleteSnapshot": 5, "CreateTags": 5,
    "DeleteTags": 5, "DescribeInstances": 6, "DescribeInstanceTypes": 7, "DescribeAvailabilityZones": 8,
    "CreateSnapshot": 9, "DescribeSnapshots": 10, "ModifyVolume": 11, "DescribeVolumesModifications": 12,
    "DescribeVolumeStatus": 13, "EnableFastSnapshotRestores": 14,
}


def ec2_xml():
    w = Writer("fuzz_ec2_xml")
    d = os.path.join(FIX, "ec2")
    for f in sorted(os.listdir(d)):
        body = open(os.path.join(d, f), "rb").read()
        stem = f.rsplit(".", 1)[0]
        if stem in EC2_SEL:
            w(stem, bytes([EC2_SEL[stem]]) + body)
        elif stem.startswith("error-"):
            w(stem + "-parse", bytes([15]) + body)
            w(stem + "-status", bytes([16]) + body)
            w(stem + "-as-describe", bytes([2]) + body)
    w("sts-error", bytes([15]) + b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
      b"<Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>bad</Message></Error>"
      b"<RequestId>r-1</RequestId></ErrorResponse>")
    w("bare-error", bytes([15]) + b"<Error><Code>Throttling</Code><Message>slow</Message></Error>")
    w("doctype", bytes([2]) + b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><DescribeVolumesResponse/>')
    for i, t in enumerate(["2016-08-29T18:52:32.724Z", "2016-08-29T18:52:32Z", "1970-01-01T00:00:00.1Z"]):
        w(f"time-{i}", bytes([17]) + t.encode())
    return w.n


# ---- fuzz_sigv4 --------------------------------------------------------------------------------
def parse_req(raw):
    head, _, body = raw.partition(b"\n\n")
    lines = head.split(b"\n")
    method, _, rest = lines[0].partition(b" ")
    target = rest.rsplit(b" ", 1)[0]
    path, _, query = target.partition(b"?")
    headers = []
    for ln in lines[1:]:
        if ln[:1] in (b" ", b"\t") and headers:
            headers[-1] = (headers[-1][0], headers[-1][1] + b"\n" + ln)
            continue
        k, _, v = ln.partition(b":")
        headers.append((k, v))
    return method, path, query, body, headers


def sigv4():
    w = Writer("fuzz_sigv4")
    base = os.path.join(FIX, "sigv4", "aws-sig-v4-test-suite")
    for dirpath, _, files in sorted(os.walk(base)):
        for f in sorted(files):
            if not f.endswith(".req"):
                continue
            m, p, q, body, hs = parse_req(open(os.path.join(dirpath, f), "rb").read())
            fields = [m, p, q, body]
            for k, v in hs:
                fields += [k, v]
            w(f[:-4], bytes([1]) + b"\0".join(fields))
            w(f[:-4] + "-token-sha", bytes([1 | 2 | 4]) + b"\0".join(fields))
            w(f[:-4] + "-presign", bytes([1 | 8]) + b"\0".join(fields))
            authz = os.path.join(dirpath, f[:-4] + ".authz")
            if os.path.exists(authz):
                w(f[:-4] + "-authz", bytes([0xE0]) + open(authz, "rb").read() + b"\0" + b"20150830T123600Z")
    w("ec2-post", bytes([1]) + z("POST", "/", "", "Action=DescribeVolumes&Version=2016-11-15", "Host",
                                 "ec2.us-east-1.amazonaws.com", "Content-Type",
                                 "application/x-www-form-urlencoded; charset=utf-8"))
    return w.n


# ---- fuzz_ini ------------------------------------------------------------------------------------
INI_CRED = """[default]
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
aws_session_token = FwoGZXIvYXdzEXAMPLE

[a]
aws_access_key_id=AKIAOTHER ; inline comment
aws_secret_access_key: secret#notacomment
"""
INI_CONF = """# config
[default]
region = us-west-2
s3 =
  endpoint_url = https://s3.example
  max_concurrent_requests = 10
[profile a]
region = eu-west-1
credential_process = /bin/false
[profile sso]
sso_session = corp
[services x]
ec2 =
  endpoint_url = http://localhost:8971
[profile role]
role_arn = arn:aws:iam::123456789012:role/x
source_profile = default
"""


def ini():
    w = Writer("fuzz_ini")
    w("credentials", b"\0" + INI_CRED.encode())
    w("config", b"\0" + INI_CONF.encode())
    w("continuation", b"\0" + b"[default]\nkey =\n  line1\n  line2\nother = v\n\t; comment\n")
    w("bad-section", b"\0" + b"[default\nkey = v\n")
    w("profile-default", b"\x01" + z(INI_CRED, INI_CONF, ""))
    w("profile-a", b"\x01" + z(INI_CRED, INI_CONF, "a"))
    w("profile-conf-keys", b"\x01" + z("", "[profile default]\naws_access_key_id=AK\naws_secret_access_key=SK\n", ""))
    w("profile-sso", b"\x01" + z("", INI_CONF, "sso"))
    w("profile-role", b"\x01" + z("", INI_CONF, "role"))
    w("profile-missing", b"\x01" + z(INI_CRED, "", "nope"))
    w("partial-keys", b"\x01" + z("[default]\naws_access_key_id = AK\n", "", ""))
    return w.n


# ---- fuzz_creds ----------------------------------------------------------------------------------
def creds():
    w = Writer("fuzz_creds")
    w("imds-json", b"\0" + json.dumps({
        "Code": "Success", "LastUpdated": "2026-11-25T22:00:00Z", "Type": "AWS-HMAC",
        "AccessKeyId": "ASIAIMDSEXAMPLE", "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "Token": "IQoJb3JpZ2luX2VjEXAMPLE", "Expiration": "2026-11-25T23:02:32Z"}).encode())
    w("container-json", b"\0" + json.dumps({
        "AccessKeyId": "ASIACTREXAMPLE", "SecretAccessKey": "secret", "Token": "tok",
        "Expiration": "2026-11-25T23:02:32.123+00:00", "RoleArn": "arn:aws:iam::1:role/x"}).encode())
    w("json-code", b"\0" + json.dumps({"Code": "AssumeRoleUnauthorizedAccess", "Message": "no"}).encode())
    w("json-long-term", b"\0" + json.dumps({"AccessKeyId": "AKIA", "SecretAccessKey": "s"}).encode())
    w("sts", b"\x01" + b'<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
      b"<AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>system:sa</SubjectFromWebIdentityToken>"
      b"<Credentials><AccessKeyId>ASIASTSEXAMPLE</AccessKeyId><SecretAccessKey>secret</SecretAccessKey>"
      b"<SessionToken>token</SessionToken><Expiration>2026-11-25T23:02:32Z</Expiration></Credentials>"
      b"</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>r-1</RequestId>"
      b"</ResponseMetadata></AssumeRoleWithWebIdentityResponse>")
    w("sts-error", b"\x01" + b"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>"
      b"<Message>Token rejected</Message></Error><RequestId>req-42</RequestId></ErrorResponse>")
    for i, t in enumerate(["2026-11-25T23:02:32Z", "2026-11-25T23:02:32.123456Z", "2026-11-25T23:02:32-05:30",
                           "2026-11-25T23:02:32+00:00"]):
        w(f"time-{i}", b"\x02" + t.encode())
    w("env-default", b"\x03" + z("us-west-2", "", "", "", "", ""))
    w("env-override", b"\x03" + z("us-east-1", "http://127.0.0.1:8971", "https://[::1]:8443/base", "", "false", ""))
    w("env-fips", b"\x03" + z("us-gov-west-1", "", "", "", "TRUE", ""))
    w("env-ignore", b"\x03" + z("cn-north-1", "", "https://example.com", "https://sts.example:444", "", "true"))
    w("env-bad-url", b"\x03" + z("eu-west-1", "ftp://user:pw@host/?q#f", "https://h:99999", "", "maybe", ""))
    return w.n


# ---- fuzz_imds -----------------------------------------------------------------------------------
def imds():
    w = Writer("fuzz_imds")
    w("macs", "0e:00:00:00:00:01/\n0e:00:00:00:00:02/\n")
    w("macs-crlf", "0e:00:00:00:00:01\r\n0E:AB:cd:00:00:02/")
    w("mappings", "ami\nebs1\nebs2\nephemeral0\nroot\nswap")
    w("bad", "ami\nEBS1\n")
    return w.n


# ---- fuzz_node_parsers ---------------------------------------------------------------------------
MOUNTINFO = """22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p1 rw
98 22 259:3 / /var/lib/kubelet/plugins/kubernetes.io/csi/ebs.csi.aws.com/abc/globalmount rw,relatime shared:50 - ext4 /dev/nvme1n1 rw
99 22 259:4 /nvme2n1 /var/lib/kubelet/pods/p/volumes/kubernetes.io~csi/pvc/dev rw - devtmpfs udev rw,size=1k
100 22 259:5 / /var/lib/kubelet/pods/p/volumes/kubernetes.io~csi/pvc-1/mount rw - xfs /dev/nvme3n1p2 rw,attr2
101 22 0:5 / /var/lib/kubelet/x\\040y rw - tmpfs tmpfs rw
"""


def mkfs_superblock(tool, args, size):
    if shutil.which(tool) is None:
        return None
    with tempfile.NamedTemporaryFile() as f:
        f.truncate(size)
        f.flush()
        r = subprocess.run([tool] + args + [f.name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode != 0:
            return None
        f.seek(0)
        return f.read(4096)


def node_parsers():
    w = Writer("fuzz_node_parsers")
    d = os.path.join(FIX, "nvme")
    for f in sorted(os.listdir(d)):
        if f.endswith(".bin"):
            w("nvme-" + f[:-4], b"\0" + open(os.path.join(d, f), "rb").read())
    w("mountinfo", b"\x01" + z("/var/lib/kubelet", MOUNTINFO))
    w("mountinfo-pods", b"\x01" + z("/var/lib/kubelet/pods/", MOUNTINFO))
    ext4 = mkfs_superblock("mkfs.ext4", ["-q", "-F"], 8 << 20)
    if ext4:
        w("sb-ext4", b"\x02" + ext4)
    xfs = mkfs_superblock("mkfs.xfs", ["-q", "-f"], 320 << 20)
    if xfs:
        w("sb-xfs", b"\x02" + xfs)
    w("options", b"\x03" + z("rw,relatime,nouuid,data=ordered", "data"))
    w("devpath", b"\x04\x02" + z("vol-0123456789abcdef0", " vol0123456789abcdef0 \n", "/dev/nvme1n1"))
    w("devpath-xvd", b"\x04\x01" + z("vol-01234567", "vol01234567", "/dev/xvdf"))
    w("limits", b"\x05" + z("m5.large") + b"\x00\x02\x00\x01\x00\xff\xff\xff\xff")
    w("limits-flag", b"\x05" + z("t2.micro") + b"\x00\x01\x00\x00\x00\x05\x00\xff\xff")
    fmt = b"".join(v.to_bytes(8, "little") for v in (4096, 256, 16384, 100000))
    w("format-ext4", b"\x06" + z("ext4") + fmt + b"\x01" + (65536).to_bytes(8, "little"))
    w("format-xfs", b"\x06" + z("xfs") + (4096).to_bytes(8, "little") + (512).to_bytes(8, "little")
      + bytes(16) + b"\x02" + bytes(8))
    return w.n


# ---- fuzz_kubeconfig -----------------------------------------------------------------------------
KUBECONFIG = """apiVersion: v1
kind: Config
current-context: dev
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
    server: https://10.0.0.1:6443
  name: c1
- name: c2
  cluster:
    certificate-authority: ca.crt
    server: "https://k8s.example:443/"
contexts:
- context:
    cluster: c1
    user: u1
    namespace: kube-system
  name: dev
- context: {cluster: c2, user: u2}
  name: prod
users:
- name: u1
  user:
    token: 'abc.def'
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
- name: u2
  user:
    tokenFile: /var/run/secrets/token
    client-certificate: "client.crt"
    client-key: >-
      client.key
preferences: {}
"""


def kubeconfig():
    w = Writer("fuzz_kubeconfig")
    w("full", b"\0" + KUBECONFIG.encode())
    w("full-basedir", b"\x02" + KUBECONFIG.replace("current-context: dev", "current-context: prod").encode())
    w("json", b"\0" + json.dumps({"current-context": "a", "contexts": [{"name": "a", "context": {
        "cluster": "c", "user": "u"}}], "clusters": [{"name": "c", "cluster": {"server": "https://h"}}],
        "users": [{"name": "u", "user": {"token": "t"}}]}).encode())
    w("exec-auth", b"\0" + b"current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n"
      b"clusters:\n- name: c\n  cluster:\n    server: https://h\n    insecure-skip-tls-verify: true\n"
      b"users:\n- name: u\n  user:\n    exec:\n      command: aws\n")
    w("yaml-scalars", b"\x01" + b"---\na: \"x\\ty\\u00e9\"\nb: 'it''s'\nc: |\n  l1\n  l2\nd: >\n  f1\n  f2\n"
      b"e: [1, 2]\nf: &anchor !!str v\n# c\ng:\n  - - nested\n")
    w("base64", b"\x01" + b"aGVsbG8gd29y\nbGQ=")
    return w.n


# ---- fuzz_k8s_features ---------------------------------------------------------------------------
def k8s_features():
    w = Writer("fuzz_k8s_features")
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "ip-10-0-0-1.ec2.internal", "labels": {
        "node.kubernetes.io/instance-type": "ml.m5.large", "topology.kubernetes.io/region": "us-east-1",
        "topology.kubernetes.io/zone": "us-east-1a", "topology.k8s.aws/zone-id": "use1-az1",
        "sagemaker.amazonaws.com/num-eni-attachments": "3"}},
        "spec": {"providerID": "aws:///us-east-1a/i-0123456789abcdef0", "unschedulable": False, "taints": [
            {"key": "ebs.csi.aws.com/agent-not-ready", "effect": "NoExecute"},
            {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
            {"key": "karpenter.sh/disrupted", "effect": "NoSchedule"}]}}
    w("node", b"\0" + json.dumps(node).encode())
    w("node-drain", b"\x01" + json.dumps(node).encode())
    node2 = json.loads(json.dumps(node))
    node2["spec"] = {"providerID": "aws:///us-west-2a/hyperpod-cl1-i-0abc", "unschedulable": True}
    w("node-hyperpod", b"\0" + json.dumps(node2).encode())
    w("csinode", b"\0" + json.dumps({"kind": "CSINode", "spec": {"drivers": [
        {"name": "ebs.csi.aws.com", "nodeID": "i-1", "allocatable": {"count": 25}}]}}).encode())
    w("va", b"\x02" + json.dumps({"kind": "VolumeAttachment", "spec": {
        "attacher": "ebs.csi.aws.com", "nodeName": "ip-10-0-0-1.ec2.internal",
        "source": {"persistentVolumeName": "pv"}}}).encode())
    w("provider-snow", b"\0" + b"aws:///s.i-0123abc")
    return w.n


# ---- fuzz_sim_request ----------------------------------------------------------------------------
def sim_request():
    w = Writer("fuzz_sim_request")
    forms = {
        "create": "Action=CreateVolume&Version=2016-11-15&Size=10&AvailabilityZone=us-east-1a&VolumeType=gp3"
                  "&ClientToken=abc&TagSpecification.1.ResourceType=volume&TagSpecification.1.Tag.1.Key=CSIVolumeName"
                  "&TagSpecification.1.Tag.1.Value=pvc-1&TagSpecification.1.Tag.2.Key=k%20x&TagSpecification.1.Tag.2.Value=",
        "describe": "Action=DescribeVolumes&Version=2016-11-15&VolumeId.1=vol-1&VolumeId.2=vol-2&MaxResults=5"
                    "&NextToken=t&Filter.1.Name=tag%3AKubernetesCluster&Filter.1.Value.1=a*&Filter.1.Value.2=b%3F"
                    "&Filter.2.Name=status&Filter.2.Value.1=available&DryRun=true",
        "bad-escape": "Action=DescribeVolumes&VolumeId.1=%zz",
        "repeated": "Action=A&Action=B",
        "unknown": "Action=DescribeVolumes&Bogus.1=x&VolumeId.01=y",
        "aws-tag": "TagSpecification.1.ResourceType=snapshot&TagSpecification.1.Tag.1.Key=aws%3Ax",
    }
    for k, v in forms.items():
        w("form-" + k, b"\0" + v.encode())
    body = "Action=DescribeVolumes&Version=2016-11-15"
    hdrs = ["Host", "127.0.0.1:8971", "Content-Type", "application/x-www-form-urlencoded; charset=utf-8"]
    w("auth-unsigned", b"\x01" + z("POST", "/", "", body, *hdrs))
    w("auth-bad", b"\x01" + z("POST", "/", "", body, *hdrs, "X-Amz-Date", "20231114T221320Z", "Authorization",
                              "AWS4-HMAC-SHA256 Credential=AKIAEBSSIMULATOR0000/20231114/us-east-1/ec2/aws4_request, "
                              "SignedHeaders=content-type;host;x-amz-date, Signature=" + "0" * 64))
    w("auth-signed", b"\x02" + z("POST", "/", "", body, *hdrs))
    w("auth-signed-get", b"\x02" + z("GET", "/", "Action=DescribeInstances&Version=2016-11-15", "", "Host", "h"))
    w("config", b"\x03" + z("--listen", "127.0.0.1:0", "--region", "us-west-2", "--max-skew-s", "60",
                            "i-0123456789abcdef0:us-west-2a:m5.large:enis=2:ebs=1:root=/dev/xvda,"
                            "i-0aaaaaaaaaaaaaaa1:us-west-2b:c5.xlarge"))
    w("config-help", b"\x03" + z("--help", "x"))
    return w.n


# ---- fuzz_sim_state ------------------------------------------------------------------------------
def sim_state():
    w = Writer("fuzz_sim_state")
    spec = {"type": "gp3", "size": 10, "iops": 3000, "throughput": 125, "multi_attach": False}
    state = {"version": 1, "rng": "3c6ef372fe94f82b",
             "imds_key": "eb442faba05f7531109d683a3cf50d75eccd516339ae2abec2be13242d74361a",
             "volumes": [{"id": "vol-7910a2dec89025cc1", "az": "us-east-1a", "spec": spec, "encrypted": True,
                          "kms_key_id": "arn:aws:kms:us-east-1:1:key/k", "snapshot_id": "snap-1",
                          "source_volume_id": "vol-0", "status": 1, "create_ms": 1795654760999,
                          "ready_ms": 1795654761199, "deleted_ms": 0, "tags": [{"key": "a", "value": "b"}],
                          "attachments": [{"instance_id": "i-0123456789abcdef0", "device": "/dev/xvdaa",
                                           "status": 1, "attach_ms": 1795654761228, "due_ms": 1795654761428,
                                           "stuck": False, "force": False}],
                          "modification": {"state": 1, "orig": spec, "target": dict(spec, size=20, type="io2"),
                                           "start_ms": 1, "optimizing_ms": 2, "end_ms": 3}}],
             "snapshots": [{"id": "snap-1", "volume_id": "vol-7910a2dec89025cc1", "volume_size": 10,
                            "description": "d", "status": 1, "start_ms": 5, "ready_ms": 6, "encrypted": False,
                            "tags": [], "fsr_azs": ["us-east-1a"], "fsr_ms": 7}],
             "tokens": [{"action": "CreateVolume", "token": "tok1", "fingerprint": "Size=10\nVolumeType=gp3\n",
                         "resource_id": "vol-7910a2dec89025cc1"}]}
    w("full", json.dumps(state, indent=1))
    w("empty", json.dumps({"version": 1, "rng": "1", "imds_key": "k", "volumes": [], "snapshots": [],
                           "tokens": []}))
    w("wrong-version", json.dumps({"version": 2}))
    return w.n


# ---- fuzz_log ------------------------------------------------------------------------------------
def log():
    w = Writer("fuzz_log")
    w("text", b"\x06" + z("CreateVolume failed", "pvc-1", "/var/lib/kubelet/x y", 'quote " and \\ back'))
    w("json", b"\x07" + z("line\nbreak\r\x1b[31m", "caf\xc3\xa9", "bad \xff\xfe utf8", "\xed\xa0\x80 surrogate"))
    w("json-msg", b"\x01" + z("tab\there \x7f del"))
    return w.n


# ---- protobuf targets ------------------------------------------------------------------------------
def cap(pb, block=False, fs="ext4", mode=1, flags=()):
    c = pb.VolumeCapability()
    c.access_mode.mode = mode
    if block:
        c.block.SetInParent()
    else:
        c.mount.fs_type = fs
        c.mount.mount_flags.extend(flags)
    return c


def csi_requests(pb):
    """(rpc index in fuzz_csi_handlers.c, name, message)."""
    V1, V2 = "vol-00000000000000001", "vol-00000000000000002"
    N1, N3 = "i-0123456789abcdef0", "i-0aaaaaaaaaaaaaaa1"
    NV1, NV2 = "vol-0123456789abcdef0", "vol-0fedcba9876543210"
    K = "/var/lib/kubelet"
    out = []
    r = pb.CreateVolumeRequest(name="pvc-1234", volume_capabilities=[cap(pb)],
                               parameters={"type": "io2", "iops": "3000", "encrypted": "true",
                                           "tagSpecification_1": "owner={{ .PVCNamespace }}/{{ .PVCName }}",
                                           "csi.storage.k8s.io/pvc/name": "data", "csi.storage.k8s.io/pvc/namespace": "ns",
                                           "blockSize": "4096", "inodeSize": "512"})
    r.capacity_range.required_bytes = 10 << 30
    r.accessibility_requirements.requisite.add().segments["topology.kubernetes.io/zone"] = "us-east-1a"
    r.accessibility_requirements.preferred.add().segments["topology.ebs.csi.aws.com/zone"] = "us-east-1a"
    out.append((0, "create", r))
    r = pb.CreateVolumeRequest(name="pvc-snap", volume_capabilities=[cap(pb, block=True, mode=5)],
                               parameters={"type": "io2", "iops": "100"})
    r.volume_content_source.snapshot.snapshot_id = "snap-0123456789abcdef0"
    out.append((0, "create-from-snapshot", r))
    r = pb.CreateVolumeRequest(name="pvc-clone", volume_capabilities=[cap(pb)],
                               mutable_parameters={"throughput": "500"})
    r.volume_content_source.volume.volume_id = V1
    out.append((0, "create-clone", r))
    out.append((1, "delete", pb.DeleteVolumeRequest(volume_id=V1)))
    out.append((2, "publish", pb.ControllerPublishVolumeRequest(volume_id=V1, node_id=N1,
                                                               volume_capability=cap(pb))))
    out.append((2, "publish-other-zone", pb.ControllerPublishVolumeRequest(volume_id=V2, node_id=N3,
                                                                          volume_capability=cap(pb, block=True))))
    out.append((3, "unpublish", pb.ControllerUnpublishVolumeRequest(volume_id=V2, node_id=N1)))
    out.append((4, "validate", pb.ValidateVolumeCapabilitiesRequest(volume_id=V1, volume_capabilities=[
        cap(pb), cap(pb, block=True, mode=5)], volume_context={"a": "b"}, parameters={"type": "gp3"})))
    out.append((5, "ctrl-caps", pb.ControllerGetCapabilitiesRequest()))
    out.append((6, "snapshot", pb.CreateSnapshotRequest(source_volume_id=V1, name="snapshot-1", parameters={
        "tagSpecification_1": "a=b", "fastSnapshotRestoreAvailabilityZones": "us-east-1a,us-east-1b"})))
    out.append((7, "delete-snapshot", pb.DeleteSnapshotRequest(snapshot_id="snap-0123456789abcdef0")))
    out.append((8, "list-snapshots", pb.ListSnapshotsRequest(max_entries=1, source_volume_id=V1)))
    out.append((8, "list-token", pb.ListSnapshotsRequest(starting_token="2", snapshot_id="snap-0123456789abcdef0")))
    r = pb.ControllerExpandVolumeRequest(volume_id=V1, volume_capability=cap(pb))
    r.capacity_range.required_bytes = 20 << 30
    r.capacity_range.limit_bytes = 30 << 30
    out.append((9, "expand", r))
    out.append((10, "modify", pb.ControllerModifyVolumeRequest(volume_id=V2, mutable_parameters={
        "type": "io2", "iops": "4000", "tagSpecification_1": "x=y"})))
    out.append((11, "stage", pb.NodeStageVolumeRequest(volume_id=NV1, staging_target_path=K + "/stage2",
                                                       volume_capability=cap(pb, flags=["noatime"]),
                                                       publish_context={"devicePath": "/dev/xvdba"},
                                                       volume_context={"blockSize": "4096"})))
    out.append((11, "stage-xfs", pb.NodeStageVolumeRequest(volume_id=NV1, staging_target_path=K + "/stage2",
                                                           volume_capability=cap(pb, fs="xfs"))))
    out.append((11, "stage-block", pb.NodeStageVolumeRequest(volume_id=NV1, staging_target_path=K + "/stage2",
                                                             volume_capability=cap(pb, block=True))))
    out.append((11, "stage-again", pb.NodeStageVolumeRequest(volume_id=NV2, staging_target_path=K + "/stage",
                                                             volume_capability=cap(pb))))
    out.append((12, "unstage", pb.NodeUnstageVolumeRequest(volume_id=NV2, staging_target_path=K + "/stage")))
    out.append((13, "publish-node", pb.NodePublishVolumeRequest(volume_id=NV2, staging_target_path=K + "/stage",
                                                                target_path=K + "/pods/p/mount",
                                                                volume_capability=cap(pb), readonly=True)))
    out.append((13, "publish-block", pb.NodePublishVolumeRequest(volume_id=NV2, staging_target_path=K + "/stage",
                                                                 target_path=K + "/pods/p/block",
                                                                 volume_capability=cap(pb, block=True),
                                                                 publish_context={"devicePath": "/dev/loop1"})))
    out.append((14, "unpublish-node", pb.NodeUnpublishVolumeRequest(volume_id=NV2, target_path=K + "/pods/p/mount")))
    r = pb.NodeExpandVolumeRequest(volume_id=NV2, volume_path=K + "/stage", staging_target_path=K + "/stage",
                                   volume_capability=cap(pb))
    r.capacity_range.required_bytes = 10 << 30
    out.append((15, "node-expand", r))
    out.append((16, "stats", pb.NodeGetVolumeStatsRequest(volume_id=NV2, volume_path=K + "/stage")))
    out.append((17, "node-caps", pb.NodeGetCapabilitiesRequest()))
    out.append((18, "node-info", pb.NodeGetInfoRequest()))
    return out


def csi_handlers(pb):
    w = Writer("fuzz_csi_handlers")
    for idx, name, msg in csi_requests(pb):
        w(name, bytes([idx, 0]) + msg.SerializeToString())
        w(name + "-flags", bytes([idx, 0x0f]) + msg.SerializeToString())
    return w.n


def pbtext(pb):
    """Selector = index in csi_descriptors.inc (the order of csi.pb-c.h's externs)."""
    w = Writer("fuzz_pbtext")
    inc = os.path.join(ROOT, "build", "fuzz", "gen", "csi_descriptors.inc")
    if not os.path.exists(inc):
        print("build/fuzz/gen/csi_descriptors.inc missing: run make fuzz-build first", file=sys.stderr)
        return 0
    names = [l.strip().lstrip("&").rstrip(",") for l in open(inc)]
    index = {n: i for i, n in enumerate(names)}
    for _, name, msg in csi_requests(pb):
        # csi__v1__create_volume_request__descriptor from CreateVolumeRequest.
        snake = "".join("_" + c.lower() if c.isupper() else c for c in type(msg).__name__).lstrip("_")
        d = f"csi__v1__{snake}__descriptor"
        if d in index:
            w(name, bytes([index[d], 6]) + msg.SerializeToString())
    r = pb.NodeStageVolumeRequest(volume_id="vol-1", secrets={"password": "S3cr3tS3cr3tS3cr3tXYZ",
                                                              "key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
    w("secrets", bytes([index["csi__v1__node_stage_volume_request__descriptor"], 8]) + r.SerializeToString())
    r = pb.CreateVolumeResponse()
    r.volume.volume_id = "vol-1"
    r.volume.capacity_bytes = 1 << 40
    r.volume.accessible_topology.add().segments["zone"] = "a"
    w("create-response", bytes([index["csi__v1__create_volume_response__descriptor"], 1]) + r.SerializeToString())
    return w.n


def main():
    pb = stubs()
    counts = {
        "fuzz_ec2_xml": ec2_xml(), "fuzz_sigv4": sigv4(), "fuzz_ini": ini(), "fuzz_creds": creds(),
        "fuzz_imds": imds(), "fuzz_node_parsers": node_parsers(), "fuzz_kubeconfig": kubeconfig(),
        "fuzz_k8s_features": k8s_features(), "fuzz_sim_request": sim_request(), "fuzz_sim_state": sim_state(),
        "fuzz_log": log(), "fuzz_csi_handlers": csi_handlers(pb), "fuzz_pbtext": pbtext(pb),
    }
    for k, v in counts.items():
        print(f"{k}: {v} seeds")


if __name__ == "__main__":
    main()
