"""deploy/: the Kubernetes manifests, the examples, the IAM policies and the Dockerfile, checked without a cluster
and without a container engine.

- Render: every kustomization (base and overlays) renders, with `kubectl kustomize` where kubectl exists and with
  tests/deploy/kustomize_lite.py always; where both exist their outputs must be identical.
- Schema: every rendered object and every example validates against the Kubernetes OpenAPI schemas, with no
  unknown field (tests/deploy/validate.mjs on the npm packages of tests/deploy/package.json, installed by
  tests/deploy/install-validator.sh into build/deploy-validator; the tests SKIP, naming the command, when node or
  the packages are missing). A negative control proves the validator rejects broken manifests.
- Wiring: selectors match pod labels, every volume mount, ServiceAccount, role, Service port and $(VAR) resolves,
  the CSI socket paths agree between the driver, the registrar and kubelet's directory.
- Driver flags: every flag and subcommand our containers pass to ebs-csi-driver is one the binary accepts (its -h
  output, and a parse of the real argument list). Flags the lead is adding now are XFAIL, listed, until the binary
  has them.
- Examples: StorageClass / VolumeSnapshotClass / VolumeAttributesClass parameter keys are ones the driver knows.
- IAM: the policies allow exactly the EC2 actions the driver calls; the scoped one conditions every mutation.
- Dockerfile: stages and bases, COPY sources present in the build context (Dockerfile.dockerignore applied) and
  enough for the Makefile's plan, runtime packages cover the release binary's libraries and the node's tools.
"""
import fnmatch
import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

import pytest

yaml = pytest.importorskip("yaml", reason="python3-yaml is needed to read the manifests (apt-get install python3-yaml)")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "deploy"))
import kustomize_lite as kl  # noqa: E402

BUILD = os.environ.get("EBS_BUILD", os.path.join(ROOT, "build"))
DEPLOY = os.path.join(ROOT, "deploy")
K8S = os.path.join(DEPLOY, "kubernetes")
KUSTOMIZATIONS = [os.path.join(K8S, "base")] + sorted(
    d for d in glob.glob(os.path.join(K8S, "overlays", "*")) if kl.kustomization_file(d))
EXAMPLES = sorted(glob.glob(os.path.join(DEPLOY, "examples", "*.yaml")))
VALIDATOR_MODULES = os.path.join(ROOT, "build", "deploy-validator", "node_modules")
VALIDATE_MJS = os.path.join(ROOT, "tests", "deploy", "validate.mjs")
DRIVER_NAME = "ebs.csi.aws.com"
DRIVER_IMAGE_REPO = "ebs-csi-c"   # last path component of the driver's image after kustomize (base images:)

# Being added to the binary now (DESIGN.md §1, issue 7). Manifests may use them; until the binary accepts them
# the flag test is XFAIL with this list instead of passing silently.
PLANNED_FLAGS = {"http-endpoint", "extra-tags", "k8s-tag-cluster-id", "csi-mount-point-prefix", "metadata-sources"}
PLANNED_SUBCOMMANDS = {"pre-stop-hook"}

# The EC2 actions the driver calls (issues 3 and 5); the IAM policies must allow exactly these.
EC2_ACTIONS = {
    "CreateVolume", "DeleteVolume", "AttachVolume", "DetachVolume", "DescribeVolumes", "DescribeInstances",
    "DescribeInstanceTypes", "DescribeAvailabilityZones", "CreateSnapshot", "DeleteSnapshot", "DescribeSnapshots",
    "ModifyVolume", "DescribeVolumesModifications", "DescribeVolumeStatus", "CreateTags", "DeleteTags",
    "EnableFastSnapshotRestores", "CopyVolumes",
}

# Parameter keys the driver accepts (upstream-ebs-csi.md §2, §3.1, §3.3; issue 5). StorageClass keys are matched
# case-insensitively, VolumeAttributesClass keys exactly.
SC_KEYS = {k.lower() for k in (
    "type", "iopsPerGB", "allowAutoIOPSPerGBIncrease", "allowAutoIOPSIncreaseOnModify", "iops", "throughput",
    "encrypted", "kmsKeyId", "volumeInitializationRate", "blockAttachUntilInitialized", "blockSize", "inodeSize",
    "bytesPerInode", "numberOfInodes", "ext4BigAlloc", "ext4ClusterSize", "ext4EncryptionSupport",
    "csi.storage.k8s.io/fstype")}
VSC_KEYS = {k.lower() for k in ("fastSnapshotRestoreAvailabilityZones", "outpostArn", "lockMode", "lockDuration",
                                "lockExpirationDate", "lockCoolOffPeriod")}
VAC_KEYS = {"type", "iops", "throughput", "iopspergb", "allowautoiopsincreaseonmodify"}


# ---- helpers ------------------------------------------------------------------------------------------------------
def rel(p):
    return os.path.relpath(p, ROOT)


def kubectl():
    """kubectl, or None; KUBECTL= (empty) in the environment forces the kustomize_lite path."""
    if "KUBECTL" in os.environ:
        return os.environ["KUBECTL"] or None
    return shutil.which("kubectl")


def kubectl_render(d):
    r = subprocess.run([kubectl(), "kustomize", d], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=120)
    assert r.returncode == 0, f"kubectl kustomize {rel(d)} failed:\n{r.stderr}"
    return [o for o in yaml.safe_load_all(r.stdout) if o]


_RENDERED = {}


def rendered(d):
    """The objects of kustomization d: kubectl's rendering where kubectl exists, else kustomize_lite's."""
    if d not in _RENDERED:
        _RENDERED[d] = kubectl_render(d) if kubectl() else kl.render(d)
    return _RENDERED[d]


def example_docs():
    out = []
    for f in EXAMPLES:
        for d in kl.load_yaml_docs(f):
            out.append((rel(f), d))
    return out


def all_sources():
    """[(source, [objects])] for every kustomization and example file."""
    out = [(rel(d), rendered(d)) for d in KUSTOMIZATIONS]
    for f in EXAMPLES:
        out.append((rel(f), kl.load_yaml_docs(f)))
    return out


