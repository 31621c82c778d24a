"""A local Spark standalone cluster (1 master + N workers) from the pip `pyspark` package.

The pip distribution has `bin/spark-class` and the jars but no `sbin/start-master.sh`, so the
daemons are started directly with `spark-class` (which `exec`s java, so the PID we hold is the
JVM).  Everything listens on 127.0.0.1 on free ports, work dirs live in a temp folder, and each
process is started in its own session so stopping it (by PID / process group) also ends the
executors a worker forked, and nothing else.

    with LocalCluster(workers=2) as cluster:
        print(cluster.master_url)      # spark://127.0.0.1:PORT

    python -m pexlab.local.standalone     # prints the master URL, runs until Ctrl-C
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pexlab.core.errors import PexlabError
from pexlab.core.net import free_port
from pexlab.core.processes import spawn_in_group, stop_group
from pexlab.local.daemons import Daemonized


class ClusterError(PexlabError):
    """The local cluster could not be started (no Java, no pyspark, daemon died, timeout)."""


def spark_home() -> Path:
    """The pip pyspark package folder, which is a usable SPARK_HOME (bin/, jars/, python/lib)."""
    try:
        import pyspark
    except ImportError as exc:
        raise ClusterError(
            "pyspark is not installed in this interpreter (pip install pyspark)."
        ) from exc
    home = Path(pyspark.__file__).parent
    if not (home / "bin" / "spark-class").exists():
        raise ClusterError(f"{home} has no bin/spark-class: not a pip pyspark distribution?")
    return home


@dataclass
class _Daemon:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path


@dataclass
class LocalCluster(Daemonized):
    """Master + `workers` workers, each with `cores` cores and `memory` of memory.

    `worker_python`: the interpreter executors use when the driver does not choose one (Spark's
    default is `python3` on the worker's PATH); its folder is put first on the workers' PATH.
    `env`: extra environment variables for the daemons (and so for executors).
    """

    workers: int = 2
    cores: int = 1
    memory: str = "1g"
    worker_python: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    base_dir: Path | None = None
    start_timeout: float = 90.0
    master_port: int = 0
    webui_port: int = 0
    _daemons: list[_Daemon] = field(default_factory=list, init=False, repr=False)
    _tmp: Path | None = field(default=None, init=False, repr=False)
    _own_tmp: bool = field(default=False, init=False, repr=False)

    @property
    def pids(self) -> list[int]:
        """The daemons' PIDs (the JVMs), master first; each leads its own process group."""
        return [d.proc.pid for d in self._daemons]

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.master_port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.webui_port}"

    @property
    def work_dir(self) -> Path:
        assert self._tmp is not None, "cluster not started"
        return self._tmp

    def driver_conf(self) -> dict[str, str]:
        """Conf a driver on this machine needs to talk to the cluster on 127.0.0.1 and fit in it."""
        return {
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.executor.memory": "512m",
            "spark.executor.cores": str(self.cores),
            "spark.cores.max": str(self.cores * self.workers),
            "spark.ui.enabled": "false",
            # Stage progress bars on stderr would garble pexlab's own lines.
            "spark.ui.showConsoleProgress": "false",
        }

    # -- life cycle ------------------------------------------------------------------------

    def _daemon_env(self) -> dict[str, str]:
        env = dict(os.environ)
        home = spark_home()
        # Set SPARK_HOME ourselves: spark-class would otherwise ask `python3` on PATH where
        # pyspark is, and the workers' python may deliberately not have it.
        env["SPARK_HOME"] = str(home)
        env["SPARK_LOCAL_IP"] = "127.0.0.1"
        env["SPARK_LOCAL_DIRS"] = str(self.work_dir / "local")
        env["SPARK_LOG_DIR"] = str(self.work_dir / "logs")
        env["SPARK_NO_DAEMONIZE"] = "1"
        # The driver decides the executors' interpreter; do not leak the caller's choice.
        for var in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "PYTHONPATH", "VIRTUAL_ENV"):
            env.pop(var, None)
        if self.worker_python:
            bindir = str(Path(self.worker_python).parent)
            env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
        env.update(self.env)
        return env

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> _Daemon:
        log = self.work_dir / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        # Own process group: stopping it also stops the executors this daemon forked.
        proc = spawn_in_group(
            [str(spark_home() / "bin" / "spark-class"), *args], log, env, self.work_dir
        )
        daemon = _Daemon(name, proc, log)
        self._daemons.append(daemon)
        return daemon

    def _state(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(self.ui_url + "/json/", timeout=2) as resp:
                state = json.loads(resp.read().decode())
                return state if isinstance(state, dict) else None
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def alive_workers(self) -> int:
        state = self._state() or {}
        return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")

    def start(self) -> LocalCluster:
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise ClusterError(
                "Java was not found (Spark 4 needs Java 17): install a JDK or set JAVA_HOME."
            )
        if self.base_dir is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="pexlab-cluster-"))
            self._own_tmp = True
        else:
            self._tmp = Path(self.base_dir)
            self._tmp.mkdir(parents=True, exist_ok=True)
        self.master_port = self.master_port or free_port()
        self.webui_port = self.webui_port or free_port()
        env = self._daemon_env()
        try:
            self._spawn(
                "master",
                [
                    "org.apache.spark.deploy.master.Master",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.master_port),
                    "--webui-port",
                    str(self.webui_port),
                ],
                env,
            )
            for i in range(self.workers):
                wdir = self.work_dir / f"worker-{i}"
                wdir.mkdir(parents=True, exist_ok=True)
                self._spawn(
                    f"worker-{i}",
                    [
                        "org.apache.spark.deploy.worker.Worker",
                        "--host",
                        "127.0.0.1",
                        "--webui-port",
                        str(free_port()),
                        "--work-dir",
                        str(wdir),
                        "--cores",
                        str(self.cores),
                        "--memory",
                        self.memory,
                        self.master_url,
                    ],
                    env,
                )
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            for d in self._daemons:
                if d.proc.poll() is not None:
                    tail = d.log.read_text(errors="replace").strip().splitlines()[-15:]
                    raise ClusterError(
                        f"Spark {d.name} exited with code {d.proc.returncode}:\n" + "\n".join(tail)
                    )
            if self.alive_workers() >= self.workers:
                return
            time.sleep(0.5)
        raise ClusterError(
            f"The cluster did not get {self.workers} live workers within {self.start_timeout:.0f} s "
            f"(logs in {self.work_dir / 'logs'})."
        )

    def stop(self) -> None:
        # Workers first (they kill their executors on SIGTERM), master last.
        for d in reversed(self._daemons):
            stop_group(d.proc, timeout=15.0)
        self._daemons.clear()
        if self._own_tmp and self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pexlab.local.standalone",
        description="Run a local Spark standalone cluster until Ctrl-C.",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cores", type=int, default=1)
    parser.add_argument("--memory", default="1g")
    parser.add_argument("--worker-python", help="interpreter used by executors by default")
    args = parser.parse_args(argv)
    cluster = LocalCluster(
        workers=args.workers, cores=args.cores, memory=args.memory, worker_python=args.worker_python
    )
    # SIGTERM behaves like Ctrl-C so the daemons are stopped either way; SIGINT is re-armed
    # because a shell starts background jobs with it ignored, and Python keeps that.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with cluster:
            print(cluster.master_url, flush=True)
            print(f"web UI: {cluster.ui_url}  (Ctrl-C to stop)", file=sys.stderr, flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
