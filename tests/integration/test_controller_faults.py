"""The Controller service under EC2 faults (issue 5's "throttling survived without
failed RPCs" and issue 3's retries), over real gRPC against a private ebs-ec2-sim
per test: token-bucket throttling, injected 5xx, the simulator SIGKILLed and
restarted mid-run. The client behaves like the CSI sidecars: every call has a
timeout and is retried with backoff on ABORTED/UNAVAILABLE/DEADLINE_EXCEEDED/
RESOURCE_EXHAUSTED; whatever happens, every cycle must converge and EC2 must be
left without a leaked volume. Also the driver's EC2 metrics against the
simulator's own counts, and the EC2 calls per volume lifecycle (issue 5's
benchmark target) measured and printed.
"""
import concurrent.futures
import time
import uuid

import pytest

import csi_pb2
from ctl_helpers import (C, INSTANCE, INSTANCE_C, MUTATING, Stack, all_volumes, calls, code_of, create_req, ctl,
                         free_port, kill_hard, metric_sum, publish_req, reset_stats, scrape, set_faults, stats,
                         unpublish_req, with_retry)
from ec2sim_fixture import wait_for


@pytest.fixture
def stacks(tmp_path):
    made = []

    def make(sim_args=(), driver_args=("controller",)):
        st = Stack(tmp_path / f"s{len(made)}", sim_args, driver_args)
        made.append(st)
        st.ctl = ctl(st.driver)
        return st
    yield make
    for st in made:
        st.close()


def cycle(c, name, budget=120.0, seen=None, timeout=30.0):
    """CreateVolume then DeleteVolume, each retried like a sidecar. Returns the id."""
    vid = with_retry(c.CreateVolume, create_req(name, 1), budget=budget, timeout=timeout, log=seen).volume.volume_id
    with_retry(c.DeleteVolume, csi_pb2.DeleteVolumeRequest(volume_id=vid), budget=budget, timeout=timeout, log=seen)
    return vid


def run_cycles(st, n, prefix, budget=120.0, timeout=60.0):
    """n concurrent cycles; every RPC gets timeout seconds (the driver's deadline),
    generous enough that a throttled burst can drain within it."""
    seen = []
    names = [f"{prefix}-{i}-{uuid.uuid4().hex[:6]}" for i in range(n)]
    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        futs = [ex.submit(cycle, st.ctl, name, budget, seen, timeout) for name in names]
        vids = [f.result() for f in futs]
    assert len(set(vids)) == n
    return vids, seen


def no_leaks(st):
    # Faults off, so that boto3 (one attempt) sees the truth.
    set_faults(st.sim, throttle="off", fail_rate=0, drop_rate=0)
    left = [(v["VolumeId"], v["State"]) for v in all_volumes(st.sim.client())]
    assert left == [], f"volumes leaked in EC2: {left}"


@pytest.mark.parametrize("throttle", ["aws", "10/8"])
def test_throttled_create_delete_cycles_converge_and_metrics_agree(stacks, throttle):
    port = free_port()
    st = stacks(["--throttle", throttle], ("controller", f"--http-endpoint=127.0.0.1:{port}"))
    t0 = time.time()
    vids, seen = run_cycles(st, 30, "thr")
    took = time.time() - t0
    s = stats(st.sim)
    samples, text = scrape(port)
    print(f"\nthrottle={throttle}: 30 create+delete cycles in {took:.1f} s; RPC retries {len(seen)} "
          f"({sorted(set(c.name for c in seen))}); sim throttled {s['throttled']}; actions {s['actions']}")
    assert calls(s, "CreateVolume", "ok") >= 30 and calls(s, "DeleteVolume", "ok") == 30
    # Throttling that does not outlive a call's deadline is absorbed by the driver: no failed RPC.
    assert not seen, seen
    if throttle != "aws":
        assert s["throttled"] > 0, s
        assert calls(s, "CreateVolume", "RequestLimitExceeded") > 0, s
    # The driver's metrics count what the simulator saw, call for call.
    per_csi = "ebs_csi_ec2_requests_total"
    assert metric_sum(samples, per_csi, method_name="/csi.v1.Controller/CreateVolume",
                      request="CreateVolume") == calls(s, "CreateVolume")
    assert metric_sum(samples, per_csi, method_name="/csi.v1.Controller/DeleteVolume",
                      request="DeleteVolume") == calls(s, "DeleteVolume")
    for action in ("CreateVolume", "DeleteVolume", "DescribeVolumes"):
        assert metric_sum(samples, per_csi, request=action) == calls(s, action), action
        assert metric_sum(samples, "aws_ebs_csi_api_request_throttles_total", operation_name=action) == \
            calls(s, action, "RequestLimitExceeded"), action
    if s["throttled"]:
        assert "# TYPE aws_ebs_csi_api_request_throttles_total counter" in text
    ok_creates = metric_sum(samples, "aws_ebs_csi_api_request_duration_seconds_count", request="CreateVolume")
    assert ok_creates == calls(s, "CreateVolume", "ok")
    no_leaks(st)


