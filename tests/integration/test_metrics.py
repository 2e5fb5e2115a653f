"""Prometheus metrics of the driver on --http-endpoint: the exposition over real HTTP
(promtool accepts it; process_*, CSI call and NVMe collector series present and
moving with the calls made), /healthz, bad flags and a busy port refused at start,
and a real Prometheus (Debian's /usr/bin/prometheus) on loopback scraping the
driver every second until its query API returns the series.

Skipped, with the reason, while the driver has no --http-endpoint flag."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import grpc
import pytest

import csi_pb2
import csi_pb2_grpc
from conftest import run_driver
from ec2sim_fixture import ACCESS_KEY, REGION, SECRET_KEY, sim, start_sim  # noqa: F401

PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"
INSTANCE = "i-0123456789abcdef0"  # conftest's FakeIMDS
PROBE = "/csi.v1.Identity/Probe"


@pytest.fixture(scope="module", autouse=True)
def needs_http_endpoint():
    rc, out, _ = run_driver("-h")
    if "--http-endpoint" not in out:
        pytest.skip("ebs-csi-driver has no --http-endpoint flag yet (cmd wiring of the metrics server pending)")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(url, timeout=5):
    """Returns (status, content-type, body text)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def wait_http(url, proc, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"driver exited with {proc.returncode}")
        try:
            return http_get(url, timeout=2)
        except (urllib.error.URLError, ConnectionError, socket.timeout):
            time.sleep(0.05)
    raise TimeoutError(f"nothing answers {url}")


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset(labels)): value} of every sample; HELP/TYPE lines checked for shape."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* ", line), line
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(samples, name, **labels):
    want = set(labels.items())
    vals = [v for (n, ls), v in samples.items() if n == name and want <= set(ls)]
    assert vals, f"no sample {name}{labels}"
    return sum(vals)


def promtool_check(text):
    if not os.access(PROMTOOL, os.X_OK):
        pytest.skip("promtool not installed (Debian package prometheus)")
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    assert r.returncode == 0, r.stdout.decode() + "\n" + text


def start_with_metrics(start_driver, mode="all", *extra):
    port = free_port()
    d = start_driver(mode, f"--http-endpoint=127.0.0.1:{port}", *extra)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/healthz", d.proc)
    return d, base


