"""scripts/lab.py, what `make lab` and the Galata web server run: the embedded cluster lives
exactly as long as the command next to it, and its daemons are stopped by PID.

The command here is a small Python process standing in for JupyterLab (it prints what it was
given and sleeps); the cluster is a real one.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
LAUNCHER = REPO / "scripts" / "lab.py"


def _load_launcher() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pexlab_lab_launcher", LAUNCHER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _alive(pid: int) -> bool:
    """Running, not a zombie (a killed daemon is reaped by init once the launcher is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.spark
def test_sigint_stops_the_command_and_the_cluster_daemons(tmp_path: Path) -> None:
    state = tmp_path / "lab"
    stand_in = (
        "import os, sys, time; "
        "print(sys.argv[1], os.environ['PEXLAB_DEMO_MASTER'], os.environ['SPARK_LOCAL_IP'], "
        "os.getpid(), flush=True); time.sleep(3600)"
    )
    launcher = subprocess.Popen(
        [
            sys.executable,
            str(LAUNCHER),
            "--state-dir",
            str(state),
            "--workers",
            "1",
            "--",
            sys.executable,
            "-c",
            stand_in,
            "--PexLab.master={master}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert launcher.stdout is not None
        assert launcher.stderr is not None
        line = launcher.stdout.readline().split()
        assert line, launcher.stderr.read()
        arg, env_master, local_ip, command_pid = line
        record = json.loads((state / "cluster.json").read_text())
        master = record["master"]
        # The command got the master in place of {master}, and in its environment.
        assert master.startswith("spark://127.0.0.1:")
        assert arg == f"--PexLab.master={master}"
        assert env_master == master
        assert local_ip == "127.0.0.1"
        assert record["launcher_pid"] == launcher.pid
        daemons = record["daemon_pids"]
        assert len(daemons) == 2  # master + 1 worker
        assert all(_alive(pid) for pid in daemons)
        assert _port_open(int(master.rsplit(":", 1)[1]))
        # The workers' Python is a bare venv: no pip, nothing installed.
        bare = state / "worker-venv" / "bin" / "python3"
        probe = subprocess.run([str(bare), "-c", "import pip"], capture_output=True)
        assert probe.returncode != 0

        launcher.send_signal(signal.SIGINT)
        # Generous: deleting the cluster's work dir is slow on a loaded disk.
        assert launcher.wait(timeout=600) == 130, launcher.stderr.read()
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()

    assert not _alive(int(command_pid))
    assert [pid for pid in daemons if _alive(pid)] == []
    assert not _port_open(int(master.rsplit(":", 1)[1]))
    assert not (state / "cluster.json").exists()
    assert not (state / "cluster").exists()


def test_the_command_is_required(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(LAUNCHER), "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "give the command to run after --" in result.stderr


def _wait_for_exec(pid: int, marker: str, timeout: float = 30.0) -> None:
    # Right after fork the child still shows the parent's (pytest's) command line: the launcher
    # judges a PID by what it runs, so wait until the child has exec'd its own.
    deadline = time.monotonic() + timeout
    cmdline = Path(f"/proc/{pid}/cmdline")
    while marker.encode() not in cmdline.read_bytes():
        assert time.monotonic() < deadline, f"PID {pid} never ran {marker}"
        time.sleep(0.05)


def _start(argv: list[str]) -> subprocess.Popen[bytes]:
    # Own process group, like the Spark daemons the launcher starts.
    return subprocess.Popen(argv, start_new_session=True)


def test_leftovers_of_a_killed_launcher_are_stopped_by_pid_if_still_spark(tmp_path: Path) -> None:
    lab = _load_launcher()
    sleep = [sys.executable, "-c", "import time; time.sleep(600)"]
    # A process whose command line is a Spark daemon's (a stand-in: the real ones are covered
    # above), and an unrelated one whose PID the record also names (a PID reused since).
    fake_daemon = _start([*sleep, "org.apache.spark.deploy.worker.Worker"])
    unrelated = _start(sleep)
    record = tmp_path / "cluster.json"
    try:
        _wait_for_exec(fake_daemon.pid, "org.apache.spark.deploy.worker.Worker")
        _wait_for_exec(unrelated.pid, "time.sleep")
        dead_launcher = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
        ).stdout.strip()
        record.write_text(
            json.dumps(
                {
                    "master": "spark://127.0.0.1:1",
                    "launcher_pid": int(dead_launcher),
                    "daemon_pids": [fake_daemon.pid, unrelated.pid],
                }
            )
        )
        lab.stop_leftovers(record)
        assert fake_daemon.wait(timeout=60) == -signal.SIGTERM
        assert unrelated.poll() is None
        assert not record.exists()
    finally:
        for proc in (fake_daemon, unrelated):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_a_live_launcher_keeps_its_cluster(tmp_path: Path) -> None:
    lab = _load_launcher()
    # A process that runs "lab.py" stands for another `make lab` still running.
    other = _start([sys.executable, "-c", "import time; time.sleep(600)", str(LAUNCHER)])
    record = tmp_path / "cluster.json"
    try:
        _wait_for_exec(other.pid, LAUNCHER.name)
        record.write_text(
            json.dumps(
                {"master": "spark://127.0.0.1:1", "launcher_pid": other.pid, "daemon_pids": []}
            )
        )
        with pytest.raises(SystemExit, match=f"PID {other.pid}"):
            lab.stop_leftovers(record)
        assert record.exists()
    finally:
        other.kill()
        other.wait()
