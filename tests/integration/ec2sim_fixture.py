"""Fixtures for the ebs-ec2-sim integration tests: a simulator process on a free
loopback port with a temporary state directory, boto3 clients pointed at it, and a
raw SigV4-signed request helper (for what boto3 cannot send: unknown parameters,
CopyVolumes, which Debian's botocore does not know, GET requests).

The simulator under test is the sanitizer build (build/asan/ebs-ec2-sim) unless
EBS_EC2SIM names another binary. Every simulator started here is stopped with
SIGTERM at teardown and must exit 0 (an ASan/UBSan report or a leak fails the test);
any loop device backed by its state directory is detached even when a test failed.
"""
import os
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import boto3
import botocore.config
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("EBS_BUILD", os.path.join(ROOT, "build"))
SIM = os.environ.get("EBS_EC2SIM", os.path.join(BUILD, "asan", "ebs-ec2-sim"))

ACCESS_KEY = "AKIAEBSSIMULATOR0000"
SECRET_KEY = "ebs-ec2-sim-local-secret-key-not-a-secret"
REGION = "us-east-1"
INSTANCE = "i-0123456789abcdef0"
INSTANCE_B = "i-0fedcba9876543210"
INSTANCES = f"{INSTANCE}:us-east-1a:m5.large:enis=2:ebs=1,{INSTANCE_B}:us-east-1b:m7i.large"


class Sim:
    def __init__(self, state_dir, log_path, args):
        self.state_dir = str(state_dir)
        self.log_path = str(log_path)
        self.port_file = self.state_dir + ".port"
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        self.log = open(self.log_path, "ab")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        cmd = [SIM, "--listen", "127.0.0.1:0", "--port-file", self.port_file, "--state-dir", self.state_dir,
               "--instances", INSTANCES, "--delay-ms", "150", *args]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        end = time.time() + 20
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                raise RuntimeError(f"ebs-ec2-sim exited {self.proc.returncode}:\n{self.output()}")
            if time.time() > end:
                raise TimeoutError("ebs-ec2-sim did not write its port file")
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read().strip())
        self.url = f"http://127.0.0.1:{self.port}"

    def client(self, access_key=ACCESS_KEY, secret_key=SECRET_KEY, retries=1, **kw):
        cfg = botocore.config.Config(retries={"total_max_attempts": retries, "mode": "standard"},
                                     connect_timeout=5, read_timeout=30)
        # A session per client: boto3's default session is not thread-safe.
        return boto3.session.Session().client("ec2", endpoint_url=self.url, region_name=REGION,
                                              aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                                              config=cfg, **kw)

    def raw(self, params, method="POST", secret_key=SECRET_KEY, region=REGION):
        """Sends a SigV4-signed EC2 request; returns (HTTP status, body text, headers)."""
        params = {"Version": "2016-11-15", **params}
        body = urllib.parse.urlencode(params)
        if method == "POST":
            req = AWSRequest(method="POST", url=self.url + "/", data=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        else:
            req = AWSRequest(method="GET", url=self.url + "/?" + body)
        SigV4Auth(Credentials(ACCESS_KEY, secret_key), "ec2", region).add_auth(req)
        p = req.prepare()
        r = urllib.request.Request(p.url, data=body.encode() if method == "POST" else None,
                                   headers=dict(p.headers), method=method)
        return http(r)

    def get(self, path, headers=None, method="GET", data=None):
        r = urllib.request.Request(self.url + path, headers=headers or {}, method=method, data=data)
        return http(r)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        if not self.log.closed:
            self.log.close()
        return rc

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


def http(req, timeout=30):
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


def release_loops(state_dir):
    """Detaches every loop device backed by a file under state_dir (test cleanup)."""
    try:
        out = subprocess.run(["losetup", "--list", "--noheadings", "--raw", "--output", "NAME,BACK-FILE"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    except FileNotFoundError:
        return
    prefix = os.path.realpath(state_dir) + "/"
    for line in out.splitlines():
        name, _, back = line.partition(" ")
        if back.startswith(prefix):
            subprocess.run(["losetup", "--detach", name], stderr=subprocess.DEVNULL)


@pytest.fixture
def start_sim(tmp_path):
    """Factory: start_sim(*args, state_dir=None) → Sim. Each is stopped at teardown and must exit 0."""
    started = []

    def start(*args, state_dir=None):
        sd = state_dir or (tmp_path / "state")
        s = Sim(sd, tmp_path / f"sim{len(started)}.log", list(args))
        started.append(s)
        return s

    yield start
    failures = []
    for s in started:
        if s.proc.poll() is None or not s.log.closed:
            rc = s.stop()
            if rc != 0:
                failures.append(f"ebs-ec2-sim exited {rc} at teardown:\n{s.output()[-6000:]}")
        elif s.proc.returncode not in (0,) and not getattr(s, "expect_fail", False):
            failures.append(f"ebs-ec2-sim exited {s.proc.returncode}:\n{s.output()[-6000:]}")
    for s in started:
        release_loops(s.state_dir)
    assert not failures, "\n".join(failures)


@pytest.fixture
def sim(start_sim):
    return start_sim()


@pytest.fixture
def ec2(sim):
    return sim.client()


def wait_for(pred, timeout=15.0, step=0.05, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise TimeoutError(f"timed out waiting for {what}")


def volume(ec2, vid):
    return ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]


def wait_volume(ec2, vid, state, timeout=15.0):
    return wait_for(lambda: (v := volume(ec2, vid))["State"] == state and v, timeout, what=f"{vid} {state}")


def wait_attachment(ec2, vid, state, timeout=15.0):
    def check():
        v = volume(ec2, vid)
        atts = v["Attachments"]
        if state == "detached":
            return not atts and v
        return atts and atts[0]["State"] == state and v
    return wait_for(check, timeout, what=f"{vid} attachment {state}")