def test_metrics_endpoint(start_driver, tmp_path):
    prefix = str(tmp_path / "csi")
    d, base = start_with_metrics(start_driver, "all", f"--csi-mount-point-prefix={prefix}")
    status, ctype, body = http_get(base + "/healthz")
    assert (status, body) == (200, "ok")
    status, _, _ = http_get(base + "/nothing-here")
    assert status == 404

    status, ctype, text = http_get(base + "/metrics")
    assert status == 200
    assert ctype == "text/plain; version=0.0.4; charset=utf-8"
    promtool_check(text)
    before = parse(text)
    for name in ("process_resident_memory_bytes", "process_virtual_memory_bytes", "process_open_fds",
                 "process_max_fds", "process_start_time_seconds", "process_cpu_seconds_total", "process_threads"):
        assert value(before, name) > 0, name
    assert abs(value(before, "process_start_time_seconds") - time.time()) < 600
    assert value(before, "process_threads") >= 3  # gRPC, workers, HTTP
    # node (all mode): the NVMe collector runs at each scrape, labelled with the instance
    assert value(before, "aws_ebs_csi_nvme_collector_scrapes_total", instance_id=INSTANCE) >= 1
    assert value(before, "aws_ebs_csi_nvme_collector_errors_total", instance_id=INSTANCE) == 0

    ident = d.identity()
    for _ in range(3):
        ident.Probe(csi_pb2.ProbeRequest(), timeout=5)
    ident.GetPluginInfo(csi_pb2.GetPluginInfoRequest(), timeout=5)
    csi_pb2_grpc.NodeStub(d.channel).NodeGetInfo(csi_pb2.NodeGetInfoRequest(), timeout=5)
    with pytest.raises(grpc.RpcError) as e:
        d.channel.unary_unary("/csi.v1.Identity/NoSuchMethod")(b"", timeout=5)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    with pytest.raises(grpc.RpcError) as e:
        csi_pb2_grpc.NodeStub(d.channel).NodeUnstageVolume(csi_pb2.NodeUnstageVolumeRequest(), timeout=5)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    # The observer runs after the answer is sent: give it a moment (slower than
    # the 5/s rate limit, which would answer 429).
    end = time.time() + 5
    while True:
        status, _, text = http_get(base + "/metrics")
        assert status == 200, text
        after = parse(text)
        try:
            assert value(after, "csi_plugin_operations_total", method_name=PROBE, grpc_status_code="OK") == 3
            break
        except AssertionError:
            if time.time() > end:
                raise
            time.sleep(0.3)
    promtool_check(text)
    drv = {"driver_name": "ebs.csi.aws.com"}
    assert value(after, "csi_plugin_operations_seconds_count", method_name=PROBE, grpc_status_code="OK", **drv) == 3
    assert value(after, "csi_plugin_operations_seconds_bucket", method_name=PROBE, grpc_status_code="OK",
                 le="+Inf") == 3
    assert value(after, "csi_plugin_operations_total", method_name="/csi.v1.Identity/GetPluginInfo",
                 grpc_status_code="OK") == 1
    assert value(after, "csi_plugin_operations_total", method_name="/csi.v1.Node/NodeGetInfo",
                 grpc_status_code="OK") == 1
    assert value(after, "csi_plugin_operations_total", method_name="/csi.v1.Node/NodeUnstageVolume",
                 grpc_status_code="InvalidArgument") == 1
    # an invented path is never a series of its own
    assert value(after, "csi_plugin_operations_total", method_name="(unknown)",
                 grpc_status_code="Unimplemented") == 1
    assert not [k for k in after if ("method_name", "/csi.v1.Identity/NoSuchMethod") in k[1]]
    assert value(after, "aws_ebs_csi_nvme_collector_scrapes_total") > value(before, "aws_ebs_csi_nvme_collector_scrapes_total")


def test_ec2_series_in_controller_mode_only(start_driver):
    _, base = start_with_metrics(start_driver, "controller")
    samples = parse(http_get(base + "/metrics")[2])
    # upstream's 16 pre-initialised duration series, at zero
    counts = {dict(ls)["request"]: v for (n, ls), v in samples.items()
              if n == "aws_ebs_csi_api_request_duration_seconds_count"}
    assert len(counts) == 16 and set(counts.values()) == {0.0}
    assert "CreateVolume" in counts and "EnableFastSnapshotRestores" in counts
    assert not [k for k in samples if k[0].startswith("aws_ebs_csi_nvme_collector")]
    d, base = start_with_metrics(start_driver, "node")
    samples = parse(http_get(base + "/metrics")[2])
    assert not [k for k in samples if k[0].startswith("aws_ebs_csi_api_request")]


