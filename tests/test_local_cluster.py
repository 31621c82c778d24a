"""`python -m pexlab.local.standalone`: a real master + worker, its master URL, a clean stop.

(The two-worker cluster used by tests/test_spark.py exercises the context manager.)
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pexlab.core.net import free_port
from pexlab.local.standalone import ClusterError, LocalCluster

REPO = Path(__file__).resolve().parents[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _pids_in_group(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group; a just-killed one may take a moment."""
    for _ in range(20):
        out = subprocess.run(
            ["ps", "-eo", "pid=,pgid=,stat="], capture_output=True, text=True
        ).stdout
        rows = [line.split() for line in out.splitlines()]
        live = [int(p) for p, g, st in rows if int(g) == pgid and not st.startswith("Z")]
        if not live:
            return []
        time.sleep(0.5)
    return live


@pytest.mark.spark
def test_cli_runs_a_cluster_until_interrupted(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), TMPDIR=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pexlab.local.standalone", "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        assert proc.stderr is not None
        master = proc.stdout.readline().strip()
        assert master.startswith("spark://127.0.0.1:"), proc.stderr.read()
        port = int(master.rsplit(":", 1)[1])
        ui = proc.stderr.readline().split()[2]
        with urllib.request.urlopen(ui + "/json/", timeout=5) as resp:
            state = json.loads(resp.read())
        assert state["url"] == master
        assert [w["state"] for w in state["workers"]] == ["ALIVE"]
        # Work dirs in the temp folder, not in site-packages.
        work = [p for p in tmp_path.glob("pexlab-cluster-*/worker-0")]
        assert len(work) == 1
        daemons = [
            int(p)
            for p in subprocess.run(
                ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
            ).stdout.split()
        ]
        assert len(daemons) == 2  # master + worker JVMs, children of the CLI
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        assert not _port_open(port)
        for pid in daemons:
            assert not _pids_in_group(pid), f"process group {pid} still has processes"
        assert not work[0].exists(), "temp folder removed"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.spark
def test_start_failure_is_reported_and_cleaned_up(tmp_path: Path) -> None:
    # A worker that cannot start: we say which daemon died and show its log, and stop the rest.
    cluster = LocalCluster(workers=1, memory="lots", base_dir=tmp_path)
    with pytest.raises(ClusterError, match="worker-0 exited") as info:
        cluster.start()
    assert "lots" in str(info.value) or "memory" in str(info.value).lower()
    assert cluster._daemons == []
    assert not _port_open(cluster.master_port)


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
