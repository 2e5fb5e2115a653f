"""Issue 3's independent check of our SigV4: botocore (Debian python3-botocore, the
signer of the AWS SDK for Python) re-signs every request the driver sends and
must produce the very same Authorization header, byte for byte.

A small HTTP server in this test plays EC2 on 127.0.0.1. For every request it
receives it builds the request a botocore EC2 client would sign — same method,
URL, body, the Content-Type botocore's EC2 serializer uses, the credentials the
test gave the driver, the session token if any — and signs it with
botocore.auth.SigV4Auth at the request's own X-Amz-Date (botocore takes "now"
from datetime.datetime.utcnow in botocore.auth, which is patched to that instant
while signing). It answers with minimal valid EC2 XML: DryRunOperation for
Probe's DescribeAvailabilityZones DryRun, and enough CreateVolume /
DescribeVolumes / DeleteVolume / DescribeSnapshots for the driver's flows.

The driver (controller mode, AWS_ENDPOINT_URL_EC2 = this server, IMDS from the
session simulator) is driven through Probe, a CreateVolume whose tags hold
spaces, Unicode and URL-special characters (so the form encoder and the
canonical payload hash are exercised on hard input), ListSnapshots and
DeleteVolume — once with plain keys and once with AWS_SESSION_TOKEN. Its logs,
at the highest verbosity, must contain neither the secret key nor the token.
"""
import datetime
import http.server
import threading
import urllib.parse
import uuid
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import csi_pb2
import csi_pb2_grpc
from ctl_helpers import C, code_of, create_req

ACCESS_KEY = "AKIDEXAMPLEBOTOCORE1"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzSigV4/test+key"
TOKEN = ("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+test/session+token="
         "AiEA7zYq8Z0lU3Vf1x+E9Vb2X0/TOKENTOKENTOKEN==")
REGION = "us-east-1"
# What botocore's EC2 (query protocol) serializer sends, and so what it signs.
BOTOCORE_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
NS = "http://ec2.amazonaws.com/doc/2016-11-15/"

TAGS = {
    "Name": "my volume été ☃ 日本語",
    "key with spaces": "value with  two  spaces",
    "special": "a+b&c=d/e:f@g %20 'q' \"dq\" ~!*();,$#[]?<>",
    "ключ": "значение",
}

_SIGN_LOCK = threading.Lock()


def botocore_authorization(method, url, body, amz_date, token):
    """The Authorization header botocore's SigV4Auth computes for this request at
    the instant amz_date (YYYYMMDDTHHMMSSZ)."""
    frozen = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
    req = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": BOTOCORE_CONTENT_TYPE})
    with _SIGN_LOCK, mock.patch("botocore.auth.datetime") as dt:
        dt.datetime.utcnow.return_value = frozen
        dt.datetime.strptime = datetime.datetime.strptime
        SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, token), "ec2", REGION).add_auth(req)
    assert req.headers["X-Amz-Date"] == amz_date
    return req.headers["Authorization"]


def xml_error(code, msg):
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
            f"<Message>{msg}</Message></Error></Errors><RequestID>{uuid.uuid4()}</RequestID></Response>")


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