def test_injected_5xx_converge(stacks):
    st = stacks(["--fail-rate", "0.2", "--seed", "42"])
    t0 = time.time()
    vids, seen = run_cycles(st, 30, "fail")
    s = stats(st.sim)
    failed = sum(calls(s, None, o) for o in ("InternalError", "Unavailable"))
    print(f"\nfail-rate 0.2: 30 cycles in {time.time() - t0:.1f} s; injected 5xx {failed}; RPC retries {len(seen)}; "
          f"actions {s['actions']}")
    assert failed > 0
    assert not seen, seen  # retried inside the driver, within each call's deadline
    no_leaks(st)


def timed(fn, req, timeout=4):
    t = time.time()
    code, details, _ = code_of(fn, req, timeout=timeout)
    return code, details, time.time() - t


def test_simulator_killed_and_restarted_mid_run(stacks):
    """SIGKILL of EC2 (the simulator) while 8 create+delete cycles run, restart on
    the same port and state 1 s after the probing calls below: the same driver
    process recovers without a restart, and nothing is left behind."""
    port = free_port()
    st = stacks(["--listen", f"127.0.0.1:{port}"])
    base = stats(st.sim)
    seen = []
    names = [f"kill-{i}-{uuid.uuid4().hex[:6]}" for i in range(8)]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        futs = [ex.submit(cycle, st.ctl, n, 120.0, seen, 30.0) for n in names]
        wait_for(lambda: calls(stats(st.sim), "CreateVolume", "ok") - calls(base, "CreateVolume", "ok") >= 3,
                 30, 0.02, "some volumes created")
        kill_hard(st.sim)
        # EC2 is gone: the driver answers UNAVAILABLE or DEADLINE_EXCEEDED, within the calls' deadlines.
        with concurrent.futures.ThreadPoolExecutor(3) as ex2:
            down = list(ex2.map(lambda a: timed(*a), (
                (st.ctl.CreateVolume, create_req(f"down-{uuid.uuid4().hex[:6]}", 1)),
                (st.ctl.DeleteVolume, csi_pb2.DeleteVolumeRequest(volume_id="vol-0123456789abcdef1")),
                (st.ctl.ListSnapshots, csi_pb2.ListSnapshotsRequest()))))
        assert all(c in (C.UNAVAILABLE, C.DEADLINE_EXCEEDED) for c, _, _ in down), down
        assert all(dt < 10 for _, _, dt in down), down
        time.sleep(1)
        st.sim = st.start_sim("--listen", f"127.0.0.1:{port}")  # same state dir, same port
        assert st.sim.port == port
        vids = [f.result() for f in futs]
    print(f"\nkilled/restarted: while down {[(c.name, round(dt, 1)) for c, _, dt in down]}; RPC retries {len(seen)} "
          f"({sorted(set(c.name for c in seen))})")
    assert len(set(vids)) == len(names)
    # The same driver process, never restarted, works normally.
    vid = st.ctl.CreateVolume(create_req(f"after-{uuid.uuid4().hex[:6]}", 1), timeout=60).volume.volume_id
    st.ctl.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=vid), timeout=60)
    assert st.driver.identity().Probe(csi_pb2.ProbeRequest(), timeout=10).ready.value
    # Every cycle deleted its volume; the calls made while EC2 was down created nothing.
    no_leaks(st)


def test_ec2_calls_per_volume_lifecycle(stacks):
    """Issue 5's target, measured: 20 volumes in flight through create → publish →
    unpublish → delete. Exactly 4 mutating calls per volume; Describe calls per CSI
    operation printed (and bounded loosely)."""
    st = stacks()
    n = 20
    reset_stats(st.sim)
    seen = []

    def life(i):
        node = INSTANCE if i % 2 == 0 else INSTANCE_C
        name = f"life-{i}-{uuid.uuid4().hex[:6]}"
        vid = with_retry(st.ctl.CreateVolume, create_req(name, 1), log=seen).volume.volume_id
        with_retry(st.ctl.ControllerPublishVolume, publish_req(vid, node), log=seen)
        with_retry(st.ctl.ControllerUnpublishVolume, unpublish_req(vid, node), log=seen)
        with_retry(st.ctl.DeleteVolume, csi_pb2.DeleteVolumeRequest(volume_id=vid), log=seen)
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        list(ex.map(life, range(n)))
    took = time.time() - t0
    s = stats(st.sim)
    ops = 4 * n
    rows = sorted(s["actions"].items())
    lines = [f"{'action':<30}{'calls':>7}{'per volume':>12}{'per op':>9}  outcomes"]
    for a, per in rows:
        k = sum(per.values())
        lines.append(f"{a:<30}{k:>7}{k / n:>12.2f}{k / ops:>9.3f}  {per}")
    mutating = sum(calls(s, a) for a in MUTATING)
    describe = sum(calls(s, a) for a in s["actions"] if a.startswith("Describe"))
    lines.append(f"{'mutating':<30}{mutating:>7}{mutating / n:>12.2f}")
    lines.append(f"{'Describe*':<30}{describe:>7}{describe / n:>12.2f}{describe / ops:>9.3f}")
    print(f"\nEC2 calls for {n} volume lifecycles in flight ({took:.1f} s, RPC retries {len(seen)}):\n" +
          "\n".join(lines))
    assert not seen, seen
    for a in ("CreateVolume", "AttachVolume", "DetachVolume", "DeleteVolume"):
        assert s["actions"].get(a) == {"ok": n}, (a, s["actions"].get(a))
    assert mutating == 4 * n
    assert describe / ops <= 1.0, describe
