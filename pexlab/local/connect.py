"""A local Spark Connect server from the pip `pyspark` package, over a given master.

The pip wheel has the Connect server in `jars/spark-connect_*.jar`, so no jar argument is needed:

    spark-submit --class org.apache.spark.sql.connect.service.SparkConnectServer --master M \\
        --conf spark.connect.grpc.binding.address=127.0.0.1 \\
        --conf spark.connect.grpc.binding.port=P

`spark-submit` `exec`s the JVM, so the PID we hold is the server's; it runs in its own process
group and is stopped by that PID.  gRPC listens on 127.0.0.1 on a free port.

    with LocalCluster() as cluster, LocalConnectServer(cluster.master_url) as server:
        print(server.url)          # sc://127.0.0.1:PORT
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pexlab.core.net import free_port, unreachable
from pexlab.core.processes import spawn_in_group, stop_group
from pexlab.local.daemons import Daemonized
from pexlab.local.standalone import ClusterError, spark_home

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


@dataclass
class LocalConnectServer(Daemonized):
    """A Spark Connect server (one Spark application) on `master`.

    `conf`: extra Spark conf of the server's application (e.g. executor sizes); `env`: extra
    environment of the server process (executors get theirs from the workers).
    """

    master: str
    conf: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    app_name: str = "pexlab-connect-server"
    base_dir: Path | None = None
    start_timeout: float = 120.0
    port: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: Path | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"sc://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def log(self) -> Path:
        assert self._log is not None, "server not started"
        return self._log

    def command(self) -> list[str]:
        conf = {
            "spark.app.name": self.app_name,
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            **dict(self.conf),
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.connect.grpc.binding.port": str(self.port),
        }
        args = [str(spark_home() / "bin" / "spark-submit"), "--class", SERVER_CLASS]
        args += ["--master", self.master]
        for k, v in conf.items():
            args += ["--conf", f"{k}={v}"]
        return args

    def start(self) -> LocalConnectServer:
        base = Path(self.base_dir or tempfile.mkdtemp(prefix="pexlab-connect-"))
        base.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self._log = base / "connect-server.log"
        env = dict(os.environ)
        env.update(SPARK_HOME=str(spark_home()), SPARK_LOCAL_IP="127.0.0.1")
        # The server's Python workers must not inherit the caller's interpreter choice.
        for var in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "PYTHONPATH", "VIRTUAL_ENV"):
            env.pop(var, None)
        env.update(self.env)
        self._proc = spawn_in_group(self.command(), self._log, env, base)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = self.log.read_text(errors="replace").strip().splitlines()[-20:]
                raise ClusterError(
                    f"The Spark Connect server exited with code {self._proc.returncode}:\n"
                    + "\n".join(tail)
                )
            if unreachable("127.0.0.1", self.port, 1.0) is None:
                return
            time.sleep(0.5)
        raise ClusterError(
            f"The Spark Connect server did not listen on 127.0.0.1:{self.port} within "
            f"{self.start_timeout:.0f} s (log: {self.log})."
        )

    def stop(self) -> None:
        if self._proc is not None:
            stop_group(self._proc, timeout=15.0)
            self._proc = None
