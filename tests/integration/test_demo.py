"""`make run` + `make demo` as a user runs them: tools/run-local.sh starts the
simulator and the driver, tools/demo.py takes one volume through its whole life
(create, attach, stage, write, snapshot, restore, read back, tear down). Needs
root and loop devices, like `make run`'s real data path."""
import os
import shutil
import signal
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("EBS_BUILD", os.path.join(ROOT, "build"))

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/dev/loop-control")
                                or not os.access(os.path.join(BUILD, "ebs-csi-driver"), os.X_OK)
                                or not os.access(os.path.join(BUILD, "ebs-ec2-sim"), os.X_OK),
                                reason="needs root, loop devices and the release build (make all)")


def test_run_local_and_demo(tmp_path):
    run_dir = tmp_path / "run"
    env = dict(os.environ, BUILD=BUILD, RUN_DIR=str(run_dir), SIM_DELAY_MS="50")
    for k in ("AWS_ENDPOINT_URL_EC2", "AWS_EC2_METADATA_SERVICE_ENDPOINT"):
        env.pop(k, None)
    log = open(tmp_path / "run.log", "wb")
    p = subprocess.Popen(["sh", os.path.join(ROOT, "tools", "run-local.sh")], cwd=ROOT, env=env, stdout=log,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        sock = run_dir / "csi.sock"
        end = time.monotonic() + 30
        while not sock.exists():
            assert p.poll() is None, (tmp_path / "run.log").read_text()
            assert time.monotonic() < end, "the driver did not start"
            time.sleep(0.05)
        r = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "demo.py"), "--endpoint", str(sock)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=240)
        out = r.stdout.decode()
        assert r.returncode == 0, out
        assert "the restored volume holds the same bytes" in out
        assert "teardown of" not in out
    finally:
        os.killpg(p.pid, signal.SIGINT)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        log.close()
    # Nothing left behind: no loop device on the simulator's files, no mount.
    losetup = subprocess.run(["losetup", "-a"], stdout=subprocess.PIPE, text=True).stdout
    assert str(run_dir) not in losetup
    assert str(tmp_path) not in open("/proc/self/mounts").read()
    shutil.rmtree(run_dir, ignore_errors=True)
