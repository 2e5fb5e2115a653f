"""Identity service and server behaviour over a real unix socket."""
import concurrent.futures
import json
import os
import signal
import stat
import time

import grpc
import pytest

import csi_pb2
import csi_pb2_grpc
from conftest import run_driver, version_info


def caps(resp):
    out = set()
    for c in resp.capabilities:
        if c.HasField("service"):
            out.add(csi_pb2.PluginCapability.Service.Type.Name(c.service.type))
        if c.HasField("volume_expansion"):
            out.add("EXPANSION_" + csi_pb2.PluginCapability.VolumeExpansion.Type.Name(c.volume_expansion.type))
    return out


def test_get_plugin_info(driver):
    r = driver.identity().GetPluginInfo(csi_pb2.GetPluginInfoRequest(), timeout=5)
    assert r.name == "ebs.csi.aws.com"
    assert r.vendor_version == version_info()["driverVersion"]
    assert r.vendor_version


def test_capabilities_all_mode(driver):
    r = driver.identity().GetPluginCapabilities(csi_pb2.GetPluginCapabilitiesRequest(), timeout=5)
    assert caps(r) == {"CONTROLLER_SERVICE", "VOLUME_ACCESSIBILITY_CONSTRAINTS", "EXPANSION_ONLINE"}


@pytest.mark.parametrize("mode_args", [["node"], ["--mode=node"], ["--mode", "node"]])
def test_node_mode_has_no_controller_service(start_driver, mode_args):
    d = start_driver(*mode_args)
    r = d.identity().GetPluginCapabilities(csi_pb2.GetPluginCapabilitiesRequest(), timeout=5)
    assert caps(r) == {"VOLUME_ACCESSIBILITY_CONSTRAINTS", "EXPANSION_ONLINE"}


def test_controller_mode_advertises_controller(start_driver):
    d = start_driver("controller")
    r = d.identity().GetPluginCapabilities(csi_pb2.GetPluginCapabilitiesRequest(), timeout=5)
    assert "CONTROLLER_SERVICE" in caps(r)


def test_probe_ready(driver):
    r = driver.identity().Probe(csi_pb2.ProbeRequest(), timeout=5)
    assert r.HasField("ready") and r.ready.value is True


def test_unknown_method_is_unimplemented(driver):
    call = driver.channel.unary_unary("/csi.v1.Identity/NoSuchMethod")
    with pytest.raises(grpc.RpcError) as e:
        call(b"", timeout=5)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "/csi.v1.Identity/NoSuchMethod" in e.value.details()
    # Streaming SnapshotMetadata is not served either.
    with pytest.raises(grpc.RpcError) as e:
        driver.channel.unary_unary("/csi.v1.SnapshotMetadata/GetMetadataAllocated")(b"", timeout=5)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_services_of_other_mode_are_unimplemented(start_driver):
    d = start_driver("node")
    ctrl = csi_pb2_grpc.ControllerStub(d.channel)
    with pytest.raises(grpc.RpcError) as e:
        ctrl.CreateVolume(csi_pb2.CreateVolumeRequest(name="x"), timeout=5)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    with pytest.raises(grpc.RpcError) as e:
        ctrl.ControllerGetCapabilities(csi_pb2.ControllerGetCapabilitiesRequest(), timeout=5)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


@pytest.mark.parametrize("payload", [b"\xff\xff\xff\xff", b"\x0a\x05ab", b"\x08" + b"\xff" * 11])
def test_garbage_payload_is_invalid_argument_and_server_survives(driver, payload):
    raw = driver.channel.unary_unary("/csi.v1.Identity/GetPluginInfo")
    with pytest.raises(grpc.RpcError) as e:
        raw(payload, timeout=5)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "GetPluginInfoRequest" in e.value.details()
    assert driver.identity().Probe(csi_pb2.ProbeRequest(), timeout=5).ready.value


def test_500_concurrent_calls_all_answered(driver):
    ident = driver.identity()
    calls = [ident.Probe.future(csi_pb2.ProbeRequest(), timeout=30) if i % 3 == 0 else
             ident.GetPluginInfo.future(csi_pb2.GetPluginInfoRequest(), timeout=30) if i % 3 == 1 else
             ident.GetPluginCapabilities.future(csi_pb2.GetPluginCapabilitiesRequest(), timeout=30)
             for i in range(500)]
    answered = 0
    for f in calls:
        r = f.result()
        assert r is not None
        answered += 1
    assert answered == 500


def test_concurrent_clients_on_separate_channels(driver):
    def worker(_):
        with grpc.insecure_channel(driver.endpoint.replace("unix://", "unix://")) as ch:
            s = csi_pb2_grpc.IdentityStub(ch)
            return sum(1 for _ in range(20) if s.Probe(csi_pb2.ProbeRequest(), timeout=10).ready.value)
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        assert sum(ex.map(worker, range(16))) == 320


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_exits_zero_and_removes_socket(start_driver, sig):
    d = start_driver("all")
    assert d.identity().Probe(csi_pb2.ProbeRequest(), timeout=5).ready.value
    rc = d.stop(sig)
    assert rc == 0, d.output()
    assert not os.path.exists(d.sock)
    assert "stopped" in d.output()


