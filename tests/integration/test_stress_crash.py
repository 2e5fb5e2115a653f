"""Issue 8.4, reduced for make test. kill -9 of the driver (its whole process group,
as a container runtime does) at random points of CreateVolume, ControllerPublish,
NodeStage (half the time exactly while mkfs runs) and NodeExpand, restart, the client
retries: the operation converges, one volume per name in EC2, one attachment, and a
staged filesystem that fsck -n finds clean — including a kill in the middle of mkfs,
which the restarted driver finishes through its format claim (node/format_claim.h).
And kill -9 of the SIMULATOR mid-run: the driver answers
UNAVAILABLE/DEADLINE_EXCEEDED meanwhile and recovers without a restart.
The full run (50 kills) is `make soak`."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from stress import procs as P, scenarios as S  # noqa: E402

pytestmark = pytest.mark.skipif(not P.can_loop(), reason="needs root and loop devices")


def test_driver_kill9_converges(tmp_path):
    r = S.run_crash(str(tmp_path), runs=6, child_rate=0.75, seed=int(os.environ.get("STRESS_SEED", "1")))
    (tmp_path / "report.json").write_text(json.dumps(r, indent=1, default=str))
    print(json.dumps(r["by_op"]))
    assert not r["violations"], json.dumps(r, indent=1, default=str)[-8000:]
    assert r["driver_starts"] >= 7


def test_kill9_during_mkfs_is_finished_on_retry(tmp_path):
    """Every kill lands while mkfs runs (ext4 and xfs alternate): each stage converges."""
    r = S.run_crash(str(tmp_path), runs=4, ops=("NodeStageVolume",), child_rate=1,
                    seed=int(os.environ.get("STRESS_SEED", "1")))
    (tmp_path / "report.json").write_text(json.dumps(r, indent=1, default=str))
    print(json.dumps(r["by_op"]))
    assert not r["violations"], json.dumps(r, indent=1, default=str)[-8000:]
    assert r["by_op"]["NodeStageVolume"]["converged"] == 4


def test_simulator_kill9_driver_recovers(tmp_path):
    r = S.run_sim_restart(str(tmp_path), seed=int(os.environ.get("STRESS_SEED", "1")))
    (tmp_path / "report.json").write_text(json.dumps(r, indent=1, default=str))
    print(json.dumps(r.get("while_down")))
    assert not r["violations"], json.dumps(r, indent=1, default=str)[-8000:]
