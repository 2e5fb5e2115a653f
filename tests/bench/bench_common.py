"""Shared pieces of the benchmarks: the release simulator and driver as
processes, /proc memory figures, the Python gRPC stubs, the C-core client.

Nothing here asserts anything: the benchmarks report figures for reading.
"""
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
# The binaries measured; bench.py may point them elsewhere (--driver, --sim).
DRIVER_BIN = os.path.join(BUILD, "ebs-csi-driver")
SIM_BIN = os.path.join(BUILD, "ebs-ec2-sim")

# The simulator's documented local defaults (cloud/ec2sim/README.md), not secrets.
ACCESS_KEY = "AKIAEBSSIMULATOR0000"
SECRET_KEY = "ebs-ec2-sim-local-secret-key-not-a-secret"
REGION = "us-east-1"
ZONE = "us-east-1a"
IMDS_INSTANCE = "i-0123456789abcdef0"
GIB = 1 << 30


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def stubs():
    out = os.path.join(BUILD, "py")
    os.makedirs(out, exist_ok=True)
    proto = os.path.join(ROOT, "csi-proto", "csi.proto")
    stamp = os.path.join(out, "csi_pb2.py")
    if not os.path.exists(stamp) or os.path.getmtime(stamp) < os.path.getmtime(proto):
        from grpc_tools import protoc
        protoc.main(["protoc", f"-I{ROOT}/csi-proto", "-I/usr/include", f"--python_out={out}",
                     f"--grpc_python_out={out}", proto])
    if out not in sys.path:
        sys.path.insert(0, out)


def build_c_client():
    """Compiles tests/bench/bench_client.c into build/bench/; None when it cannot."""
    src = os.path.join(ROOT, "tests", "bench", "bench_client.c")
    out = os.path.join(BUILD, "bench", "bench_client")
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
        return out
    os.makedirs(os.path.dirname(out), exist_ok=True)
    try:
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "grpc"], check=True, text=True,
                               stdout=subprocess.PIPE).stdout.split()
        subprocess.run([os.environ.get("CC", "cc"), "-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall", "-pthread", src,
                        "-o", out, *flags], check=True)
        return out
    except (OSError, subprocess.CalledProcessError) as e:
        log(f"C-core client not built ({e}); only the Python client is measured")
        return None


def c_client(binary, sock, *args, timeout=600):
    r = subprocess.run([binary, "unix:" + sock, *map(str, args)], stdout=subprocess.PIPE, text=True,
                       timeout=timeout)
    return {k: float(v) for k, v in (kv.split("=") for kv in r.stdout.split())}


def smaps(pid):
    """(rss, anon, file) in kB from /proc/PID/smaps_rollup."""
    vals = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                vals[parts[0][:-1]] = int(parts[1])
    rss = vals.get("Rss", 0)
    anon = vals.get("Anonymous", 0)
    return rss, anon, rss - anon