def test_socket_directory_created_and_mode_0660(driver):
    st = os.stat(driver.sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660


def test_stale_socket_is_replaced(start_driver, tmp_path):
    d = start_driver("all")
    sock = d.sock
    # Simulate a crash: SIGKILL leaves the socket file behind.
    d.proc.kill()
    d.proc.wait()
    d.log.close()
    assert os.path.exists(sock)
    import conftest
    d2 = conftest.Driver(["all"], os.path.dirname(os.path.dirname(sock)), str(tmp_path / "second.log"))
    try:
        assert d2.identity().Probe(csi_pb2.ProbeRequest(), timeout=5).ready.value
    finally:
        assert d2.stop() == 0


def test_live_socket_is_not_stolen(driver, tmp_path):
    rc, out, err = run_driver("all", "--endpoint", driver.endpoint, timeout=20)
    assert rc == 1
    assert "served by another process" in err
    assert driver.identity().Probe(csi_pb2.ProbeRequest(), timeout=5).ready.value


def test_non_socket_file_is_never_removed(tmp_path):
    path = tmp_path / "data.sock"
    path.write_text("precious")
    rc, _, err = run_driver("all", "--endpoint", f"unix://{path}")
    assert rc == 1
    assert "not a socket" in err
    assert path.read_text() == "precious"


def test_tcp_endpoint(tmp_path):
    import socket
    import subprocess
    from conftest import DRIVER
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    p = subprocess.Popen([DRIVER, "all", "--endpoint", f"tcp://127.0.0.1:{port}"], stderr=subprocess.PIPE)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            grpc.channel_ready_future(ch).result(timeout=20)
            r = csi_pb2_grpc.IdentityStub(ch).GetPluginInfo(csi_pb2.GetPluginInfoRequest(), timeout=5)
            assert r.name == "ebs.csi.aws.com"
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0


def test_csi_endpoint_environment_variable(tmp_path):
    import subprocess
    from conftest import DRIVER, wait_for_socket
    sock = tmp_path / "env" / "csi.sock"
    env = dict(os.environ, CSI_ENDPOINT=f"unix://{sock}")
    p = subprocess.Popen([DRIVER], env=env, stderr=subprocess.PIPE)
    try:
        wait_for_socket(str(sock), p)
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0


# ---- flags ----------------------------------------------------------------------

def test_version_json():
    v = version_info()
    for key in ("driverVersion", "gitCommit", "buildDate", "compiler", "platform"):
        assert v.get(key), key


def test_help():
    rc, out, _ = run_driver("-h")
    assert rc == 0
    assert "--endpoint" in out and "--logging-format" in out


@pytest.mark.parametrize("args,needle", [
    (["--no-such-flag"], "--no-such-flag"),
    (["--logging-format=yaml"], "--logging-format"),
    (["-v=loud"], "--v"),
    (["--mode=both"], "--mode"),
    (["sideways"], "sideways"),
    (["--endpoint"], "--endpoint"),
    (["--endpoint=http://x"], "scheme"),
    (["--workers=0"], "--workers"),
])
def test_bad_flags_exit_2_naming_them(args, needle):
    rc, _, err = run_driver(*args)
    assert rc == 2 or (rc == 1 and needle == "scheme"), err
    assert needle in err


def test_json_logging_and_error_line(start_driver):
    d = start_driver("all", "--logging-format=json", "-v=4")
    raw = d.channel.unary_unary("/csi.v1.Identity/Probe")
    with pytest.raises(grpc.RpcError):
        raw(b"\xff\xff", timeout=5)
    d.identity().GetPluginInfo(csi_pb2.GetPluginInfoRequest(), timeout=5)
    assert d.stop() == 0
    lines = [json.loads(l) for l in d.output().splitlines() if l.startswith("{")]
    assert lines, d.output()
    errors = [l for l in lines if l.get("msg") == "GRPC error"]
    assert len(errors) == 1
    assert errors[0]["method"] == "/csi.v1.Identity/Probe" and errors[0]["code"] == "INVALID_ARGUMENT"
    assert any(l.get("msg") == "GRPC call" and l.get("method") == "/csi.v1.Identity/GetPluginInfo" for l in lines)


def test_text_logging_is_klog_style(start_driver):
    import re
    d = start_driver("all", "-v", "4")
    d.identity().Probe(csi_pb2.ProbeRequest(), timeout=5)
    assert d.stop() == 0
    pat = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ [\w.-]+\.c:\d+\] ")
    lines = d.output().splitlines()
    assert lines and all(pat.match(l) for l in lines), lines[:5]
    assert any("GRPC call" in l and "Probe" in l for l in lines)
