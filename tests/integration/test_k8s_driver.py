"""The Kubernetes-side features through the real binary, against the fake API
server: the instance identity from the Node object when IMDS is unavailable,
the start-up taint removed once CSINode registers us, and `pre-stop-hook`."""
import os
import subprocess
import time

import pytest

import csi_pb2
import csi_pb2_grpc
from conftest import DRIVER
from k8s_fake_apiserver import FakeAPIServer
from test_k8s_api import NODE, NOT_READY, csinode_obj, node_obj, va_obj


@pytest.fixture
def api(tmp_path):
    s = FakeAPIServer(str(tmp_path))
    s.kubeconfig = s.write_kubeconfig(str(tmp_path / "kubeconfig"))
    yield s
    s.stop()


def test_identity_from_node_object_when_imds_is_disabled(api, start_driver):
    api.put("nodes", node_obj())
    d = start_driver("node", "--kubeconfig", api.kubeconfig,
                     env={"AWS_EC2_METADATA_DISABLED": "true", "CSI_NODE_NAME": NODE, "DISABLE_TAINT_WATCHER": "1"})
    r = csi_pb2_grpc.NodeStub(d.channel).NodeGetInfo(csi_pb2.NodeGetInfoRequest(), timeout=10)
    assert r.node_id == "i-0123456789abcdef0"
    assert dict(r.accessible_topology.segments)["topology.kubernetes.io/zone"] == "us-west-2b"
    assert api.token[:16] not in d.output()


def test_imds_only_sources_refuse_without_imds(api, tmp_path):
    api.put("nodes", node_obj())
    env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true", CSI_NODE_NAME=NODE)
    r = subprocess.run([DRIVER, "node", "--metadata-sources=imds", "--kubeconfig", api.kubeconfig,
                        "--endpoint", f"unix://{tmp_path}/x.sock"], env=env, stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == 1 and b"IMDS" in r.stderr


def test_startup_taint_removed_after_registration(api, start_driver):
    api.put("nodes", node_obj(taints=[{"key": NOT_READY, "effect": "NoSchedule"}]))
    api.put("csinodes", csinode_obj(ready=True))
    d = start_driver("node", "--kubeconfig", api.kubeconfig, env={"CSI_NODE_NAME": NODE})
    end = time.monotonic() + 20
    while time.monotonic() < end:
        taints = api.get("nodes", NODE)["spec"].get("taints", [])
        if not any(t["key"] == NOT_READY for t in taints):
            break
        time.sleep(0.05)
    else:
        pytest.fail("the start-up taint was not removed:\n" + d.output()[-3000:])


def run_prestop(api, timeout=60, grace="5"):
    env = dict(os.environ, CSI_NODE_NAME=NODE)
    return subprocess.run([DRIVER, "pre-stop-hook", "--kubeconfig", api.kubeconfig, "--grace-period", grace],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)


def test_pre_stop_hook_returns_at_once_when_not_draining(api):
    api.put("nodes", node_obj())
    api.put("volumeattachments", va_obj("va-1"))
    r = run_prestop(api)
    assert r.returncode == 0, r.stderr.decode()


def test_pre_stop_hook_waits_for_attachments_while_draining(api):
    api.put("nodes", node_obj(unschedulable=True))
    api.put("volumeattachments", va_obj("va-1"))
    p = subprocess.Popen([DRIVER, "pre-stop-hook", "--kubeconfig", api.kubeconfig, "--grace-period", "30"],
                         env=dict(os.environ, CSI_NODE_NAME=NODE), stderr=subprocess.PIPE)
    time.sleep(1.0)
    assert p.poll() is None, "returned while an attachment remains"
    api.delete("volumeattachments", "va-1")
    assert p.wait(timeout=30) == 0


def test_pre_stop_hook_bounded_by_grace_period(api):
    api.put("nodes", node_obj(unschedulable=True))
    api.put("volumeattachments", va_obj("va-1"))
    t = time.monotonic()
    r = run_prestop(api, grace="2")
    assert r.returncode == 1
    assert time.monotonic() - t < 20
    assert b"va-1" in r.stderr
