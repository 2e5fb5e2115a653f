"""Issue 8.2: the RELEASE daemon (build/ebs-csi-driver) under valgrind memcheck
(--leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99) through the
integration flows: identity calls, capabilities, NodeGetInfo, undecodable bodies,
an unknown method, invalid arguments, CreateVolume (and its replay), ControllerPublish,
NodeStage/NodePublish on the simulator's loop devices, stats, the way back, SIGTERM.
Valgrind must report 0 errors and 0 definitely-lost bytes; suppressions live in
tests/stress/valgrind.supp (library noise only, one comment each)."""
import json
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from stress import scenarios as S  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")


def test_release_daemon_under_valgrind(tmp_path):
    r = S.run_valgrind(str(tmp_path))
    (tmp_path / "report.json").write_text(json.dumps(r, indent=1, default=str))
    print(json.dumps({k: r.get(k) for k in ("valgrind", "steps", "garbage", "seconds")}))
    assert not r["violations"], json.dumps(r, indent=1, default=str)[-8000:]
