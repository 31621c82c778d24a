"""Run a command (JupyterLab) next to the embedded default Spark cluster; stop both together.

    python scripts/lab.py [--state-dir DIR] [--workers N] -- jupyter lab '--PexLab.master={master}'

1. Creates (once) a bare worker venv, `<state-dir>/worker-venv`: no pip, no packages. The
   workers put it first on their PATH, so whatever a job imports on an executor can only come from
   what pexlab shipped.
2. Starts a local standalone cluster (`pexlab.local.standalone`: 127.0.0.1, free ports) and writes
   its master URL and daemon PIDs to `<state-dir>/cluster.json`.
3. Runs the command with `{master}` in its arguments replaced by the master URL, and with
   `PEXLAB_DEMO_MASTER` (read by the demo notebook) and `SPARK_LOCAL_IP=127.0.0.1` (drivers of
   the kernels bind where the cluster can reach them) in its environment.
4. When the command ends, or this process gets SIGINT/SIGTERM (Ctrl-C, or SIGTERM to `make`),
   the command is asked to stop (SIGTERM: Jupyter shuts down without its "y/n" prompt), then the
   cluster daemons are stopped by PID.

With `--kernel NAME` the command (JupyterLab) also gets `jupyter_kernel_args(NAME)`: that
kernel is the only one the launcher and the kernel picker offer, and the default. Without it
JupyterLab would also offer "Python 3 (ipykernel)", the venv JupyterLab itself runs in, which
has neither the demo's packages nor its editable project.

A launcher killed with SIGKILL cannot clean up: the next run stops the daemons listed in
`cluster.json` that are still Spark daemons, before starting new ones.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parents[1]
try:
    from pexlab.local import ClusterError, LocalCluster, make_bare_python
except ImportError:  # run from a source tree without an install
    sys.path.insert(0, str(REPO))
    from pexlab.local import ClusterError, LocalCluster, make_bare_python

MASTER_PLACEHOLDER = "{master}"
# Seconds the command gets to exit after SIGTERM before it is killed.
COMMAND_STOP_TIMEOUT = 30.0


def jupyter_kernel_args(kernel: str) -> list[str]:
    """Jupyter Server options that offer `kernel` only, and start it by default: no native
    kernel (the server's own interpreter), only this kernelspec allowed."""
    return [
        "--KernelSpecManager.ensure_native_kernel=False",
        f"--KernelSpecManager.allowed_kernelspecs={kernel}",
        f"--MappingKernelManager.default_kernel_name={kernel}",
    ]


class Stop(Exception):
    """Raised from the signal handler: unwind to the `finally` that stops everything."""


@dataclass(frozen=True)
class ClusterRecord:
    """What a running launcher leaves in `<state-dir>/cluster.json` (tests and the next run)."""

    master: str
    launcher_pid: int
    daemon_pids: list[int]

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.__dict__))
        tmp.replace(path)  # never a half-written record

    @staticmethod
    def read(path: Path) -> ClusterRecord | None:
        try:
            return ClusterRecord(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _is_spark_daemon(pid: int) -> bool:
    return b"org.apache.spark.deploy." in _cmdline(pid)


def stop_leftovers(record_path: Path) -> None:
    """Stop the daemons a previous launcher could not stop (it was SIGKILLed)."""
    record = ClusterRecord.read(record_path)
    if record is None:
        return
    # (The PID may have been reused by an unrelated process since: check what it runs.)
    if record.launcher_pid != os.getpid() and Path(__file__).name.encode() in _cmdline(
        record.launcher_pid
    ):
        sys.exit(
            f"error: another `make lab` launcher (PID {record.launcher_pid}) owns {record_path}; "
            "stop it first, or give this one another --state-dir."
        )
    for pid in record.daemon_pids:
        # Only a process that still is a Spark daemon: the PID may have been reused since.
        if _is_spark_daemon(pid):
            print(f"Stopping a leftover Spark daemon (PID {pid})", file=sys.stderr)
            # Each daemon leads its own process group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
    record_path.unlink(missing_ok=True)


def ensure_worker_venv(path: Path) -> Path:
    """A venv with nothing installed (not even pip), of this interpreter's Python version."""
    python = path / "bin" / "python3"
    if python.exists():
        out = subprocess.run(
            [str(python), "-c", "import sys; print(sys.version_info[:2])"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        if out == str(sys.version_info[:2]):
            return python
    # A missing or foreign-version worker venv (ours, never the user's): create it afresh.
    return make_bare_python(path)


def run(command: list[str], state_dir: Path, workers: int) -> int:
    state_dir.mkdir(parents=True, exist_ok=True)
    record_path = state_dir / "cluster.json"
    stop_leftovers(record_path)
    worker_python = ensure_worker_venv(state_dir / "worker-venv")

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        raise Stop(signal.Signals(signum).name)

    # SIGINT is re-armed because a shell starts background jobs with it ignored.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    # The daemons' work dirs (event logs, each application's copy of the PEX and its unpacked
    # PEX_ROOT) live in the state dir. They are deleted only after the daemons are stopped and
    # the record is gone, so a slow disk delays nothing that matters; a run killed before that
    # leaves them for the next run to delete.
    work_dir = state_dir / "cluster"
    shutil.rmtree(work_dir, ignore_errors=True)
    cluster = LocalCluster(workers=workers, worker_python=str(worker_python), base_dir=work_dir)
    child: subprocess.Popen[bytes] | None = None
    try:
        print(
            f"Starting the embedded Spark cluster (master + {workers} workers; "
            f"workers' Python: {worker_python}, nothing installed)...",
            file=sys.stderr,
            flush=True,
        )
        cluster.start()
        # The PIDs are the JVMs (spark-class execs java), each leading its own process group.
        pids = cluster.pids
        ClusterRecord(cluster.master_url, os.getpid(), pids).write(record_path)
        print(
            f"Spark master {cluster.master_url} (web UI {cluster.ui_url}), daemon PIDs "
            f"{' '.join(map(str, pids))}",
            file=sys.stderr,
            flush=True,
        )
        env = dict(os.environ, PEXLAB_DEMO_MASTER=cluster.master_url, SPARK_LOCAL_IP="127.0.0.1")
        argv = [arg.replace(MASTER_PLACEHOLDER, cluster.master_url) for arg in command]
        child = subprocess.Popen(argv, env=env)
        return child.wait()
    except Stop as stop:
        print(f"\n{stop}: stopping JupyterLab and the Spark cluster...", file=sys.stderr)
        return 130 if str(stop) == "SIGINT" else 143
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not interrupt the clean-up.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if child is not None:
            stop_command(child)
        cluster.stop()
        record_path.unlink(missing_ok=True)
        print("Spark cluster stopped.", file=sys.stderr, flush=True)
        shutil.rmtree(work_dir, ignore_errors=True)


def stop_command(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=COMMAND_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python scripts/lab.py",
        description="Run COMMAND next to a local Spark standalone cluster; stop both together.",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=REPO / ".cache" / "lab",
        help="where the bare worker venv and cluster.json live (default: .cache/lab)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--kernel",
        help="the only kernelspec JupyterLab offers, and its default (e.g. pexlab-demo)",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --, e.g. -- jupyter lab")
    if args.kernel:
        command = [*command, *jupyter_kernel_args(args.kernel)]
    return run(command, args.state_dir.resolve(), args.workers)


if __name__ == "__main__":
    sys.exit(main())