def by_kind(objs, kind):
    return [o for o in objs if o.get("kind") == kind]


def one(objs, kind, name):
    hits = [o for o in objs if o.get("kind") == kind and o["metadata"]["name"] == name]
    assert len(hits) == 1, f"expected one {kind} {name}, found {len(hits)}"
    return hits[0]


def is_driver_container(c):
    name, _, _ = kl.split_image(c.get("image", ""))
    return name.rsplit("/", 1)[-1] == DRIVER_IMAGE_REPO


def driver_binary():
    for p in (os.environ.get("EBS_DRIVER"), os.path.join(BUILD, "ebs-csi-driver"),
              os.path.join(BUILD, "asan", "ebs-csi-driver")):
        if p and os.access(p, os.X_OK):
            return p
    return None


def expand_vars(s, env):
    """Kubernetes $(VAR) expansion in args/command: $(VAR) from the container's env, $$ escapes."""
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", sub, s)


def container_env(c):
    env = {}
    for e in c.get("env") or []:
        env[e["name"]] = e.get("value", "<from %s>" % next(iter(e.get("valueFrom", {"?": 0}))))
    return env


def driver_invocations():
    """[(source, workload, container, argv-without-binary)] of every ebs-csi-driver invocation in the manifests:
    container args and lifecycle hook commands."""
    out = []
    for d in KUSTOMIZATIONS:
        for o in rendered(d):
            for c in kl.containers(o):
                if not is_driver_container(c):
                    continue
                env = container_env(c)
                assert not c.get("command"), f"{rel(d)} {o['metadata']['name']}/{c['name']}: use args, not command"
                out.append((rel(d), o["metadata"]["name"], c["name"], [expand_vars(a, env) for a in c.get("args") or []]))
                for hook in ("preStop", "postStart"):
                    cmd = (((c.get("lifecycle") or {}).get(hook) or {}).get("exec") or {}).get("command")
                    if cmd:
                        assert os.path.basename(cmd[0]) == "ebs-csi-driver", f"{c['name']} {hook} runs {cmd[0]}"
                        out.append((rel(d), o["metadata"]["name"], f"{c['name']} {hook}", [expand_vars(a, env) for a in cmd[1:]]))
    return out


def split_flags(argv):
    """(subcommands, {flag name: value or None}) of an ebs-csi-driver argv in pflag style."""
    subs, flags = [], {}
    for a in argv:
        if a.startswith("-"):
            name = a.lstrip("-")
            name, eq, val = name.partition("=")
            flags[name] = val if eq else None
        else:
            subs.append(a)
    return subs, flags


