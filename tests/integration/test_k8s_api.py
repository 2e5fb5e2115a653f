"""The k8s/ client and the driver's Kubernetes features against a fake API
server (k8s_fake_apiserver.py, HTTPS with a certificate made at test time).

Each test sets up one scenario on the server, runs one cmocka test of
build/asan/tests/k8s/test_k8s_live (K8S_TEST_FILTER) that drives the C code
and checks its results, then checks here what the server saw: which requests,
how many, with which token, which JSON patches. The client logs at -v 10 and
the bearer token must appear in no output and no message.
"""
import os
import shutil
import subprocess
import threading
import time

import pytest

from k8s_fake_apiserver import FakeAPIServer, make_cert, status_body

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("EBS_BUILD", os.path.join(ROOT, "build"))
LIVE = os.path.join(BUILD, "asan", "tests", "k8s", "test_k8s_live")

NODE = "node-a"
NOT_READY = "ebs.csi.aws.com/agent-not-ready"
NODES = "/api/v1/nodes"
CSINODES = "/apis/storage.k8s.io/v1/csinodes"
VAS = "/apis/storage.k8s.io/v1/volumeattachments"

pytestmark = pytest.mark.skipif(not os.access(LIVE, os.X_OK),
                                reason="build/asan/tests/k8s/test_k8s_live is not built (k8s module not in the Makefile?)")


def node_obj(taints=None, unschedulable=False):
    spec = {"providerID": "aws:///us-west-2b/i-0123456789abcdef0"}
    if taints is not None:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": NODE, "labels": {
                "node.kubernetes.io/instance-type": "m5.large",
                "topology.kubernetes.io/region": "us-west-2",
                "topology.kubernetes.io/zone": "us-west-2b",
                "kubernetes.io/hostname": NODE}},
            "spec": spec}


def csinode_obj(ready):
    d = {"name": "ebs.csi.aws.com", "nodeID": "i-0123456789abcdef0", "topologyKeys": ["topology.kubernetes.io/zone"]}
    if ready:
        d["allocatable"] = {"count": 25}
    return {"apiVersion": "storage.k8s.io/v1", "kind": "CSINode", "metadata": {"name": NODE},
            "spec": {"drivers": [{"name": "other.csi.k8s.io", "nodeID": "x", "allocatable": {"count": 3}}, d]}}


def va_obj(name, node=NODE):
    return {"apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment", "metadata": {"name": name},
            "spec": {"attacher": "ebs.csi.aws.com", "nodeName": node,
                     "source": {"persistentVolumeName": "pv-" + name}},
            "status": {"attached": True}}


@pytest.fixture
def api(tmp_path):
    s = FakeAPIServer(str(tmp_path))
    s.put("nodes", node_obj())
    s.kubeconfig = s.write_kubeconfig(str(tmp_path / "kubeconfig"))
    yield s
    s.stop()


def run_live(api, name, extra_env=None, timeout=90):
    env = dict(os.environ)
    env.update({"K8S_TEST_FILTER": name, "K8S_TEST_KUBECONFIG": api.kubeconfig, "K8S_TEST_TOKEN": api.token,
                "K8S_TEST_NODE": NODE, "ASAN_OPTIONS": "detect_leaks=1", "UBSAN_OPTIONS": "halt_on_error=1"})
    env.update(extra_env or {})
    r = subprocess.run([LIVE], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, cwd=ROOT)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0 and "[  PASSED  ] 1 test" in out, out
    for tok in [api.token] + [t for t in api.tokens]:
        assert tok[:16] not in out, "the bearer token (or its head) reached the output"
    return out


def wait_for(pred, timeout=15):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def in_thread(fn):
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    return t


# ---- (a) metadata from the Node ------------------------------------------------

def test_node_metadata(api):
    run_live(api, "live_instance_info")
    gets = api.seen("GET", NODES + "/" + NODE)
    assert len(gets) == 1 and gets[0]["token"] == api.token


def test_node_metadata_with_client_certificate(tmp_path):
    client_cert, client_key = make_cert(str(tmp_path), "client", cn="system:node:node-a")
    s = FakeAPIServer(str(tmp_path), client_ca=client_cert)
    try:
        s.allow_client_cert = True
        s.put("nodes", node_obj())
        s.kubeconfig = s.write_kubeconfig(str(tmp_path / "kc"), token=False, client_cert=client_cert,
                                          client_key=client_key, ca_inline=True)
        run_live(s, "live_instance_info")
        r = s.seen("GET", NODES + "/" + NODE)[0]
        assert r["token"] is None
        assert r["peer"] and ("commonName", "system:node:node-a") in [x for rdn in r["peer"]["subject"] for x in rdn]
    finally:
        s.stop()


