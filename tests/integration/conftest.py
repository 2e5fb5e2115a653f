"""Fixtures for the integration tests: Python gRPC stubs generated from our own
csi.proto at test time, and a driver process on a temporary unix socket.

The daemon under test is the sanitizer build (build/asan/ebs-csi-driver) unless
EBS_DRIVER names another binary. Every daemon started here is stopped with
SIGTERM at teardown and must exit 0: an ASan/UBSan report or a leak fails the test.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("EBS_BUILD", os.path.join(ROOT, "build"))
DRIVER = os.environ.get("EBS_DRIVER", os.path.join(BUILD, "asan", "ebs-csi-driver"))


def _gen_stubs():
    out = os.path.join(BUILD, "py")
    os.makedirs(out, exist_ok=True)
    proto = os.path.join(ROOT, "csi-proto", "csi.proto")
    stamp = os.path.join(out, "csi_pb2.py")
    if not os.path.exists(stamp) or os.path.getmtime(stamp) < os.path.getmtime(proto):
        from grpc_tools import protoc
        rc = protoc.main(["protoc", f"-I{os.path.join(ROOT, 'csi-proto')}", "-I/usr/include",
                          f"--python_out={out}", f"--grpc_python_out={out}", proto])
        assert rc == 0, "protoc failed on csi-proto/csi.proto"
    if out not in sys.path:
        sys.path.insert(0, out)


_gen_stubs()
import grpc  # noqa: E402
import csi_pb2  # noqa: E402,F401
import csi_pb2_grpc  # noqa: E402,F401


class FakeIMDS:
    """A minimal IMDSv2 on 127.0.0.1, for tests that need an IMDS they control."""

    def __init__(self, instance_id="i-0123456789abcdef0", instance_type="m5.large", zone="us-east-1a",
                 zone_id="use1-az1", macs=1, block_devices=("ami", "root")):
        import http.server
        import threading
        meta = {
            "instance-id": instance_id,
            "instance-type": instance_type,
            "placement/region": zone[:-1],
            "placement/availability-zone": zone,
            "placement/availability-zone-id": zone_id,
            "network/interfaces/macs/": "".join(f"0e:00:00:00:00:{i:02x}/\n" for i in range(macs)),
            "block-device-mapping/": "\n".join(block_devices),
        }
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, code, body=b""):
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self):
                outer.requests.append(("PUT", self.path))
                if self.path == "/latest/api/token":
                    return self._send(200, b"test-token")
                self._send(404)

            def do_GET(self):
                outer.requests.append(("GET", self.path))
                if self.headers.get("X-aws-ec2-metadata-token") != "test-token":
                    return self._send(401)
                key = self.path[len("/latest/meta-data/"):] if self.path.startswith("/latest/meta-data/") else None
                if key in meta:
                    return self._send(200, meta[key].encode())
                if self.path == "/latest/dynamic/instance-identity/document":
                    doc = json.dumps({"instanceId": instance_id, "instanceType": instance_type,
                                      "availabilityZone": zone, "region": zone[:-1]})
                    return self._send(200, doc.encode())
                self._send(404)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session", autouse=True)
def aws_env(tmp_path_factory):
    """Every driver a test starts, by fixture or by hand, reaches AWS through one
    ebs-ec2-sim (EC2 + IMDS) for the whole session, with the standard AWS
    environment variables, exactly as it would reach AWS."""
    from ec2sim_fixture import ACCESS_KEY, SECRET_KEY, Sim, release_loops
    d = tmp_path_factory.mktemp("aws")
    sim = Sim(d / "state", d / "sim.log", ["--instances", "i-0123456789abcdef0:us-east-1a:m5.large"])
    env = {
        "AWS_ENDPOINT_URL_EC2": sim.url,
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": sim.url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    }
    old = {k: os.environ.get(k) for k in env}
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        os.environ.pop(k, None)
    os.environ.update(env)
    yield sim
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    rc = sim.stop()
    release_loops(str(d / "state"))
    assert rc == 0, "ebs-ec2-sim exited %d:\n%s" % (rc, sim.output()[-4000:])


def wait_for_socket(path, proc, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"driver exited with {proc.returncode} before listening")
        if os.path.exists(path):
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                return
            except OSError:
                pass
            finally:
                s.close()
        time.sleep(0.02)
    raise TimeoutError(f"driver did not listen on {path}")


class Driver:
    def __init__(self, args, sock_dir, log_path, env_extra=None):
        self.sock = os.path.join(sock_dir, "plugin", "csi.sock")
        self.endpoint = "unix://" + self.sock
        self.log_path = log_path
        self.log = open(log_path, "wb")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        env.update(env_extra or {})
        if not any(a.startswith("--state-dir") for a in args):
            # Format claims stay in the test's directory, not the host's /var/lib.
            args = [*args, "--state-dir", os.path.join(sock_dir, "state")]
        self.proc = subprocess.Popen([DRIVER, *args, "--endpoint", self.endpoint], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        wait_for_socket(self.sock, self.proc)
        self.channel = grpc.insecure_channel("unix://" + self.sock)

    def identity(self):
        return csi_pb2_grpc.IdentityStub(self.channel)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        self.channel.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


@pytest.fixture
def start_driver(tmp_path):
    """Factory: start_driver(*args, env=None) → Driver, reaching EC2 and IMDS through
    the session's simulator; all are stopped at teardown and must exit 0."""
    started = []

    def start(*args, env=None):
        d = Driver(list(args), str(tmp_path / f"d{len(started)}"), str(tmp_path / f"driver{len(started)}.log"), env)
        started.append(d)
        return d

    yield start
    for d in started:
        if d.proc.poll() is None or not d.log.closed:
            rc = d.stop()
            assert rc == 0, f"driver exited {rc} at teardown:\n{d.output()[-4000:]}"


@pytest.fixture
def driver(start_driver):
    return start_driver("all")


def run_driver(*args, timeout=10, env=None):
    """Runs the driver to completion (for flag handling) and returns (rc, stdout, stderr)."""
    r = subprocess.run([DRIVER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       env=dict(os.environ, **(env or {})))
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def version_info():
    rc, out, _ = run_driver("--version")
    assert rc == 0
    return json.loads(out)
