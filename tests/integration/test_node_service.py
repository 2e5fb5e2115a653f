"""The node service through the real daemon: served in node and all modes,
absent in controller mode, identity from IMDS, and start-up refusal when the
instance cannot be identified."""
import os

import grpc
import pytest

import csi_pb2
import csi_pb2_grpc
from conftest import run_driver


def node(d):
    return csi_pb2_grpc.NodeStub(d.channel)


@pytest.mark.parametrize("mode", ["node", "all"])
def test_node_get_info_from_imds(start_driver, mode):
    d = start_driver(mode)
    r = node(d).NodeGetInfo(csi_pb2.NodeGetInfoRequest(), timeout=10)
    assert r.node_id == "i-0123456789abcdef0"
    seg = dict(r.accessible_topology.segments)
    assert seg["topology.kubernetes.io/zone"] == "us-east-1a"
    assert seg["topology.ebs.csi.aws.com/zone"] == "us-east-1a"
    assert seg["kubernetes.io/os"] == "linux"
    # m5.large: shared Nitro limit 28 minus the root volume, one ENI
    assert r.max_volumes_per_node == 26


def test_attach_limit_flags(start_driver):
    d = start_driver("node", "--volume-attach-limit=5")
    assert node(d).NodeGetInfo(csi_pb2.NodeGetInfoRequest(), timeout=10).max_volumes_per_node == 5
    rc, _, err = run_driver("node", "--volume-attach-limit=5", "--reserved-volume-attachments=2")
    assert rc == 2 and "mutually exclusive" in err


def test_node_capabilities(start_driver):
    d = start_driver("node")
    r = node(d).NodeGetCapabilities(csi_pb2.NodeGetCapabilitiesRequest(), timeout=10)
    names = {csi_pb2.NodeServiceCapability.RPC.Type.Name(c.rpc.type) for c in r.capabilities}
    assert {"STAGE_UNSTAGE_VOLUME", "EXPAND_VOLUME", "GET_VOLUME_STATS"} <= names


def test_node_rpcs_unimplemented_in_controller_mode(start_driver):
    d = start_driver("controller")
    with pytest.raises(grpc.RpcError) as e:
        node(d).NodeGetInfo(csi_pb2.NodeGetInfoRequest(), timeout=10)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_validation_reaches_the_caller(start_driver):
    d = start_driver("node")
    with pytest.raises(grpc.RpcError) as e:
        node(d).NodeStageVolume(csi_pb2.NodeStageVolumeRequest(volume_id="vol-0123456789abcdef0"), timeout=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "staging_target_path" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        node(d).NodeUnpublishVolume(csi_pb2.NodeUnpublishVolumeRequest(target_path="/tmp/x"), timeout=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "volume_id" in e.value.details()


def test_kubelet_root_enforced(start_driver, tmp_path):
    d = start_driver("node", "--kubelet-root", str(tmp_path / "kubelet"))
    cap = csi_pb2.VolumeCapability(mount=csi_pb2.VolumeCapability.MountVolume(fs_type="ext4"),
                                   access_mode=csi_pb2.VolumeCapability.AccessMode(mode=1))
    with pytest.raises(grpc.RpcError) as e:
        node(d).NodeStageVolume(csi_pb2.NodeStageVolumeRequest(
            volume_id="vol-0123456789abcdef0", staging_target_path="/etc/evil", volume_capability=cap), timeout=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_node_refuses_to_start_without_instance_identity(tmp_path):
    rc, _, err = run_driver("node", "--endpoint", f"unix://{tmp_path}/n.sock",
                            env={"AWS_EC2_METADATA_DISABLED": "true"}, timeout=60)
    assert rc == 1
    assert "IMDS" in err or "metadata" in err
    assert not os.path.exists(tmp_path / "n.sock")