def test_in_cluster_token_rotation(api, tmp_path):
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text(api.token + "\n")
    shutil.copy(api.cert, sa / "ca.crt")
    (sa / "namespace").write_text("kube-system")
    token2 = "tok-rotated-" + os.urandom(8).hex()
    api.tokens.add(token2)
    run_live(api, "live_in_cluster", {"K8S_TEST_SA_DIR": str(sa), "K8S_TEST_TOKEN2": token2,
                                       "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                                       "KUBERNETES_SERVICE_PORT": str(api.port)})
    assert [r["token"] for r in api.seen("GET", NODES + "/" + NODE)] == [api.token, token2]


def test_tls_verification_stays_on(api, tmp_path):
    other_cert, _ = make_cert(str(tmp_path), "other-ca")
    text = open(api.kubeconfig).read().replace(os.path.basename(api.cert), os.path.basename(other_cert))
    bad = tmp_path / "kc-wrong-ca"
    bad.write_text(text)
    api.kubeconfig = str(bad)
    run_live(api, "live_tls_failure")
    assert api.requests == []


# ---- errors and retries ---------------------------------------------------------

def test_unauthorized_is_not_retried_and_redacted(api):
    api.tokens = set()  # every token is rejected; the server echoes what it got
    run_live(api, "live_unauthorized")
    assert len(api.seen("GET", NODES + "/" + NODE)) == 2  # one GET, one pre-stop GET: no retries
    assert api.seen("GET", VAS) == []


def test_retries_on_5xx_429_and_pagination(api):
    answers = {"n": 0}

    def flaky(req):
        if req["method"] == "GET" and req["path"] == NODES + "/" + NODE:
            answers["n"] += 1
            if answers["n"] == 1:
                return (503, status_body(503, "ServiceUnavailable", "etcd leader changed"))
            if answers["n"] == 2:
                return (500, status_body(500, "InternalError", "oops"))
            if answers["n"] == 3:
                return (429, status_body(429, "TooManyRequests", "slow down"), {"Retry-After": "1"})
        if req["path"] == NODES + "/always-busy":
            return (409, status_body(409, "Conflict", "busy"))
        return None

    api.hooks.append(flaky)
    api.page_size = 2
    for n in ("va-1", "va-2", "va-3"):
        api.put("volumeattachments", va_obj(n))
    run_live(api, "live_retries")
    assert answers["n"] == 4
    lists = api.seen("GET", VAS, watch=False)
    assert [r["query"].get("continue") for r in lists] == [None, ["2"]]
    assert len(api.seen("GET", NODES + "/always-busy")) >= 2


# ---- (b) the start-up taint ---------------------------------------------------------

def test_taint_removed_after_registration_with_conflicts(api):
    api.put("nodes", node_obj(taints=[{"key": "other", "effect": "NoSchedule"},
                                      {"key": NOT_READY, "effect": "NoExecute"}]))
    api.put("csinodes", csinode_obj(ready=False))
    patches = {"n": 0}

    def conflicts(req):
        if req["method"] != "PATCH":
            return None
        patches["n"] += 1
        if patches["n"] == 1:
            # Someone adds a taint between our GET and our PATCH: the test op must refuse.
            n = api.get("nodes", NODE)
            n["spec"]["taints"].append({"key": "late-taint", "effect": "NoSchedule"})
            api.put("nodes", n)
            return None
        if patches["n"] == 2:
            return (409, status_body(409, "Conflict", "the object has been modified"))
        return None

    api.hooks.append(conflicts)

    def register():
        # kubelet registers the driver only after the watcher is watching.
        wait_for(lambda: api.seen("GET", CSINODES, watch=True))
        time.sleep(0.3)
        api.put("csinodes", csinode_obj(ready=True))

    t = in_thread(register)
    run_live(api, "live_taint_removal")
    t.join()
    taints = api.get("nodes", NODE)["spec"]["taints"]
    assert taints == [{"key": "other", "effect": "NoSchedule"}, {"key": "late-taint", "effect": "NoSchedule"}]
    sent = [r for r in api.seen("PATCH", NODES + "/" + NODE)]
    assert len(sent) == 3
    import json
    for r in sent:
        assert r["content_type"] == "application/json-patch+json"
        ops = json.loads(r["body"])
        assert ops[0]["op"] == "test" and ops[0]["path"] == "/spec/taints"
        assert ops[1]["op"] == "replace" and all(t["key"] != NOT_READY for t in ops[1]["value"])
    # The first patch tested the taints as first read; the last one those with late-taint.
    assert len(json.loads(sent[0]["body"])[0]["value"]) == 2
    assert len(json.loads(sent[2]["body"])[0]["value"]) == 3
    # The CSINode was watched with a field selector, from the list's resourceVersion.
    w = api.seen("GET", CSINODES, watch=True)[0]
    assert w["query"]["fieldSelector"] == ["metadata.name=" + NODE] and w["query"]["resourceVersion"]


def test_taint_absent_means_nothing_to_do(api):
    api.put("csinodes", csinode_obj(ready=True))
    run_live(api, "live_taint_removal")
    assert api.seen("PATCH") == [] and api.seen("GET", CSINODES) == []


def test_taint_forbidden_gives_up_cleanly(api):
    api.put("nodes", node_obj(taints=[{"key": NOT_READY, "effect": "NoSchedule"}]))
    api.put("csinodes", csinode_obj(ready=True))
    api.hooks.append(lambda req: (403, status_body(
        403, "Forbidden", 'nodes "node-a" is forbidden: User "system:serviceaccount:kube-system:ebs-csi-node-sa" '
        'cannot patch resource "nodes" in API group "" at the cluster scope')) if req["method"] == "PATCH" else None)
    run_live(api, "live_forbidden")
    assert len(api.seen("PATCH")) == 1
    assert api.get("nodes", NODE)["spec"]["taints"] == [{"key": NOT_READY, "effect": "NoSchedule"}]


def test_taint_watcher_stops_promptly(api):
    api.put("nodes", node_obj(taints=[{"key": NOT_READY, "effect": "NoSchedule"}]))
    api.put("csinodes", csinode_obj(ready=False))
    run_live(api, "live_taint_cancel")
    assert api.seen("PATCH") == []
    assert api.seen("GET", CSINODES, watch=True)


# ---- (c) the pre-stop hook ---------------------------------------------------------------

def test_prestop_not_draining_returns_at_once(api):
    api.put("nodes", node_obj(taints=[{"key": NOT_READY, "effect": "NoSchedule"}]))
    api.put("volumeattachments", va_obj("va-1"))
    run_live(api, "live_prestop_wait")
    assert api.seen("GET", VAS) == []


def test_prestop_node_gone_and_nothing_attached(api):
    api.delete("nodes", NODE)
    api.put("volumeattachments", va_obj("va-other", node="node-b"))
    run_live(api, "live_prestop_wait")
    assert len(api.seen("GET", VAS, watch=False)) == 1 and api.seen("GET", VAS, watch=True) == []


def test_prestop_waits_through_drops_and_410(api):
    api.put("nodes", node_obj(taints=[{"key": "karpenter.sh/disrupted", "effect": "NoSchedule"}]))
    for name, node in (("va-1", NODE), ("va-2", NODE), ("va-3", "node-b")):
        api.put("volumeattachments", va_obj(name, node))
    watches = {"n": 0}

    def watch_faults(req):
        if req["path"] == VAS and req["query"].get("watch") == ["1"]:
            watches["n"] += 1
            if watches["n"] == 2:
                return ("watch-error", status_body(410, "Expired", "too old resource version"))
            if watches["n"] == 3:
                return (410, status_body(410, "Gone", "too old resource version"))
        return None

    def drop_first_watch(kind, sent, req):
        # The first watch delivers one event, then the connection breaks mid-stream.
        if kind == "volumeattachments" and watches["n"] == 1 and sent >= 1:
            return "drop"
        return None

    api.hooks.append(watch_faults)
    api.watch_hooks.append(drop_first_watch)

    def detach():
        wait_for(lambda: watches["n"] >= 1)
        time.sleep(0.2)
        api.delete("volumeattachments", "va-1")
        time.sleep(0.2)
        api.delete("volumeattachments", "va-3")  # another node's: the stream breaks on it
        wait_for(lambda: watches["n"] >= 4)
        time.sleep(0.3)
        api.delete("volumeattachments", "va-2")

    t = in_thread(detach)
    out = run_live(api, "live_prestop_wait")
    t.join()
    assert watches["n"] == 4
    lists = api.seen("GET", VAS, watch=False)
    assert len(lists) == 4  # the first, then one after each broken or refused watch
    ws = api.seen("GET", VAS, watch=True)
    assert all(w["query"]["resourceVersion"] for w in ws)
    assert "waiting for 2 VolumeAttachment(s) of node node-a" in out


def test_prestop_bounded_by_deadline(api):
    api.put("nodes", node_obj(unschedulable=True))
    api.put("volumeattachments", va_obj("va-stuck"))
    run_live(api, "live_prestop_timeout")