class FakeEC2:
    """EC2 on 127.0.0.1 that checks each request's signature against botocore's."""

    def __init__(self, token):
        self.token = token
        self.seen = []        # (action, matched, driver Authorization, botocore Authorization, headers)
        self.forms = []       # parsed forms, in order
        self.volumes = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, code, text):
                body = text.encode()
                self.send_response(code)
                self.send_header("Content-Type", "text/xml;charset=UTF-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                with outer.lock:
                    outer.seen.append(("GET " + self.path, False, None, None, dict(self.headers)))
                self._send(400, xml_error("UnsupportedMethod", "the driver must POST"))

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                host = self.headers.get("Host", "")
                amz_date = self.headers.get("X-Amz-Date", "")
                mine = self.headers.get("Authorization", "")
                try:
                    theirs = botocore_authorization("POST", f"http://{host}{self.path}", body, amz_date, outer.token)
                except Exception as e:  # a missing or malformed X-Amz-Date
                    theirs = f"<botocore could not sign: {e!r}>"
                form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True,
                                                                   strict_parsing=False).items()}
                action = form.get("Action", "?")
                with outer.lock:
                    outer.seen.append((action, mine == theirs, mine, theirs, dict(self.headers)))
                    outer.forms.append(form)
                code, text = outer.answer(action, form)
                self._send(code, text)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # ---- EC2 -----------------------------------------------------------------------------

    def volume_xml(self, v):
        tags = "".join(f"<item><key>{esc(k)}</key><value>{esc(val)}</value></item>" for k, val in v["tags"].items())
        return (f"<volumeId>{v['id']}</volumeId><size>{v['size']}</size><snapshotId/>"
                f"<availabilityZone>{v['zone']}</availabilityZone><status>{v['state']}</status>"
                f"<createTime>{v['created']}</createTime><attachmentSet/><tagSet>{tags}</tagSet>"
                f"<volumeType>{v['type']}</volumeType><iops>3000</iops><throughput>125</throughput>"
                f"<encrypted>false</encrypted><multiAttachEnabled>false</multiAttachEnabled>")

    def answer(self, action, form):
        rid = f"<requestId>{uuid.uuid4()}</requestId>"
        if action == "DescribeAvailabilityZones":
            if form.get("DryRun") == "true":
                return 412, xml_error("DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
            zones = "".join(f"<item><zoneName>us-east-1{z}</zoneName><zoneId>use1-az{i + 1}</zoneId>"
                            f"<zoneState>available</zoneState><regionName>us-east-1</regionName>"
                            f"<zoneType>availability-zone</zoneType></item>" for i, z in enumerate("abc"))
            return 200, f'<DescribeAvailabilityZonesResponse xmlns="{NS}">{rid}' \
                        f"<availabilityZoneInfo>{zones}</availabilityZoneInfo></DescribeAvailabilityZonesResponse>"
        if action == "CreateVolume":
            tags, n = {}, 1
            while f"TagSpecification.1.Tag.{n}.Key" in form:
                tags[form[f"TagSpecification.1.Tag.{n}.Key"]] = form.get(f"TagSpecification.1.Tag.{n}.Value", "")
                n += 1
            with self.lock:
                for v in self.volumes.values():  # ClientToken idempotency
                    if v["token"] == form.get("ClientToken"):
                        break
                else:
                    v = {"id": "vol-" + uuid.uuid4().hex[:17], "size": int(form.get("Size", "1")),
                         "zone": form.get("AvailabilityZone", "us-east-1a"), "state": "creating",
                         "type": form.get("VolumeType", "gp3"), "tags": tags, "token": form.get("ClientToken"),
                         "created": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.000Z")}
                    self.volumes[v["id"]] = v
                body = self.volume_xml(v)
                v["state"] = "available"  # the next DescribeVolumes sees it ready
            return 200, f'<CreateVolumeResponse xmlns="{NS}">{rid}{body}</CreateVolumeResponse>'
        if action == "DescribeVolumes":
            ids = [v for k, v in form.items() if k.startswith("VolumeId.")]
            with self.lock:
                if ids:
                    missing = [i for i in ids if i not in self.volumes]
                    if missing:
                        return 400, xml_error("InvalidVolume.NotFound", f"The volume '{missing[0]}' does not exist.")
                    vols = [self.volumes[i] for i in ids]
                else:
                    vols = list(self.volumes.values())
                    if form.get("Filter.1.Name") == "tag:CSIVolumeName":
                        names = {v for k, v in form.items() if k.startswith("Filter.1.Value.")}
                        vols = [v for v in vols if v["tags"].get("CSIVolumeName") in names]
                items = "".join(f"<item>{self.volume_xml(v)}</item>" for v in vols)
            return 200, f'<DescribeVolumesResponse xmlns="{NS}">{rid}<volumeSet>{items}</volumeSet>' \
                        f"</DescribeVolumesResponse>"
        if action == "DeleteVolume":
            with self.lock:
                if self.volumes.pop(form.get("VolumeId"), None) is None:
                    return 400, xml_error("InvalidVolume.NotFound", "The volume does not exist.")
            return 200, f'<DeleteVolumeResponse xmlns="{NS}">{rid}<return>true</return></DeleteVolumeResponse>'
        if action == "DescribeSnapshots":
            return 200, f'<DescribeSnapshotsResponse xmlns="{NS}">{rid}<snapshotSet/></DescribeSnapshotsResponse>'
        return 400, xml_error("InvalidAction", f"The action {action} is not valid for this stub.")


@pytest.fixture
def fake_ec2():
    servers = []

    def make(token):
        s = FakeEC2(token)
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.close()


@pytest.mark.parametrize("with_token", [False, True], ids=["keys", "session-token"])
def test_every_request_signed_as_botocore_signs_it(start_driver, fake_ec2, with_token):
    token = TOKEN if with_token else None
    ec2 = fake_ec2(token)
    env = {"AWS_ENDPOINT_URL_EC2": ec2.url, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
           "AWS_REGION": REGION}
    if token:
        env["AWS_SESSION_TOKEN"] = token
    d = start_driver("controller", "--v=5", env=env)
    ctl = csi_pb2_grpc.ControllerStub(d.channel)

    r = d.identity().Probe(csi_pb2.ProbeRequest(), timeout=15)
    assert r.ready.value is True
    params = {f"tagSpecification_{i + 1}": f"{k}={v}" for i, (k, v) in enumerate(TAGS.items())}
    name = "pvc-sigv4-" + uuid.uuid4().hex[:8]
    vol = ctl.CreateVolume(create_req(name, 3, params, zone="us-east-1a"), timeout=60).volume
    assert vol.volume_id in ec2.volumes and vol.capacity_bytes == 3 << 30
    ctl.ListSnapshots(csi_pb2.ListSnapshotsRequest(max_entries=2), timeout=30)
    ctl.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=vol.volume_id), timeout=30)
    code, details, _ = code_of(ctl.DeleteVolume, csi_pb2.DeleteVolumeRequest(volume_id=vol.volume_id), timeout=30)
    assert code == C.OK, details  # NotFound is success
    rc = d.stop()
    assert rc == 0, d.output()[-3000:]

    actions = [s[0] for s in ec2.seen]
    for needed in ("DescribeAvailabilityZones", "CreateVolume", "DescribeVolumes", "DescribeSnapshots",
                   "DeleteVolume"):
        assert needed in actions, actions
    bad = [(a, mine, theirs) for a, ok, mine, theirs, _ in ec2.seen if not ok]
    assert not bad, "signatures differ from botocore's:\n" + "\n".join(f"{a}:\n  ours     {m}\n  botocore {t}"
                                                                      for a, m, t in bad)
    for action, _, _, _, headers in ec2.seen:
        h = {k.lower(): v for k, v in headers.items()}
        assert h.get("content-type") == BOTOCORE_CONTENT_TYPE, (action, h.get("content-type"))
        assert h.get("host") == ec2.url[len("http://"):]
        if token:
            assert h.get("x-amz-security-token") == token, action
            assert "x-amz-security-token" in h["authorization"].split("SignedHeaders=")[1].split(",")[0]
        else:
            assert "x-amz-security-token" not in h, action
        assert h["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
        assert h.get("user-agent", "").startswith("ebs-csi-c/"), h.get("user-agent")

    # The tags reached EC2 exactly, through the form encoding.
    create = next(f for f in ec2.forms if f.get("Action") == "CreateVolume")
    sent = {create[f"TagSpecification.1.Tag.{n}.Key"]: create[f"TagSpecification.1.Tag.{n}.Value"]
            for n in range(1, 100) if f"TagSpecification.1.Tag.{n}.Key" in create}
    for k, v in TAGS.items():
        assert sent.get(k) == v, (k, sent.get(k))
    assert sent["CSIVolumeName"] == name

    # No secret in the logs of the whole run (at -v 5: requests, responses, EC2 calls).
    out = d.output()
    assert "GRPC call" in out and "CreateVolume" in out  # the log is really verbose
    for secret in filter(None, (SECRET_KEY, token)):
        for form in {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}:
            assert form not in out, "a secret reached the driver's log"
        assert secret[:16] not in out and secret[-16:] not in out, "part of a secret reached the driver's log"