def binary_help(binary):
    r = subprocess.run([binary, "-h"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    assert r.returncode == 0, f"{binary} -h exited {r.returncode}:\n{r.stdout}"
    text = r.stdout
    flags = {m.group(1).lstrip("-") for m in re.finditer(r"^\s+(--?[A-Za-z0-9][\w-]*)", text, re.M)}
    m = re.search(r"\[([a-z|-]+)\]", text)
    modes = set(m.group(1).split("|")) if m else set()
    return text, flags, modes


# ---- render ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", KUSTOMIZATIONS, ids=[rel(d) for d in KUSTOMIZATIONS])
def test_kustomization_renders_with_kustomize_lite(d):
    objs = kl.render(d)
    assert objs, f"{rel(d)} rendered nothing"
    keys = [kl.key(o) for o in objs]
    dup = {k for k in keys if keys.count(k) > 1}
    assert not dup, f"{rel(d)}: duplicate objects {dup}"
    for o in objs:
        assert o["metadata"].get("name"), f"{rel(d)}: an object without a name: {o.get('kind')}"
        if o["kind"] not in kl.CLUSTER_SCOPED:
            assert o["metadata"].get("namespace") == "kube-system", f"{rel(d)}: {kl.key(o)} not in kube-system"


@pytest.mark.skipif(not kubectl(), reason="kubectl not installed: only kustomize_lite renders the kustomizations")
@pytest.mark.parametrize("d", KUSTOMIZATIONS, ids=[rel(d) for d in KUSTOMIZATIONS])
def test_kustomize_lite_matches_kubectl_kustomize(d):
    theirs = {kl.key(o): o for o in kubectl_render(d)}
    mine = {kl.key(o): o for o in kl.render(d)}
    assert set(mine) == set(theirs), f"objects differ: only kubectl {set(theirs) - set(mine)}, only lite {set(mine) - set(theirs)}"
    diff = [k for k in mine if mine[k] != theirs[k]]
    assert not diff, f"{rel(d)}: kustomize_lite and kubectl kustomize disagree on {diff}"


def test_kustomize_lite_rejects_unsupported_fields(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\ncommonLabels: {a: b}\n")
    with pytest.raises(kl.UnsupportedKustomization):
        kl.render(str(tmp_path))
    (tmp_path / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    with pytest.raises(FileNotFoundError):
        kl.render(str(tmp_path))


def test_every_overlay_image_entry_is_used():
    """An images: entry whose name matches no container is a silent no-op (a typo keeps the old registry)."""
    for d in KUSTOMIZATIONS:
        k = yaml.safe_load(open(kl.kustomization_file(d)))
        for r in k.get("resources") or []:
            assert os.path.exists(os.path.join(d, r)), f"{rel(d)}: missing resource {r}"
        before = []
        for r in k.get("resources") or []:
            p = os.path.join(d, r)
            before += kl.render(p) if os.path.isdir(p) else kl.load_yaml_docs(p)
        names = {kl.split_image(c.get("image", ""))[0] for o in before for c in kl.containers(o)}
        for img in k.get("images") or []:
            assert img["name"] in names, f"{rel(d)}: images entry {img['name']!r} matches no container ({sorted(names)})"


# ---- OpenAPI schema validation (npm) ----------------------------------------------------------------------------
def validator_missing():
    if not shutil.which("node"):
        return "node is not installed (apt-get install nodejs npm), so the OpenAPI validator cannot run"
    if not os.path.isdir(os.path.join(VALIDATOR_MODULES, "kubernetes-models")):
        return ("the npm validator is not installed: run `sh tests/deploy/install-validator.sh` "
                "(npm ci into build/deploy-validator)")
    return None


def run_validator(docs, tmp_path):
    inp = tmp_path / "docs.json"
    inp.write_text(json.dumps([{"source": s, "doc": d} for s, d in docs]))
    r = subprocess.run(["node", VALIDATE_MJS, VALIDATOR_MODULES, str(inp)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=300)
    assert r.returncode == 0, f"validate.mjs failed ({r.returncode}):\n{r.stderr}"
    res = json.loads(r.stdout)
    assert len(res) == len(docs)
    return res


@pytest.mark.skipif(validator_missing() is not None, reason=str(validator_missing()))
def test_every_manifest_validates_against_the_kubernetes_openapi_schemas(tmp_path):
    docs = [(src, o) for src, objs in all_sources() for o in objs]
    res = run_validator(docs, tmp_path)
    bad = [f"{r['source']}: {r['kind']} {r['name']}: {e}" for r in res for e in r["errors"]]
    assert not bad, "manifests that do not validate:\n" + "\n".join(bad)
    kinds = {r["kind"] for r in res}
    for k in ("Deployment", "DaemonSet", "CSIDriver", "ClusterRole", "ServiceAccount", "PodDisruptionBudget",
              "Service", "ServiceMonitor", "StorageClass", "VolumeSnapshotClass", "VolumeAttributesClass", "StatefulSet"):
        assert k in kinds, f"no {k} was validated"


@pytest.mark.skipif(validator_missing() is not None, reason=str(validator_missing()))
def test_validator_rejects_broken_manifests(tmp_path):
    """Negative control: each broken document must be reported, so a clean run above means something."""
    dep = one(rendered(KUSTOMIZATIONS[0]), "DaemonSet", "ebs-csi-node")
    typo = json.loads(json.dumps(dep))
    typo["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["mountPropogation"] = "Bidirectional"
    wrong_type = json.loads(json.dumps(dep))
    wrong_type["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "9808"
    no_name = json.loads(json.dumps(dep))
    del no_name["spec"]["template"]["spec"]["containers"][0]["name"]
    bad_type = {"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": DRIVER_NAME},
                "spec": {"attachRequired": "yes"}}
    vsc = {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass", "metadata": {"name": "x"},
           "driver": DRIVER_NAME, "deletionPolicy": "Keep"}
    sm = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "x"},
          "spec": {"selector": {}, "endpoints": [{"port": "metrics", "intervall": "15s"}]}}
    unknown_kind = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "x"}}
    cases = [("typo", typo), ("wrong_type", wrong_type), ("no_name", no_name), ("bad_type", bad_type),
             ("vsc", vsc), ("sm", sm), ("unknown_kind", unknown_kind)]
    res = run_validator(cases, tmp_path)
    missed = [r["source"] for r in res if not r["errors"]]
    assert not missed, f"the validator accepted broken manifests: {missed}"
    assert any("mountPropogation" in e for e in res[0]["errors"]), res[0]["errors"]


# ---- wiring -----------------------------------------------------------------------------------------------------
def workloads(objs):
    return [o for o in objs if kl.pod_spec(o) is not None and o["kind"] != "Pod"]


@pytest.mark.parametrize("d", KUSTOMIZATIONS, ids=[rel(d) for d in KUSTOMIZATIONS])
def test_workload_wiring(d):
    objs = rendered(d)
    sas = {o["metadata"]["name"] for o in by_kind(objs, "ServiceAccount")}
    for w in workloads(objs):
        name = w["metadata"]["name"]
        labels = w["spec"]["template"]["metadata"]["labels"]
        sel = w["spec"]["selector"]["matchLabels"]
        assert all(labels.get(k) == v for k, v in sel.items()), f"{name}: selector {sel} does not match {labels}"
        ps = kl.pod_spec(w)
        assert ps.get("serviceAccountName") in sas, f"{name}: ServiceAccount {ps.get('serviceAccountName')} missing"
        assert ps.get("priorityClassName") in ("system-cluster-critical", "system-node-critical")
        vols = {v["name"] for v in ps.get("volumes") or []}
        for c in kl.containers(w):
            for m in c.get("volumeMounts") or []:
                assert m["name"] in vols, f"{name}/{c['name']}: mount of undeclared volume {m['name']}"
            env = container_env(c)
            for a in (c.get("args") or []) + (c.get("command") or []):
                for var in re.findall(r"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)", a):
                    assert var in env, f"{name}/{c['name']}: $({var}) in {a!r} is not in the container's env"
            for p in c.get("ports") or []:
                if "name" in p:
                    assert len(p["name"]) <= 15 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", p["name"]), p
            for probe in ("livenessProbe", "readinessProbe"):
                port = ((c.get(probe) or {}).get("httpGet") or {}).get("port")
                if isinstance(port, str):
                    pod_ports = {p.get("name") for cc in kl.containers(w) for p in cc.get("ports") or []}
                    assert port in pod_ports, f"{name}/{c['name']}: {probe} port {port} is no port of the pod"
    for pdb in by_kind(objs, "PodDisruptionBudget"):
        sel = pdb["spec"]["selector"]["matchLabels"]
        assert any(all(w["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in sel.items())
                   for w in workloads(objs)), f"PDB {pdb['metadata']['name']} selects no workload"
    for svc in by_kind(objs, "Service"):
        sel = svc["spec"]["selector"]
        pods = [w for w in workloads(objs) if all(w["spec"]["template"]["metadata"]["labels"].get(k) == v
                                                  for k, v in sel.items())]
        assert pods, f"Service {svc['metadata']['name']} selects no workload"
        names = {p.get("name") for w in pods for c in kl.containers(w) for p in c.get("ports") or []}
        for p in svc["spec"]["ports"]:
            if isinstance(p.get("targetPort"), str):
                assert p["targetPort"] in names, f"Service {svc['metadata']['name']}: no container port {p['targetPort']}"
    for sm in by_kind(objs, "ServiceMonitor"):
        sel = sm["spec"]["selector"]["matchLabels"]
        svcs = [s for s in by_kind(objs, "Service") if all(s["metadata"].get("labels", {}).get(k) == v
                                                           for k, v in sel.items())]
        assert svcs, f"ServiceMonitor {sm['metadata']['name']} selects no Service"
        ports = {p.get("name") for s in svcs for p in s["spec"]["ports"]}
        for ep in sm["spec"]["endpoints"]:
            assert ep["port"] in ports, f"ServiceMonitor endpoint port {ep['port']} is on no selected Service"


@pytest.mark.parametrize("d", KUSTOMIZATIONS, ids=[rel(d) for d in KUSTOMIZATIONS])
def test_rbac_wiring(d):
    objs = rendered(d)
    sas = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in by_kind(objs, "ServiceAccount")}
    roles = {("ClusterRole", o["metadata"]["name"]) for o in by_kind(objs, "ClusterRole")}
    roles |= {("Role", o["metadata"]["name"]) for o in by_kind(objs, "Role")}
    bound = set()
    for b in by_kind(objs, "ClusterRoleBinding") + by_kind(objs, "RoleBinding"):
        ref = b["roleRef"]
        assert (ref["kind"], ref["name"]) in roles, f"{b['metadata']['name']}: role {ref['name']} not defined"
        bound.add((ref["kind"], ref["name"]))
        for s in b["subjects"]:
            assert s["kind"] == "ServiceAccount" and (s["namespace"], s["name"]) in sas, f"{b['metadata']['name']}: {s}"
    assert roles == bound, f"roles bound to nobody: {roles - bound}"
    for r in by_kind(objs, "ClusterRole") + by_kind(objs, "Role"):
        for rule in r["rules"]:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"], f"{r['metadata']['name']}: wildcard {rule}"
            assert "secrets" not in rule["resources"], f"{r['metadata']['name']}: the driver reads no Secrets"


def test_base_has_what_upstream_users_expect():
    objs = rendered(KUSTOMIZATIONS[0])
    csid = one(objs, "CSIDriver", DRIVER_NAME)["spec"]
    assert csid == {"attachRequired": True, "podInfoOnMount": False, "fsGroupPolicy": "File"}
    ctrl = one(objs, "Deployment", "ebs-csi-controller")
    assert ctrl["spec"]["replicas"] == 2
    cs = {c["name"]: c for c in kl.containers(ctrl)}
    assert list(cs) == ["ebs-plugin", "csi-provisioner", "csi-attacher", "csi-resizer", "csi-snapshotter",
                        "liveness-probe"], "the overlays' JSON patches index the containers in this order"
    prov = cs["csi-provisioner"]["args"]
    for f in ("--feature-gates=Topology=true", "--extra-create-metadata", "--leader-election=true",
              "--default-fstype=ext4", "--timeout=60s"):
        assert f in prov, f"csi-provisioner lacks {f}"
    for s in ("csi-attacher", "csi-resizer", "csi-snapshotter"):
        assert "--leader-election=true" in cs[s]["args"], s
    ps = kl.pod_spec(ctrl)
    assert ps["securityContext"]["runAsNonRoot"] is True and ps["securityContext"]["runAsUser"] != 0
    node = one(objs, "DaemonSet", "ebs-csi-node")
    ns = {c["name"]: c for c in kl.containers(node)}
    assert list(ns)[0] == "ebs-plugin"
    plugin = ns["ebs-plugin"]
    assert plugin["securityContext"]["privileged"] is True
    mounts = {m["name"]: m for m in plugin["volumeMounts"]}
    vols = {v["name"]: v for v in kl.pod_spec(node)["volumes"]}
    kubelet = [m for m in plugin["volumeMounts"] if m.get("mountPropagation") == "Bidirectional"]
    assert len(kubelet) == 1 and vols[kubelet[0]["name"]]["hostPath"]["path"] == "/var/lib/kubelet"
    assert any(vols[m]["hostPath"]["path"] == "/dev" for m in mounts if "hostPath" in vols[m])
    # The socket: the driver listens at CSI_ENDPOINT inside the plugin dir, kubelet reaches the same file.
    env = container_env(plugin)
    sock = re.sub(r"^unix://", "", env["CSI_ENDPOINT"])
    plugin_mount = [m for m in plugin["volumeMounts"] if sock.startswith(m["mountPath"].rstrip("/") + "/")]
    assert plugin_mount, f"CSI_ENDPOINT {env['CSI_ENDPOINT']} is on no mounted volume"
    host_dir = vols[plugin_mount[0]["name"]]["hostPath"]["path"].rstrip("/")
    host_sock = host_dir + sock[len(plugin_mount[0]["mountPath"].rstrip("/")):]
    assert container_env(ns["node-driver-registrar"])["DRIVER_REG_SOCK_PATH"] == host_sock
    assert host_sock == f"/var/lib/kubelet/plugins/{DRIVER_NAME}/csi.sock"
    assert "--kubelet-root=/var/lib/kubelet" in plugin["args"]
    # Format claims must outlive the container (a kill -9 mid-mkfs is finished by the next one): the state
    # directory lies on a host path, the driver's own plugin directory.
    state = [a.split("=", 1)[1] for a in plugin["args"] if a.startswith("--state-dir=")]
    assert len(state) == 1, "the node plugin needs --state-dir on a host path"
    on = [m for m in plugin["volumeMounts"] if state[0].startswith(m["mountPath"].rstrip("/") + "/")]
    assert on and "hostPath" in vols[on[0]["name"]], f"--state-dir={state[0]} is not on a hostPath volume"
    assert vols[on[0]["name"]]["hostPath"]["path"].startswith(f"/var/lib/kubelet/plugins/{DRIVER_NAME}")
    assert plugin["lifecycle"]["preStop"]["exec"]["command"][1:] == ["pre-stop-hook"]
    assert {"operator": "Exists"} in kl.pod_spec(node)["tolerations"], "node pods must tolerate every taint"


def test_metrics_overlay_puts_each_flag_on_its_container():
    objs = rendered(os.path.join(K8S, "overlays", "metrics"))
    want = {("Deployment", "ebs-plugin"): "--http-endpoint=0.0.0.0:3301",
            ("Deployment", "csi-provisioner"): "--http-endpoint=0.0.0.0:3302",
            ("Deployment", "csi-attacher"): "--http-endpoint=0.0.0.0:3303",
            ("Deployment", "csi-resizer"): "--http-endpoint=0.0.0.0:3304",
            ("Deployment", "csi-snapshotter"): "--http-endpoint=0.0.0.0:3306",
            ("DaemonSet", "ebs-plugin"): "--http-endpoint=0.0.0.0:3302"}
    for w in workloads(objs):
        for c in kl.containers(w):
            flag = want.pop((w["kind"], c["name"]), None)
            eps = [a for a in c.get("args") or [] if a.startswith("--http-endpoint=")]
            if flag:
                assert eps == [flag], f"{w['kind']}/{c['name']}: {eps}"
                port = int(flag.rsplit(":", 1)[1])
                assert port in [p["containerPort"] for p in c.get("ports") or []], f"{c['name']}: port {port} not declared"
            elif c["name"] != "node-driver-registrar":
                assert not eps, f"{w['kind']}/{c['name']} got {eps}"
    assert not want, f"not found: {want}"


# ---- driver flags -------------------------------------------------------------------------------------------------
def _flag_report():
    binary = driver_binary()
    if binary is None:
        pytest.skip("no ebs-csi-driver binary in build/ (make, or make test's sanitizer build)")
    _, accepted, modes = binary_help(binary)
    unknown, planned_missing, used = [], set(), set()
    for src, wl, cname, argv in driver_invocations():
        subs, flags = split_flags(argv)
        for s in subs:
            used.add(s)
            if s in modes or s in accepted:
                continue
            if s in PLANNED_SUBCOMMANDS:
                if s not in binary_help(binary)[0]:
                    planned_missing.add(f"subcommand {s}")
                continue
            unknown.append(f"{src} {wl}/{cname}: subcommand {s!r}")
        for f in flags:
            used.add(f)
            if f in accepted:
                continue
            if f in PLANNED_FLAGS:
                planned_missing.add(f"--{f}")
            else:
                unknown.append(f"{src} {wl}/{cname}: --{f}")
    return binary, unknown, sorted(planned_missing), used


def test_driver_flags_in_manifests_are_known():
    binary, unknown, _, used = _flag_report()
    assert used, "no ebs-csi-driver invocation found in the manifests"
    assert not unknown, f"flags {binary} does not accept and nobody plans:\n" + "\n".join(unknown)


def test_driver_parses_the_manifest_argument_lists():
    """Runs the binary with each real argument list (+ --help, so it parses and exits): values are checked too."""
    binary, _, _, _ = _flag_report()
    _, accepted, modes = binary_help(binary)
    for src, wl, cname, argv in driver_invocations():
        subs, _ = split_flags(argv)
        if any(s not in modes for s in subs):
            continue   # a hook subcommand: covered by the tests around this one
        args = [a for a in argv if not a.startswith("-") or a.lstrip("-").partition("=")[0] in accepted]
        r = subprocess.run([binary, *args, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=30, env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
        assert r.returncode == 0, f"{src} {wl}/{cname}: {binary} {shlex.join(args)} rejected:\n{r.stdout}"


def test_planned_driver_flags_are_accepted():
    binary, _, planned_missing, _ = _flag_report()
    if planned_missing:
        pytest.xfail(f"the manifests use flags/subcommands {binary} does not accept yet (being added): "
                     + ", ".join(planned_missing))


def test_csi_endpoints_in_manifests_are_served(tmp_path):
    """The endpoint strings the manifests give (CSI_ENDPOINT) must be a form the driver serves: the same value with
    its directory moved under a temporary one makes a working socket."""
    binary = driver_binary()
    if binary is None:
        pytest.skip("no ebs-csi-driver binary in build/")
    seen = set()
    for d in KUSTOMIZATIONS:
        for o in rendered(d):
            for c in kl.containers(o):
                if is_driver_container(c):
                    seen.add(container_env(c)["CSI_ENDPOINT"])
    assert seen
    for i, ep in enumerate(sorted(seen)):
        m = re.match(r"^(unix:/*)(/.*)$", ep)
        assert m, f"CSI_ENDPOINT {ep!r} is not a unix socket URL"
        path = str(tmp_path / str(i)) + m.group(2)
        value = ep.replace(m.group(2), path, 1)
        env = dict(os.environ, AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
                   AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="not-a-secret",
                   AWS_ENDPOINT_URL_EC2="http://127.0.0.1:9", ASAN_OPTIONS="detect_leaks=0")
        p = subprocess.Popen([binary, "controller", f"--endpoint={value}"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, env=env)
        try:
            end = time.time() + 15
            while not os.path.exists(path) and p.poll() is None and time.time() < end:
                time.sleep(0.05)
            ok = os.path.exists(path)
        finally:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            out = p.communicate(timeout=30)[0].decode(errors="replace")
        assert ok, f"the driver does not serve the manifests' endpoint form {ep!r} (tried {value}):\n{out}"


# ---- examples -----------------------------------------------------------------------------------------------------
def test_examples_use_parameters_the_driver_knows():
    found = set()
    for src, d in example_docs():
        kind = d["kind"]
        found.add(kind)
        params = d.get("parameters") or {}
        if kind == "StorageClass":
            assert d["provisioner"] == DRIVER_NAME
            for k in params:
                assert k.lower() in SC_KEYS or k.startswith("tagSpecification_"), f"{src}: unknown parameter {k}"
                assert isinstance(params[k], str), f"{src}: parameter {k} must be a string"
        elif kind == "VolumeSnapshotClass":
            assert d["driver"] == DRIVER_NAME
            for k in params:
                assert k.lower() in VSC_KEYS or k.startswith("tagSpecification_"), f"{src}: unknown parameter {k}"
        elif kind == "VolumeAttributesClass":
            assert d["driverName"] == DRIVER_NAME
            for k in params:
                assert k in VAC_KEYS or k.startswith(("tagSpecification", "tagDeletion")), f"{src}: unknown key {k}"
    for k in ("StorageClass", "VolumeSnapshotClass", "VolumeAttributesClass", "StatefulSet"):
        assert k in found, f"no {k} example"


def test_examples_cover_the_documented_cases():
    scs = [d for _, d in example_docs() if d["kind"] == "StorageClass"]
    assert any(d["parameters"].get("type") == "gp3" and d.get("volumeBindingMode") == "WaitForFirstConsumer"
               and d.get("allowVolumeExpansion") for d in scs)
    assert any(d["parameters"].get("encrypted") == "true" and d["parameters"].get("kmsKeyId") for d in scs)
    assert any(d.get("allowedTopologies") for d in scs)
    io2 = [d for d in scs if d["parameters"].get("type") == "io2"]
    assert io2
    pvcs = [d for _, d in example_docs() if d["kind"] == "PersistentVolumeClaim"
            and d["spec"]["storageClassName"] == io2[0]["metadata"]["name"]]
    assert pvcs and all(p["spec"]["volumeMode"] == "Block" and p["spec"]["accessModes"] == ["ReadWriteMany"] for p in pvcs)
    names = {d["metadata"]["name"] for d in scs}
    for _, d in example_docs():
        if d["kind"] == "StatefulSet":
            for t in d["spec"]["volumeClaimTemplates"]:
                assert t["spec"]["storageClassName"] in names


# ---- IAM ------------------------------------------------------------------------------------------------------
def policy(name):
    with open(os.path.join(DEPLOY, "iam", name)) as f:
        return json.load(f)


def statements(p):
    assert p["Version"] == "2012-10-17"
    for s in p["Statement"]:
        assert s["Effect"] == "Allow" and "Resource" in s and "Action" in s, s
        acts = [s["Action"]] if isinstance(s["Action"], str) else s["Action"]
        res = [s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"]
        yield s, acts, res


def actions_called_in_code():
    """The actions the C code builds EC2 requests for (ec2_form_init(&f, "Action")), outside the simulator."""
    found = set()
    for f in glob.glob(os.path.join(ROOT, "cloud", "*.c")) + glob.glob(os.path.join(ROOT, "controller", "*.c")):
        if "fake" in os.path.basename(f):
            continue
        found |= set(re.findall(r'ec2_form_init\s*\([^,]+,\s*"([A-Za-z]+)"', open(f, errors="replace").read()))
    return found


@pytest.mark.parametrize("name", ["ebs-csi-policy.json", "ebs-csi-policy-cluster-scoped.json"])
def test_iam_policy_allows_exactly_the_driver_actions(name):
    acts = set()
    for _, a, _ in statements(policy(name)):
        acts |= set(a)
    assert all(a.startswith("ec2:") for a in acts), acts
    acts = {a[4:] for a in acts}
    assert acts == EC2_ACTIONS, f"{name}: extra {acts - EC2_ACTIONS}, missing {EC2_ACTIONS - acts}"
    called = actions_called_in_code()
    assert called <= acts, f"the code calls EC2 actions {name} does not allow: {called - acts}"


def test_cluster_scoped_policy_conditions_every_mutation():
    for s, acts, res in statements(policy("ebs-csi-policy-cluster-scoped.json")):
        mutating = [a for a in acts if not a.startswith("ec2:Describe")]
        if not mutating:
            continue
        assert res != ["*"], f"{s['Sid']}: a mutating statement on every resource"
        for r in res:
            assert re.fullmatch(r"arn:aws:ec2:\*:\*:(volume|snapshot|instance)/\*", r), r
        kinds = {r.split(":")[5].split("/")[0] for r in res}
        if kinds & {"volume", "snapshot"} and s["Sid"] != "CreateVolumesFromAnySnapshot":
            cond = json.dumps(s.get("Condition", {}))
            assert "ebs.csi.aws.com/cluster-name" in cond or "ec2:CreateAction" in cond, \
                f"{s['Sid']}: volumes/snapshots without the cluster tag condition"


# ---- Dockerfile -----------------------------------------------------------------------------------------------------
def dockerfile():
    """[(instruction, argument text)] with continuations joined and comments removed."""
    lines, cur = [], ""
    for raw in open(os.path.join(DEPLOY, "Dockerfile")).read().splitlines():
        s = raw.strip()
        if s.startswith("#") or (not s and not cur):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        cur += s
        if cur:
            ins, _, rest = cur.partition(" ")
            lines.append((ins.upper(), rest.strip()))
        cur = ""
    return lines


def docker_stages():
    """[{name, base, instrs}] with the global ARG defaults substituted in FROM."""
    args, stages = {}, []
    for ins, rest in dockerfile():
        if ins == "FROM":
            toks = rest.split()
            toks = [t for t in toks if not t.startswith("--platform")]
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), toks[0])
            name = toks[2] if len(toks) >= 3 and toks[1].upper() == "AS" else str(len(stages))
            stages.append({"name": name, "base": base, "instrs": []})
        elif not stages and ins == "ARG":
            k, _, v = rest.partition("=")
            args[k.strip()] = v.strip()
        elif stages:
            stages[-1]["instrs"].append((ins, rest))
    return stages


def apt_packages(stage):
    pkgs = []
    for ins, rest in stage["instrs"]:
        if ins != "RUN":
            continue
        for m in re.finditer(r"apt-get\s+install\s+(.*?)(?:&&|;|$)", rest):
            pkgs += [t for t in m.group(1).split() if not t.startswith("-")]
    return pkgs


def dockerignore_excludes(relpath, patterns):
    excluded = False
    parts = relpath.split("/")
    for neg, pat in patterns:
        pat_re = fnmatch.translate(pat.replace("**/", "\u0000")).replace("\u0000", "(?:.*/)?")
        for i in range(1, len(parts) + 1):
            if re.match(pat_re, "/".join(parts[:i])):
                excluded = not neg
                break
    return excluded


def build_context_files():
    pats = []
    for line in open(os.path.join(DEPLOY, "Dockerfile.dockerignore")).read().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            neg = line.startswith("!")
            pats.append((neg, line.lstrip("!").strip("/")))
    r = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    files = r.stdout.split() if r.returncode == 0 else [
        os.path.relpath(os.path.join(dp, f), ROOT) for dp, _, fs in os.walk(ROOT) for f in fs]
    return sorted(f for f in files if os.path.exists(os.path.join(ROOT, f)) and not dockerignore_excludes(f, pats))


def test_dockerfile_stages_bases_and_runtime_settings():
    stages = docker_stages()
    assert len(stages) >= 2, "a build stage and a runtime stage"
    for s in stages:
        assert re.fullmatch(r"(docker\.io/(library/)?)?debian:bookworm(-slim)?(@sha256:[0-9a-f]{64})?", s["base"]), s["base"]
    rt = stages[-1]
    ins = {}
    for i, rest in rt["instrs"]:
        ins.setdefault(i, []).append(rest)
    user = ins["USER"][-1].split(":")[0]
    assert user not in ("0", "root"), "the image's default user must not be root"
    assert "--version" in ins["HEALTHCHECK"][-1]
    entry = json.loads(ins["ENTRYPOINT"][-1])
    labels = " ".join(ins["LABEL"])
    for k in ("title", "description", "version", "revision", "created"):
        assert f"org.opencontainers.image.{k}=" in labels, k
    # The binary the manifests' hooks run is the one the image installs.
    copies = [r for r in ins["COPY"] if r.startswith("--from=")]
    dest = copies[-1].split()[-1]
    assert entry == [dest]
    for d in KUSTOMIZATIONS:
        for o in rendered(d):
            for c in kl.containers(o):
                cmd = (((c.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command")
                if cmd and is_driver_container(c):
                    assert cmd[0] == dest, f"preStop runs {cmd[0]}, the image has {dest}"
    for c in glob.glob(os.path.join(K8S, "base", "*.yaml")):
        for o in kl.load_yaml_docs(c):
            ps = kl.pod_spec(o) or {}
            if o.get("kind") == "Deployment":
                assert ps["securityContext"]["runAsUser"] == int(user), "controller uid = the image's user"


def test_dockerfile_copies_exist_in_the_build_context():
    stages = docker_stages()
    ctx = build_context_files()
    assert "Makefile" in ctx and not any(f.startswith(("build/", ".git/")) for f in ctx)
    names = [s["name"] for s in stages]
    for s in stages:
        workdir = "/"
        for i, rest in s["instrs"]:
            if i == "WORKDIR":
                workdir = rest
            if i != "COPY":
                continue
            toks = rest.split()
            opts = [t for t in toks if t.startswith("--")]
            srcs = [t for t in toks if not t.startswith("--")][:-1]
            frm = [o.split("=", 1)[1] for o in opts if o.startswith("--from=")]
            if frm:
                assert frm[0] in names[:names.index(s["name"])], f"COPY --from={frm[0]}: no earlier stage"
                built = next(st for st in stages if st["name"] == frm[0])
                runs = " ".join(r for x, r in built["instrs"] if x == "RUN")
                bwd = [r for x, r in built["instrs"] if x == "WORKDIR"][-1]
                for src in srcs:
                    target = os.path.relpath(src, bwd)
                    assert re.search(r"make\b[^&]*\s" + re.escape(target) + r"(\s|$)", runs), \
                        f"COPY {src}: stage {frm[0]} does not make {target}"
                continue
            for src in srcs:
                if src == ".":
                    continue
                src = src.strip("/")
                assert any(f == src or f.startswith(src + "/") for f in ctx), f"COPY {src}: not in the build context"


def test_build_context_is_enough_for_the_makefile(tmp_path):
    """`make -n` of the driver inside a copy of the build context plans a build exactly as it does in the tree."""
    if not shutil.which("make"):
        pytest.skip("make not installed")
    stages = docker_stages()
    runs = " ".join(r for i, r in stages[0]["instrs"] if i == "RUN")
    target = re.search(r"\bmake\b.*?\s(build/[\w./-]+)", runs).group(1)
    ctx = tmp_path / "ctx"
    for f in build_context_files():
        dst = ctx / f
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.join(ROOT, f), dst)
    cmd = ["make", "-n", "-B", "VERSION=test", "GIT_COMMIT=test", "BUILD_DATE=test", target]
    in_tree = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=300)
    if in_tree.returncode != 0:
        pytest.skip(f"the tree itself does not plan {target} right now:\n{in_tree.stdout[-2000:]}")
    r = subprocess.run(cmd, cwd=ctx, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=300)
    assert r.returncode == 0, f"the Docker build context lacks files the build needs:\n{r.stdout[-3000:]}"
    # -include'd module fragments that are missing plan a smaller build rather than fail: compare the plans.
    compiled = lambda out: set(re.findall(r"\s-c\s+(\S+)", out))  # noqa: E731
    lost = compiled(in_tree.stdout) - compiled(r.stdout)
    assert compiled(in_tree.stdout) and not lost, f"the build context lacks sources the build compiles: {sorted(lost)}"


def installed_packages():
    r = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Essential}\t${Pre-Depends}, ${Depends}\n"],
                       stdout=subprocess.PIPE, text=True)
    pk = {}
    for line in r.stdout.splitlines():
        name, ess, deps = line.split("\t")
        alts = []
        for d in deps.split(","):
            d = d.strip()
            if d:
                alts.append([re.sub(r"[\s(].*|:any$", "", a.strip()).replace(":any", "") for a in d.split("|")])
        pk[name] = (ess == "yes", alts)
    return pk


def closure(pkgs, installed):
    seen, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        if p in seen or p not in installed:
            continue
        seen.add(p)
        for alts in installed[p][1]:
            hit = [a for a in alts if a in installed]
            todo += hit[:1]
    return seen


def package_of(path):
    cands = [path, os.path.realpath(path)]
    for c in list(cands):
        if c.startswith("/usr/lib/"):
            cands.append(c[4:])
        elif c.startswith("/lib/"):
            cands.append("/usr" + c)
    for c in cands:
        r = subprocess.run(["dpkg", "-S", c], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].split(",")[0].strip()
    r = subprocess.run(["dpkg", "-S", "*/" + os.path.basename(path)], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    return r.stdout.split(":")[0].strip() if r.returncode == 0 else None


def runtime_coverage():
    if not shutil.which("dpkg-query"):
        pytest.skip("not a Debian system: dpkg is needed to map libraries to packages")
    installed = installed_packages()
    essential = [p for p, (e, _) in installed.items() if e] + ["apt"]
    listed = apt_packages(docker_stages()[-1])
    return installed, listed, closure(essential + listed, installed), closure(essential, installed)


def test_runtime_packages_cover_the_release_binary_libraries():
    binary = os.path.join(BUILD, "ebs-csi-driver")
    if not os.access(binary, os.X_OK):
        pytest.skip("build/ebs-csi-driver (release build, what the image ships) is not built: run `make`")
    installed, listed, covered, _ = runtime_coverage()
    needed = re.findall(r"\(NEEDED\).*\[(.+?)\]", subprocess.run(["readelf", "-d", binary], stdout=subprocess.PIPE,
                                                                   text=True).stdout)
    ldd = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, text=True).stdout
    paths = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
    paths.update({os.path.basename(p): p for p in re.findall(r"^\s*(/\S+) \(", ldd, re.M)})
    missing = []
    for lib in needed:
        pkg = package_of(paths.get(lib, lib)) if lib in paths else None
        assert pkg, f"{lib}: no Debian package found for it"
        if pkg not in covered:
            missing.append(f"{lib} ({pkg})")
    assert not missing, f"the runtime stage lacks packages for {missing}; add them to its apt-get install"


def test_runtime_packages_are_only_what_is_needed():
    binary = os.path.join(BUILD, "ebs-csi-driver")
    if not os.access(binary, os.X_OK):
        pytest.skip("build/ebs-csi-driver (release build) is not built: run `make`")
    installed, listed, _, base = runtime_coverage()
    ldd = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, text=True).stdout
    used = {package_of(p) for p in re.findall(r"=> (/\S+)", ldd)}
    extra = [p for p in listed if p.startswith("lib") and p not in used]
    for p in listed:
        assert p in installed or subprocess.run(["apt-cache", "show", p], stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL).returncode == 0, f"no Debian package {p}"
    if extra == ["libmicrohttpd12"]:
        pytest.xfail("libmicrohttpd12 is listed for the /metrics server (issue 7) the binary does not link yet")
    assert not extra, f"the runtime stage installs libraries the binary does not use: {extra}"


def test_runtime_packages_provide_the_node_tools():
    _, _, covered, _ = runtime_coverage()
    tools = {"mkfs.ext4", "mkfs.xfs", "e2fsck", "resize2fs", "xfs_growfs"}
    for f in glob.glob(os.path.join(ROOT, "node", "*.c")):
        if "fake" not in f:
            tools |= set(re.findall(r'"((?:mkfs|fsck)\.[a-z0-9]+|e2fsck|resize2fs|xfs_growfs|xfs_repair|tune2fs|'
                                    r'xfs_admin|blockdev|sfdisk|wipefs)"', open(f, errors="replace").read()))
    missing = []
    for t in sorted(tools):
        path = shutil.which(t) or shutil.which(t, path="/usr/sbin:/sbin")
        assert path, f"{t} is not installed here, so its package cannot be checked (add it to make deps)"
        pkg = package_of(path)
        if pkg not in covered:
            missing.append(f"{t} ({pkg})")
    assert not missing, f"the runtime image would lack {missing}"
    for p in ("ca-certificates", "e2fsprogs", "xfsprogs", "util-linux"):
        assert p in apt_packages(docker_stages()[-1]), p


def test_build_stage_has_the_dev_package_of_every_makefile_library():
    if not shutil.which("pkg-config") or not shutil.which("dpkg"):
        pytest.skip("pkg-config and dpkg are needed")
    mk = open(os.path.join(ROOT, "Makefile")).read()
    pcs = re.search(r"^PKG_ALL\s*=\s*(.*)$", mk, re.M).group(1).split()
    listed = set(apt_packages(docker_stages()[0]))
    installed = installed_packages()
    covered = closure(listed | {p for p, (e, _) in installed.items() if e}, installed)
    missing = []
    for pc in pcs:
        d = subprocess.run(["pkg-config", "--variable=pcfiledir", pc], stdout=subprocess.PIPE, text=True).stdout.strip()
        assert d, f"pkg-config does not know {pc} here"
        pkg = package_of(os.path.join(d, pc + ".pc"))
        if pkg not in covered:
            missing.append(f"{pc} ({pkg})")
    for tool in ("protoc-c",):
        if package_of(shutil.which(tool) or tool) not in covered:
            missing.append(tool)
    if package_of("/usr/include/google/protobuf/wrappers.proto") not in covered:
        missing.append("google/protobuf/wrappers.proto")
    assert not missing, f"the build stage lacks {missing}"


# ---- docs -----------------------------------------------------------------------------------------------------
def test_docs_links_resolve():
    docs = glob.glob(os.path.join(ROOT, "docs", "*.md"))
    assert len(docs) >= 6
    for f in docs:
        text = open(f).read()
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            assert os.path.exists(os.path.normpath(os.path.join(os.path.dirname(f), target))), f"{rel(f)}: {target}"
