"""A small kustomize for the subset deploy/kubernetes/ uses, so the manifests can be rendered and checked where
kubectl is absent. tests/integration/test_deploy.py compares it with `kubectl kustomize` where kubectl exists.

Supported kustomization fields: apiVersion, kind, namespace, resources (files or directories with a
kustomization.yaml), images (name, newName, newTag, digest) and patches given as JSON 6902 operations (inline
`patch` or `path`) with a `target` (group, version, kind, name, namespace). Anything else is an error
(UnsupportedKustomization), so an overlay cannot quietly use a feature this renderer would get wrong.
Transformers run in kustomize's order: patches, then namespace, then images.
"""
import copy
import os

import yaml

SUPPORTED = {"apiVersion", "kind", "namespace", "resources", "images", "patches"}
CLUSTER_SCOPED = {
    "ClusterRole", "ClusterRoleBinding", "CSIDriver", "CSINode", "StorageClass", "VolumeAttributesClass",
    "VolumeSnapshotClass", "PriorityClass", "Namespace", "CustomResourceDefinition", "PersistentVolume",
    "Node", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
}


class UnsupportedKustomization(Exception):
    pass


def load_yaml_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def kustomization_file(d):
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        p = os.path.join(d, name)
        if os.path.isfile(p):
            return p
    return None


def pod_spec(obj):
    """The pod spec of a workload object, or None."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Pod":
        return spec
    if obj.get("kind") == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
    tmpl = spec.get("template")
    return tmpl.get("spec") if isinstance(tmpl, dict) else None


def containers(obj):
    ps = pod_spec(obj) or {}
    return list(ps.get("initContainers") or []) + list(ps.get("containers") or [])


def split_image(image):
    """'reg:5000/a/b:tag@sha256:..' → (name, tag, digest)."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1:], digest
    return image, None, digest


def join_image(name, tag, digest):
    s = name
    if tag:
        s += ":" + tag
    if digest:
        s += "@" + digest
    return s


# ---- JSON 6902 -----------------------------------------------------------------------------------------------
def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"JSON pointer must start with /: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts):
    cur = doc
    for p in parts:
        if isinstance(cur, list):
            cur = cur[int(p)]
        elif isinstance(cur, dict):
            cur = cur[p]
        else:
            raise KeyError(p)
    return cur


def apply_json6902(doc, ops):
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, parts = op["op"], _pointer(op["path"])
        if kind == "test":
            if _walk(doc, parts) != op["value"]:
                raise ValueError(f"test failed at {op['path']}")
            continue
        parent, last = _walk(doc, parts[:-1]), parts[-1]
        if kind == "add":
            if isinstance(parent, list):
                if last == "-":
                    parent.append(copy.deepcopy(op["value"]))
                else:
                    i = int(last)
                    if i > len(parent):
                        raise IndexError(op["path"])
                    parent.insert(i, copy.deepcopy(op["value"]))
            else:
                parent[last] = copy.deepcopy(op["value"])
        elif kind == "replace":
            if isinstance(parent, list):
                parent[int(last)] = copy.deepcopy(op["value"])
            else:
                if last not in parent:
                    raise KeyError(op["path"])
                parent[last] = copy.deepcopy(op["value"])
        elif kind == "remove":
            if isinstance(parent, list):
                del parent[int(last)]
            else:
                del parent[last]
        else:
            raise UnsupportedKustomization(f"JSON patch op {kind!r} is not supported here")
    return doc


def target_matches(target, obj):
    api = obj.get("apiVersion", "")
    group, version = (api.split("/", 1) if "/" in api else ("", api))
    meta = obj.get("metadata") or {}
    checks = {
        "group": group, "version": version, "kind": obj.get("kind"),
        "name": meta.get("name"), "namespace": meta.get("namespace"),
    }
    for k, v in target.items():
        if k not in checks:
            raise UnsupportedKustomization(f"patch target field {k!r} is not supported here")
        if checks[k] != v:
            return False
    return True


# ---- render -------------------------------------------------------------------------------------------------
def render(directory, _stack=()):
    """Renders the kustomization in directory; returns the list of objects. Raises UnsupportedKustomization,
    FileNotFoundError (a missing resource), ValueError (a patch that matches nothing or fails)."""
    directory = os.path.abspath(directory)
    if directory in _stack:
        raise ValueError(f"kustomization cycle through {directory}")
    kfile = kustomization_file(directory)
    if kfile is None:
        raise FileNotFoundError(f"no kustomization.yaml in {directory}")
    with open(kfile) as f:
        k = yaml.safe_load(f) or {}
    extra = set(k) - SUPPORTED
    if extra:
        raise UnsupportedKustomization(f"{kfile}: fields {sorted(extra)} are not supported by kustomize_lite")
    objs = []
    for r in k.get("resources") or []:
        p = os.path.join(directory, r)
        if os.path.isdir(p):
            objs += render(p, _stack + (directory,))
        elif os.path.isfile(p):
            objs += load_yaml_docs(p)
        else:
            raise FileNotFoundError(f"{kfile}: resource {r!r} does not exist")
    for patch in k.get("patches") or []:
        extra = set(patch) - {"target", "patch", "path"}
        if extra or "target" not in patch:
            raise UnsupportedKustomization(f"{kfile}: only JSON 6902 patches with a target are supported")
        if "path" in patch:
            with open(os.path.join(directory, patch["path"])) as f:
                ops = yaml.safe_load(f)
        else:
            ops = yaml.safe_load(patch["patch"])
        if not isinstance(ops, list):
            raise UnsupportedKustomization(f"{kfile}: a strategic-merge patch is not supported here; use JSON 6902")
        hits = [i for i, o in enumerate(objs) if target_matches(patch["target"], o)]
        if not hits:
            raise ValueError(f"{kfile}: patch target {patch['target']} matches no resource")
        for i in hits:
            objs[i] = apply_json6902(objs[i], ops)
    ns = k.get("namespace")
    if ns:
        for o in objs:
            if o.get("kind") not in CLUSTER_SCOPED:
                o.setdefault("metadata", {})["namespace"] = ns
    for img in k.get("images") or []:
        extra = set(img) - {"name", "newName", "newTag", "digest"}
        if extra:
            raise UnsupportedKustomization(f"{kfile}: image fields {sorted(extra)} are not supported")
        for o in objs:
            for c in containers(o):
                name, tag, digest = split_image(c.get("image", ""))
                if name != img["name"]:
                    continue
                name = img.get("newName", name)
                if "newTag" in img:
                    tag = str(img["newTag"])
                if "digest" in img:
                    digest, tag = img["digest"], None
                c["image"] = join_image(name, tag, digest)
    return objs


def key(obj):
    meta = obj.get("metadata") or {}
    return (obj.get("apiVersion"), obj.get("kind"), meta.get("namespace"), meta.get("name"))
