"""Issue 8.5: 1000 concurrent CSI calls (40% Probe, 30% NodeGetInfo, 20% CreateVolume
racing over 25 names, 10% ControllerPublish over 20 volumes) against the RELEASE
daemon (ASan would blur the memory figures), twice: the first burst brings worker
pools, EC2 connections and caches to their steady state, the second is measured.
All calls answered OK or with a retryable code; after cleanup and a settle period
RSS within +2 MiB of the steady-state baseline, fds (EC2 keep-alive connections
aside, which are bounded) and threads back to it."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from stress import scenarios as S  # noqa: E402


def test_thousand_concurrent_calls(tmp_path):
    r = S.run_load(str(tmp_path), calls=1000, bursts=2, settle_s=3.0, seed=int(os.environ.get("STRESS_SEED", "1")))
    (tmp_path / "report.json").write_text(json.dumps(r, indent=1, default=str))
    print(json.dumps({k: r.get(k) for k in ("idle", "baseline", "after", "rss_delta_kb", "measured_codes",
                                            "measured_seconds")}))
    assert not r["violations"], json.dumps(r, indent=1, default=str)[-8000:]