def threads_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def fds_of(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def mb(kb):
    return f"{kb / 1024:.2f}"


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    i = max(0, min(len(sorted_vals) - 1, int(round(len(sorted_vals) * p / 100.0)) - 1))
    return sorted_vals[i]


def median(vals):
    return statistics.median(vals) if vals else float("nan")


class Sim:
    """build/ebs-ec2-sim on a free loopback port."""

    def __init__(self, workdir, name, args=(), binary=None):
        self.binary = binary or SIM_BIN
        self.state_dir = os.path.join(workdir, name + "-state")
        self.port_file = self.state_dir + ".port"
        self.log_path = os.path.join(workdir, name + ".log")
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        self.log = open(self.log_path, "ab")
        cmd = [self.binary, "--listen", "127.0.0.1:0", "--port-file", self.port_file, "--state-dir", self.state_dir,
               *args]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        end = time.time() + 20
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                raise RuntimeError(f"ebs-ec2-sim exited {self.proc.returncode}: see {self.log_path}")
            if time.time() > end:
                raise TimeoutError("ebs-ec2-sim did not write its port file")
            time.sleep(0.01)
        with open(self.port_file) as f:
            self.url = f"http://127.0.0.1:{int(f.read().strip())}"

    def env(self):
        env = dict(os.environ)
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
                  "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            env.pop(k, None)
        env.update({"AWS_ENDPOINT_URL_EC2": self.url, "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.url,
                    "AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY})
        return env

    def _req(self, path, method="GET", body=None):
        data = json.dumps(body).encode() if body is not None else None
        r = urllib.request.Request(self.url + path, method=method, data=data)
        with urllib.request.urlopen(r, timeout=30) as resp:
            text = resp.read().decode()
        return json.loads(text) if text.strip() else None

    def stats(self):
        return self._req("/__sim/stats")

    def reset_stats(self):
        self._req("/__sim/stats", method="DELETE")

    def faults(self, **kw):
        return self._req("/__sim/faults", method="POST", body=kw)

    def ec2(self):
        """A boto3 EC2 client (one per thread: boto3 sessions are not thread-safe)."""
        import boto3
        import botocore.config
        cfg = botocore.config.Config(retries={"total_max_attempts": 10, "mode": "standard"},
                                     connect_timeout=5, read_timeout=60, max_pool_connections=4)
        return boto3.session.Session().client("ec2", endpoint_url=self.url, region_name=REGION,
                                              aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                                              config=cfg)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        release_loops(self.state_dir)
        return rc


def release_loops(prefix_dir):
    """Detaches every loop device backed by a file under prefix_dir."""
    if shutil.which("losetup") is None:
        return
    out = subprocess.run(["losetup", "--list", "--noheadings", "--raw", "--output", "NAME,BACK-FILE"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    prefix = os.path.realpath(prefix_dir) + "/"
    for line in out.splitlines():
        name, _, back = line.partition(" ")
        if back.startswith(prefix):
            subprocess.run(["losetup", "--detach", name], stderr=subprocess.DEVNULL)


def unmount_under(root):
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    root = os.path.realpath(root)
    for p in sorted((p for p in points if p == root or p.startswith(root + "/")), key=len, reverse=True):
        subprocess.run(["umount", p], stderr=subprocess.DEVNULL)
        if os.path.ismount(p):
            subprocess.run(["umount", "-l", p], stderr=subprocess.DEVNULL)


def socket_listening(path):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


class Driver:
    """build/ebs-csi-driver on a unix socket under workdir."""

    def __init__(self, workdir, name, args, env, binary=None):
        self.binary = binary or DRIVER_BIN
        self.sock = os.path.join(workdir, name, "csi.sock")
        self.log_path = os.path.join(workdir, name + ".log")
        self.log = open(self.log_path, "ab")
        if not any(a.startswith("--state-dir") for a in args):
            # Format claims stay in the work directory, not the host's /var/lib.
            args = [*args, "--state-dir", os.path.join(workdir, name + "-state")]
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen([self.binary, *args, "--endpoint", "unix://" + self.sock],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.channel = None

    def wait_listening(self, timeout=30):
        """Polls the socket itself (every ms): a gRPC channel that fails to connect
        backs off for a second or more, which would measure the client."""
        end = self.t0 + timeout
        while not socket_listening(self.sock):
            if self.proc.poll() is not None:
                raise RuntimeError(f"driver exited {self.proc.returncode}: see {self.log_path}")
            if time.monotonic() > end:
                raise TimeoutError(f"driver did not listen: see {self.log_path}")
            time.sleep(0.001)
        return time.monotonic() - self.t0

    def wait_probe_ok(self, timeout=30):
        """Seconds from exec to the first Probe answered OK (and ready, when said)."""
        import grpc
        import csi_pb2
        import csi_pb2_grpc
        self.wait_listening(timeout)
        ch = grpc.insecure_channel("unix://" + self.sock)
        stub = csi_pb2_grpc.IdentityStub(ch)
        end = self.t0 + timeout
        try:
            while True:
                try:
                    r = stub.Probe(csi_pb2.ProbeRequest(), timeout=5)
                    if not r.HasField("ready") or r.ready.value:
                        return time.monotonic() - self.t0
                except grpc.RpcError:
                    pass
                if time.monotonic() > end:
                    raise TimeoutError(f"Probe never OK: see {self.log_path}")
                time.sleep(0.002)
        finally:
            ch.close()

    def connect(self):
        import grpc
        self.channel = grpc.insecure_channel("unix://" + self.sock)
        return self.channel

    def stop(self, timeout=60):
        if self.channel is not None:
            self.channel.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc


def instance_ids(n, prefix="0b"):
    return [f"i-{prefix}{i:015x}" for i in range(n)]


def instances_spec(ids, itype="m7i.large", zone=ZONE):
    return ",".join(f"{i}:{zone}:{itype}" for i in ids)


def retrying(fn, *a, tries=30, **kw):
    """Calls a gRPC method the way the CSI sidecars do: again on the retriable codes."""
    import grpc
    delay = 0.1
    for n in range(tries):
        try:
            return fn(*a, **kw)
        except grpc.RpcError as e:
            if n == tries - 1 or e.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED,
                                                  grpc.StatusCode.DEADLINE_EXCEEDED,
                                                  grpc.StatusCode.RESOURCE_EXHAUSTED):
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5)
