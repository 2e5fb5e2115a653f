"""Processes for the stress runs: the simulator and the driver as child processes
(each in its own session, so kill -9 can take a whole process group the way a
container runtime does), CSI stubs generated from our csi.proto, and the /proc,
loop-device and mount-table helpers the invariant checks use.

Everything started here is recorded in a Procs registry whose close() stops it
(SIGTERM, then SIGKILL), detaches loop devices backed by its state directories
and lazily unmounts whatever is left under its temporary root — it is meant to
run from a finally block or a fixture teardown, whatever the test did.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("EBS_BUILD", os.path.join(ROOT, "build"))

ACCESS_KEY = "AKIAEBSSIMULATOR0000"
SECRET_KEY = "ebs-ec2-sim-local-secret-key-not-a-secret"
REGION = "us-east-1"
NODE = "i-0123456789abcdef0"          # the instance the driver's IMDS answers for
OTHER = "i-0fedcba9876543210"         # a second instance in the same zone (double-attach attempts)
INSTANCES = f"{NODE}:us-east-1a:m5.large,{OTHER}:us-east-1a:m5.large"


def gen_stubs():
    """Generates csi_pb2 / csi_pb2_grpc into build/py (as conftest.py does) and imports them."""
    out = os.path.join(BUILD, "py")
    os.makedirs(out, exist_ok=True)
    proto = os.path.join(ROOT, "csi-proto", "csi.proto")
    stamp = os.path.join(out, "csi_pb2_grpc.py")
    if not os.path.exists(stamp) or os.path.getmtime(stamp) < os.path.getmtime(proto):
        from grpc_tools import protoc
        rc = protoc.main(["protoc", f"-I{os.path.join(ROOT, 'csi-proto')}", "-I/usr/include",
                          f"--python_out={out}", f"--grpc_python_out={out}", proto])
        if rc != 0:
            raise RuntimeError("protoc failed on csi-proto/csi.proto")
    if out not in sys.path:
        sys.path.insert(0, out)


gen_stubs()
import csi_pb2  # noqa: E402,F401
import csi_pb2_grpc  # noqa: E402,F401


def binary(name, variant):
    """build/<name> (variant "release") or build/asan/<name> ("asan"); $EBS_DRIVER /
    $EBS_EC2SIM override as in the integration fixtures."""
    env = {"ebs-csi-driver": "EBS_DRIVER", "ebs-ec2-sim": "EBS_EC2SIM"}[name]
    if os.environ.get(env):
        return os.environ[env]
    return os.path.join(BUILD, name) if variant == "release" else os.path.join(BUILD, "asan", name)


def can_loop():
    return os.geteuid() == 0 and os.path.exists("/dev/loop-control") and \
        subprocess.run(["sh", "-c", "command -v losetup"], stdout=subprocess.DEVNULL).returncode == 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def http_json(url, method="GET", body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read().decode() or "null")


class Sim:
    """ebs-ec2-sim on a fixed loopback port (so it can be killed and restarted on the
    same port and state directory)."""

    def __init__(self, workdir, args=(), variant="asan", port=None, delay_ms=200, attach_loop=True):
        self.bin = binary("ebs-ec2-sim", variant)
        self.state_dir = os.path.join(workdir, "ec2sim")
        self.dev_dir = os.path.join(workdir, "by-id")
        os.makedirs(self.dev_dir, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(workdir, "sim.log")
        self.args = ["--listen", f"127.0.0.1:{self.port}", "--state-dir", self.state_dir,
                     "--instances", INSTANCES, "--delay-ms", str(delay_ms),
                     "--attach", "loop" if attach_loop else "none", "--dev-dir", self.dev_dir, *args]
        self.proc = None
        self.starts = 0

    def start(self, timeout=20):
        log = open(self.log_path, "ab")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        self.proc = subprocess.Popen([self.bin, *self.args], stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        log.close()
        self.starts += 1
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ebs-ec2-sim exited {self.proc.returncode}:\n{self.output()[-3000:]}")
            try:
                http_json(self.url + "/__sim/faults", timeout=2)
                return self
            except (OSError, urllib.error.URLError, ValueError):
                time.sleep(0.05)
        raise TimeoutError("ebs-ec2-sim did not answer on " + self.url)

    def env(self):
        return {"AWS_ENDPOINT_URL_EC2": self.url, "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.url,
                "AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}

    def client(self, attempts=20):
        import boto3
        import botocore.config
        cfg = botocore.config.Config(retries={"total_max_attempts": attempts, "mode": "standard"},
                                     connect_timeout=5, read_timeout=30)
        return boto3.session.Session().client("ec2", endpoint_url=self.url, region_name=REGION,
                                              aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                                              config=cfg)

    def state(self):
        return http_json(self.url + "/__sim/state")

    def stats(self):
        return http_json(self.url + "/__sim/stats")

    def set_faults(self, **kw):
        return http_json(self.url + "/__sim/faults", method="POST", body=kw)

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout=60):
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait()

    def output(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""


class Driver:
    """ebs-csi-driver on a unix socket; `wrapper` (e.g. a valgrind command line) goes before it."""

    def __init__(self, workdir, args, env, variant="asan", wrapper=(), name="driver"):
        self.bin = binary("ebs-csi-driver", variant)
        self.sock = os.path.join(workdir, name, "csi.sock")
        self.endpoint = "unix://" + self.sock
        self.log_path = os.path.join(workdir, name + ".log")
        self.args = list(args)
        if not any(a.startswith("--state-dir") for a in self.args):
            # Format claims survive restarts here, as on a host path, and stay in the work directory.
            self.args += ["--state-dir", os.path.join(workdir, name + "-state")]
        self.env = env
        self.wrapper = list(wrapper)
        self.proc = None
        self.starts = 0

    def start(self, timeout=30):
        log = open(self.log_path, "ab")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        env.update(self.env)
        self.proc = subprocess.Popen([*self.wrapper, self.bin, *self.args, "--endpoint", self.endpoint],
                                     stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        log.close()
        self.starts += 1
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"driver exited {self.proc.returncode}:\n{self.output()[-3000:]}")
            if os.path.exists(self.sock):
                s = socket.socket(socket.AF_UNIX)
                try:
                    s.connect(self.sock)
                    return self
                except OSError:
                    pass
                finally:
                    s.close()
            time.sleep(0.02)
        raise TimeoutError("driver did not listen on " + self.sock)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self, group=True):
        """kill -9 the driver (group=True: its whole process group, mkfs/fsck children
        included, as a container runtime would)."""
        if self.alive():
            if group:
                os.killpg(self.proc.pid, signal.SIGKILL)
            else:
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            if group:
                wait_group_gone(self.proc.pid)

    def stop(self, timeout=60):
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return "timeout"

    def output(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""


def group_members(pgid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[2]) == pgid:
                        out.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return out


def wait_group_gone(pgid, timeout=10):
    """After a SIGKILL to a group: wait until its last member (a mkfs finishing the
    write it was in) is gone, so what is on the disk is what the kill left."""
    end = time.time() + timeout
    while time.time() < end and group_members(pgid):
        time.sleep(0.005)


# ---- /proc, loop devices, mounts -----------------------------------------------------

def rss_kb(pid):
    """(VmRSS, Rss from smaps_rollup) in KiB."""
    vm = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                vm = int(line.split()[1])
    roll = None
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    roll = int(line.split()[1])
    except OSError:
        pass
    return vm, roll


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def thread_count(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def children_cmdlines(pid):
    """Command lines of every descendant of pid (e.g. a running mkfs)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            kids.setdefault(ppid, []).append((int(d), cmd))
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c, cmd in kids.get(p, []):
            out.append(cmd)
            todo.append(c)
    return out