def test_ec2_requests_per_csi_operation(start_driver, sim):
    """CreateVolume against ebs-ec2-sim: the EC2 requests it cost show by CSI method."""
    env = {"AWS_ENDPOINT_URL_EC2": sim.url, "AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
           "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    port = free_port()
    d = start_driver("controller", f"--http-endpoint=127.0.0.1:{port}", env=env)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/healthz", d.proc)
    req = csi_pb2.CreateVolumeRequest(
        name="pvc-metrics-1", capacity_range=csi_pb2.CapacityRange(required_bytes=1 << 30),
        volume_capabilities=[csi_pb2.VolumeCapability(
            mount=csi_pb2.VolumeCapability.MountVolume(),
            access_mode=csi_pb2.VolumeCapability.AccessMode(mode=csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER))])
    try:
        csi_pb2_grpc.ControllerStub(d.channel).CreateVolume(req, timeout=60)
    except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.UNIMPLEMENTED:
            pytest.skip("the controller service is not wired into ebs-csi-driver yet")
        raise
    create = "/csi.v1.Controller/CreateVolume"
    samples = parse(http_get(base + "/metrics")[2])
    assert value(samples, "ebs_csi_ec2_requests_total", method_name=create, request="CreateVolume") >= 1
    assert value(samples, "aws_ebs_csi_api_request_duration_seconds_count", request="CreateVolume") >= 1
    assert value(samples, "csi_plugin_operations_total", method_name=create, grpc_status_code="OK") == 1
    promtool_check(http_get(base + "/metrics")[2])


def test_metrics_off_without_flag(start_driver):
    d = start_driver("node")
    assert "serving metrics" not in d.output()


def test_bad_http_endpoint_is_a_flag_error():
    rc, _, err = run_driver("node", "--http-endpoint=nonsense")
    assert rc == 2 and "--http-endpoint" in err
    rc, _, err = run_driver("node", "--http-endpoint=127.0.0.1:99999")
    assert rc == 2 and "--http-endpoint" in err


def test_busy_port_stops_the_driver(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        rc, out, err = run_driver("node", f"--http-endpoint=127.0.0.1:{port}",
                                  "--endpoint", f"unix://{tmp_path}/csi.sock", timeout=60)
    finally:
        busy.close()
    assert rc == 1
    assert "--http-endpoint" in err and "in use" in err
    assert not os.path.exists(tmp_path / "csi.sock")


def test_prometheus_scrapes_the_driver(start_driver):
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.skip("prometheus not installed (Debian package prometheus)")
    d, base = start_with_metrics(start_driver, "all")
    target = base[len("http://"):]
    work = tempfile.mkdtemp(prefix="ebs-prom-")
    prom = log = None
    try:
        cfg = os.path.join(work, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n"
                    "  - job_name: ebs-csi\n"
                    f"    static_configs:\n      - targets: ['{target}']\n")
        pport = free_port()
        log = open(os.path.join(work, "prometheus.log"), "wb")
        prom = subprocess.Popen([PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={work}/data",
                                 f"--web.listen-address=127.0.0.1:{pport}", "--log.level=warn"],
                                stdout=log, stderr=subprocess.STDOUT, cwd=work)
        api = f"http://127.0.0.1:{pport}/api/v1/query?query="

        def query(q):
            status, _, body = http_get(api + urllib.parse.quote(q), timeout=5)
            assert status == 200, body
            doc = json.loads(body)
            assert doc["status"] == "success", doc
            return doc["data"]["result"]

        d.identity().Probe(csi_pb2.ProbeRequest(), timeout=5)
        end = time.time() + 90
        result = []
        while time.time() < end:
            if prom.poll() is not None:
                break
            try:
                result = query("process_resident_memory_bytes")
                if result:
                    break
            except (urllib.error.URLError, ConnectionError, socket.timeout, AssertionError):
                pass
            time.sleep(0.5)
        if not result:
            log.flush()
            pytest.fail("Prometheus never returned process_resident_memory_bytes:\n"
                        + open(os.path.join(work, "prometheus.log"), errors="replace").read()[-3000:])
        assert result[0]["metric"]["job"] == "ebs-csi"
        assert result[0]["metric"]["instance"] == target
        assert float(result[0]["value"][1]) > 1e6
        up = query('up{job="ebs-csi"}')
        assert up and up[0]["value"][1] == "1"
        probes = query(f'csi_plugin_operations_total{{method_name="{PROBE}",grpc_status_code="OK"}}')
        assert probes and float(probes[0]["value"][1]) >= 1
        nvme = query("aws_ebs_csi_nvme_collector_scrapes_total")
        assert nvme and nvme[0]["metric"]["instance_id"] == INSTANCE
    finally:
        if prom is not None and prom.poll() is None:
            prom.send_signal(signal.SIGTERM)
            try:
                prom.wait(timeout=30)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait()
        if log is not None:
            log.close()
        shutil.rmtree(work, ignore_errors=True)
    assert not os.path.exists(work)
