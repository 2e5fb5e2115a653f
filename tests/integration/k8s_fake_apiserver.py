"""A fake Kubernetes API server for the k8s/ client tests.

Python http.server on 127.0.0.1 over HTTPS (a self-signed certificate made at
test time with the openssl CLI; the client keeps TLS verification on), holding
Nodes, CSINodes and VolumeAttachments in memory with resourceVersions and an
event log, so that GET, LIST (with fieldSelector metadata.name and pagination),
PATCH (RFC 6902 JSON patch: test, add, replace, remove) and WATCH (chunked
event stream from a resourceVersion, BOOKMARK-free, 410 for compacted
versions) behave like the real thing. Tests script faults through `hooks`:
callables that may answer a request themselves (401/403/409/429/5xx, a test-op
conflict, a dropped watch) before the normal handling.

Every request is recorded (method, path, query, body, token seen); the bearer
token is a random string so a test can assert it never leaks.
"""
import copy
import json
import os
import secrets
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = {
    "/api/v1/nodes": "nodes",
    "/apis/storage.k8s.io/v1/csinodes": "csinodes",
    "/apis/storage.k8s.io/v1/volumeattachments": "volumeattachments",
}


def make_cert(directory, name, cn="127.0.0.1"):
    cert = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def status_body(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class JSONPatchError(Exception):
    pass


def _walk(doc, pointer):
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    parent = doc
    for p in parts[:-1]:
        parent = parent[int(p)] if isinstance(parent, list) else parent[p]
    return parent, parts[-1]


def apply_json_patch(doc, ops):
    doc = copy.deepcopy(doc)
    for op in ops:
        try:
            parent, last = _walk(doc, op["path"])
        except (KeyError, IndexError, ValueError) as e:
            raise JSONPatchError(f"path {op['path']}: {e}")
        kind = op["op"]
        if kind == "test":
            cur = (parent[int(last)] if isinstance(parent, list) else parent.get(last)) if parent is not None else None
            if cur != op["value"]:
                raise JSONPatchError(f"testing value {op['path']} failed: test failed")
        elif kind in ("replace", "add"):
            if isinstance(parent, list):
                if kind == "add":
                    parent.insert(len(parent) if last == "-" else int(last), op["value"])
                else:
                    parent[int(last)] = op["value"]
            else:
                if kind == "replace" and last not in parent:
                    raise JSONPatchError(f"replace {op['path']}: missing")
                parent[last] = op["value"]
        elif kind == "remove":
            if isinstance(parent, list):
                del parent[int(last)]
            else:
                del parent[last]
        else:
            raise JSONPatchError("unsupported op " + kind)
    return doc


class FakeAPIServer:
    def __init__(self, directory, client_ca=None):
        self.dir = directory
        # As long as a service-account JWT (~1 KB): a message quoting it must be
        # redacted before it is cut, or the token's head would survive.
        self.token = "tok-" + secrets.token_hex(450)
        self.tokens = {self.token}
        self.cond = threading.Condition()
        self.rv = 1000
        self.compacted = 0            # watches from a resourceVersion below this get 410
        self.store = {k: {} for k in KINDS.values()}
        self.events = {k: [] for k in KINDS.values()}
        self.requests = []
        self.hooks = []               # fn(req) -> None or (status, body_dict, headers) or "drop"
        self.watch_hooks = []         # fn(kind, event_index_in_this_watch, req) -> None, "drop" or "end"
        self.page_size = 0            # > 0: paginate LISTs
        self.allow_client_cert = False
        self.stopping = False
        self.cert, self.key = make_cert(directory, "apiserver")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        if client_ca:
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(client_ca)
        handler = self._handler_class()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    # ---- state -------------------------------------------------------------
    def put(self, kind, obj, event=None):
        with self.cond:
            self.rv += 1
            obj = copy.deepcopy(obj)
            obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
            name = obj["metadata"]["name"]
            existed = name in self.store[kind]
            self.store[kind][name] = obj
            self.events[kind].append((self.rv, event or ("MODIFIED" if existed else "ADDED"), copy.deepcopy(obj)))
            self.cond.notify_all()
            return obj

    def delete(self, kind, name):
        with self.cond:
            obj = self.store[kind].pop(name)
            self.rv += 1
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self.events[kind].append((self.rv, "DELETED", obj))
            self.cond.notify_all()

    def get(self, kind, name):
        with self.cond:
            o = self.store[kind].get(name)
            return copy.deepcopy(o)

    def compact(self):
        with self.cond:
            self.compacted = self.rv + 1

    def seen(self, method=None, path_prefix="", watch=None):
        out = []
        for r in list(self.requests):
            if method and r["method"] != method:
                continue
            if not r["path"].startswith(path_prefix):
                continue
            if watch is not None and (r["query"].get("watch") == ["1"]) != watch:
                continue
            out.append(r)
        return out

    def stop(self):
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()

    # ---- HTTP --------------------------------------------------------------
    def _handler_class(self):
        srv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # quiet
                pass

            def _send(self, code, body, headers=None):
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _drop(self):
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self.close_connection = True

            def _chunk(self, data):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def _handle(self, method):
                u = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(u.query)
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                auth = self.headers.get("Authorization", "")
                token = auth[7:] if auth.startswith("Bearer ") else None
                peer = None
                try:
                    peer = self.connection.getpeercert()
                except (AttributeError, ValueError):
                    pass
                req = {"method": method, "path": u.path, "query": query, "body": body, "token": token,
                       "content_type": self.headers.get("Content-Type"), "peer": peer}
                srv.requests.append(req)
                for hook in list(srv.hooks):
                    r = hook(req)
                    if r == "drop":
                        return self._drop()
                    if isinstance(r, tuple) and r[0] == "watch-error":
                        # A 200 stream whose one event is an ERROR Status, as the
                        # API server reports a compacted resourceVersion.
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        self._chunk(json.dumps({"type": "ERROR", "object": r[1]}).encode() + b"\n")
                        self._chunk(b"")
                        return
                    if r is not None:
                        code, b, h = r if len(r) == 3 else (r[0], r[1], None)
                        return self._send(code, b, h)
                authed = token in srv.tokens or (srv.allow_client_cert and peer)
                if not authed:
                    # Echoes what it got, as some proxies do: the client must redact it.
                    return self._send(401, status_body(401, "Unauthorized", f"Unauthorized: invalid bearer token {token}"))
                for prefix, kind in KINDS.items():
                    if u.path == prefix:
                        if method != "GET":
                            return self._send(405, status_body(405, "MethodNotAllowed", "method not allowed"))
                        if query.get("watch") == ["1"]:
                            return self._watch(kind, query, req)
                        return self._list(kind, query)
                    if u.path.startswith(prefix + "/"):
                        name = u.path[len(prefix) + 1:]
                        if method == "GET":
                            obj = srv.get(kind, name)
                            if obj is None:
                                return self._send(404, status_body(404, "NotFound", f'{kind} "{name}" not found'))
                            return self._send(200, obj)
                        if method == "PATCH":
                            return self._patch(kind, name, req)
                return self._send(404, status_body(404, "NotFound", "the server could not find the requested resource"))

            def _selected(self, kind, query):
                items = sorted(srv.store[kind].values(), key=lambda o: o["metadata"]["name"])
                sel = (query.get("fieldSelector") or [""])[0]
                if sel.startswith("metadata.name="):
                    items = [o for o in items if o["metadata"]["name"] == sel[len("metadata.name="):]]
                return items

            def _list(self, kind, query):
                with srv.cond:
                    items = copy.deepcopy(self._selected(kind, query))
                    rv = str(srv.rv)
                meta = {"resourceVersion": rv}
                start = int((query.get("continue") or ["0"])[0] or 0)
                if srv.page_size > 0:
                    end = start + srv.page_size
                    if end < len(items):
                        meta["continue"] = str(end)
                    items = items[start:end]
                return self._send(200, {"kind": "List", "apiVersion": "v1", "metadata": meta, "items": items})

            def _patch(self, kind, name, req):
                if req["content_type"] != "application/json-patch+json":
                    return self._send(415, status_body(415, "UnsupportedMediaType", "json patch only here"))
                with srv.cond:
                    obj = srv.store[kind].get(name)
                    if obj is None:
                        return self._send(404, status_body(404, "NotFound", f'{kind} "{name}" not found'))
                    try:
                        new = apply_json_patch(obj, json.loads(req["body"]))
                    except JSONPatchError as e:
                        return self._send(422, status_body(422, "Invalid", str(e)))
                    out = srv.put(kind, new)
                return self._send(200, out)

            def _watch(self, kind, query, req):
                rv = int((query.get("resourceVersion") or ["0"])[0] or 0)
                timeout = float((query.get("timeoutSeconds") or ["30"])[0])
                sel = (query.get("fieldSelector") or [""])[0]
                want = sel[len("metadata.name="):] if sel.startswith("metadata.name=") else None
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                end = time.monotonic() + timeout
                sent = 0
                with srv.cond:
                    if rv and rv < srv.compacted:
                        ev = {"type": "ERROR", "object": status_body(410, "Expired", f"too old resource version: {rv}")}
                        self._chunk(json.dumps(ev).encode() + b"\n")
                        self._chunk(b"")
                        return
                    if not rv:
                        rv = srv.rv
                    while not srv.stopping:
                        pending = [e for e in srv.events[kind] if e[0] > rv and
                                   (want is None or e[2]["metadata"]["name"] == want)]
                        for erv, etype, eobj in pending:
                            for hook in list(srv.watch_hooks):
                                act = hook(kind, sent, req)
                                if act == "drop":
                                    return self._drop()
                                if act == "end":
                                    self._chunk(b"")
                                    return
                            self._chunk(json.dumps({"type": etype, "object": eobj}).encode() + b"\n")
                            sent += 1
                            rv = erv
                        rv = max(rv, max((e[0] for e in srv.events[kind]), default=rv))
                        left = end - time.monotonic()
                        if left <= 0:
                            break
                        srv.cond.wait(min(left, 0.2))
                try:
                    self._chunk(b"")
                except OSError:
                    pass

            def do_GET(self):
                self._handle("GET")

            def do_PATCH(self):
                self._handle("PATCH")

        return Handler

    # ---- client configuration ---------------------------------------------
    def write_kubeconfig(self, path, token=True, client_cert=None, client_key=None, ca_inline=False):
        import base64
        lines = ["apiVersion: v1", "kind: Config", "current-context: test",
                 "contexts:", "- name: other", "  context: {cluster: nowhere}",
                 "- context:", "    cluster: fake", "    user: me", "  name: test",
                 "clusters:", "- name: fake", "  cluster:", f"    server: {self.url}"]
        if ca_inline:
            with open(self.cert, "rb") as f:
                lines.append("    certificate-authority-data: " + base64.b64encode(f.read()).decode())
        else:
            lines.append(f"    certificate-authority: {os.path.relpath(self.cert, os.path.dirname(path))}")
        lines += ["users:", "- name: me", "  user:"]
        if token:
            lines.append(f'    token: "{self.token}"')
        for field, fn in (("client-certificate-data", client_cert), ("client-key-data", client_key)):
            if fn:
                with open(fn, "rb") as f:
                    lines.append(f"    {field}: " + base64.b64encode(f.read()).decode())
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path