def child_names(pid):
    """Names (comm) of pid's direct children, fast enough to poll every millisecond:
    /proc/PID/task/*/children rather than a scan of /proc."""
    out = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for t in tids:
        try:
            with open(f"/proc/{pid}/task/{t}/children") as f:
                kids = f.read().split()
        except OSError:
            continue
        for k in kids:
            try:
                with open(f"/proc/{k}/comm") as f:
                    out.append(f.read().strip())
            except OSError:
                pass
    return out


def loops_of(state_dir):
    r = subprocess.run(["losetup", "--list", "--noheadings", "--raw", "--output", "NAME,BACK-FILE"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    prefix = os.path.realpath(state_dir) + "/"
    return [ln.split(" ", 1)[0] for ln in r.stdout.splitlines() if ln.partition(" ")[2].startswith(prefix)]


def release_loops(state_dir):
    for dev in loops_of(state_dir):
        subprocess.run(["losetup", "--detach", dev], stderr=subprocess.DEVNULL)


def mounts_under(root):
    root = os.path.realpath(str(root))
    with open("/proc/self/mountinfo") as f:
        pts = [ln.split()[4] for ln in f]
    return [p for p in pts if p == root or p.startswith(root + "/")]


def unmount_all_under(root):
    for p in sorted(mounts_under(root), key=len, reverse=True):
        subprocess.run(["umount", "-l", p], stderr=subprocess.DEVNULL)


class Procs:
    """What a run started; close() cleans all of it up (idempotent)."""

    def __init__(self, workdir):
        self.workdir = str(workdir)
        self.items = []

    def add(self, p):
        self.items.append(p)
        return p

    def close(self):
        rcs = {}
        # Drivers first (they hold mounts), then unmount, then simulators (they
        # release loop devices only when nothing is mounted).
        for p in self.items:
            if isinstance(p, Driver):
                rcs[p.log_path] = p.stop(timeout=40)
        unmount_all_under(self.workdir)
        for p in self.items:
            if isinstance(p, Sim):
                rcs[p.log_path] = p.stop(timeout=60)
        for p in self.items:
            if isinstance(p, Sim):
                release_loops(p.state_dir)
        unmount_all_under(self.workdir)
        return rcs
