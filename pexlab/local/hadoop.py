"""A local Hadoop cluster (HDFS + YARN ResourceManager + one NodeManager) in one JVM.

Started from Maven Central jars only: `org.apache.hadoop.mapreduce.MiniHadoopClusterManager`
from `hadoop-minicluster`, whose jars `mvn dependency:copy-dependencies` fetches once into a
folder keyed by the Hadoop version (`~/.cache/pexlab/hadoop-3.5.0/lib`, or
`$PEXLAB_HADOOP_HOME`), reused by every later run.  junit 4 and junit-jupiter-api go on the
classpath too: the mini clusters load their classes at run time.

Every address is 127.0.0.1 with a port chosen free here (the mini cluster otherwise binds
several fixed ones: 8030, 8031, 8033, 8088, 10033, 19888), work dirs live in a temp folder, and
the JVM runs in its own process group so `stop()` ends it and the containers it started.

Clients get a minimal HADOOP_CONF_DIR written here (core-site: fs.defaultFS; hdfs-site: the
NameNode's HTTP address, where WebHDFS is served; yarn-site: ResourceManager and scheduler
addresses): the mini cluster's own `-writeConfig` dump names test-only classes and breaks Spark.

Containers inherit the NodeManager's PATH and need JAVA_HOME.  By default the NodeManager's PATH
starts with a bare venv made here (nothing installed), so `python3` in a container lacks every
package: whatever a job imports there must have been shipped.

    with LocalHadoop() as hadoop:
        os.environ["HADOOP_CONF_DIR"] = str(hadoop.conf_dir)

    python -m pexlab.local.hadoop      # prints the HADOOP_CONF_DIR, runs until Ctrl-C
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
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from pexlab.core.net import free_port
from pexlab.core.processes import spawn_in_group, stop_group
from pexlab.local.daemons import Daemonized
from pexlab.local.hadoop_jars import HADOOP_VERSION, HadoopClusterError, fetch_jars, java_home
from pexlab.local.venvs import make_bare_python

MAIN_CLASS = "org.apache.hadoop.mapreduce.MiniHadoopClusterManager"


def _site_xml(props: dict[str, str]) -> str:
    rows = "".join(
        f"  <property><name>{escape(k)}</name><value>{escape(v)}</value></property>\n"
        for k, v in props.items()
    )
    return f'<?xml version="1.0"?>\n<configuration>\n{rows}</configuration>\n'


@dataclass
class LocalHadoop(Daemonized):
    """HDFS (1 NameNode + 1 DataNode) and YARN (RM + `nodemanagers` NodeManagers) in one JVM.

    `container_python`: the interpreter whose folder leads the NodeManager's PATH (so containers'
    `python3`); None makes a bare venv in the work dir; "" keeps the caller's PATH.
    `permissions`: HDFS permission checks (on by default, so "cannot write" can be tested; the
    user who starts the cluster is HDFS's superuser).
    """

    nodemanagers: int = 1
    container_python: str | None = None
    permissions: bool = True
    base_dir: Path | None = None
    start_timeout: float = 180.0
    version: str = HADOOP_VERSION
    extra_conf: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict, init=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _container_path: str = field(default="", init=False, repr=False)
    _tmp: Path | None = field(default=None, init=False, repr=False)
    _own_tmp: bool = field(default=False, init=False, repr=False)

    # -- addresses -------------------------------------------------------------------------

    @property
    def node_cache_dir(self) -> Path:
        """PEXLAB_NODE_CACHE of this cluster's containers."""
        return self.work_dir / "node-cache"

    @property
    def work_dir(self) -> Path:
        assert self._tmp is not None, "cluster not started"
        return self._tmp

    @property
    def conf_dir(self) -> Path:
        return self.work_dir / "conf"

    @property
    def log(self) -> Path:
        return self.work_dir / "hadoop.log"

    @property
    def default_fs(self) -> str:
        return f"hdfs://127.0.0.1:{self.ports['nn']}"

    @property
    def webhdfs_url(self) -> str:
        return f"webhdfs://127.0.0.1:{self.ports['nn_http']}"

    @property
    def rm_address(self) -> str:
        return f"127.0.0.1:{self.ports['rm']}"

    @property
    def rm_web(self) -> str:
        return f"http://127.0.0.1:{self.ports['rm_web']}"

    def driver_conf(
        self, pyspark_dir: str | os.PathLike[str] | None = None, deploy_mode: str = "client"
    ) -> dict[str, str]:
        """Spark conf for an application on this cluster: 127.0.0.1 everywhere, containers small
        enough for the one NodeManager, and `spark.yarn.jars=local:<pyspark>/jars/*` so an
        application does not upload pip pyspark's ~460 MB of jars (the NodeManager runs on this
        machine and reads them in place).  `pyspark_dir`: the driver's pyspark package folder
        (default: this interpreter's).  In cluster mode the driver runs in the
        ApplicationMaster's container, which picks its address from SPARK_LOCAL_IP."""
        if pyspark_dir is None:
            import pyspark

            pyspark_dir = Path(pyspark.__file__).parent
        conf = {
            "spark.yarn.jars": f"local:{Path(pyspark_dir) / 'jars'}/*",
            "spark.executorEnv.SPARK_LOCAL_IP": "127.0.0.1",
            "spark.executor.instances": "2",
            "spark.executor.cores": "1",
            "spark.executor.memory": "512m",
            "spark.driver.memory": "512m",
            "spark.yarn.am.memory": "512m",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
        }
        if deploy_mode == "cluster":
            conf["spark.yarn.appMasterEnv.SPARK_LOCAL_IP"] = "127.0.0.1"
        else:
            conf["spark.driver.host"] = "127.0.0.1"
            conf["spark.driver.bindAddress"] = "127.0.0.1"
        return conf

    def client_env(self) -> dict[str, str]:
        """What a client process (a kernel, spark-submit) needs to use this cluster."""
        return {"HADOOP_CONF_DIR": str(self.conf_dir)}

    # -- life cycle ------------------------------------------------------------------------

    def _conf(self) -> dict[str, str]:
        p = self.ports
        local = "127.0.0.1"
        conf = {
            "yarn.nodemanager.vmem-check-enabled": "false",
            "yarn.nodemanager.pmem-check-enabled": "false",
            # A loaded laptop/CI disk is often >90% full: do not mark the node unhealthy.
            "yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage": "99.9",
            "yarn.resourcemanager.hostname": local,
            "yarn.nodemanager.hostname": local,
            "yarn.resourcemanager.bind-host": local,
            "yarn.nodemanager.bind-host": local,
            "yarn.resourcemanager.scheduler.address": f"{local}:{p['rm_scheduler']}",
            "yarn.resourcemanager.resource-tracker.address": f"{local}:{p['rm_tracker']}",
            "yarn.resourcemanager.admin.address": f"{local}:{p['rm_admin']}",
            "yarn.resourcemanager.webapp.address": f"{local}:{p['rm_web']}",
            "yarn.nodemanager.address": f"{local}:0",
            "yarn.nodemanager.localizer.address": f"{local}:{p['nm_localizer']}",
            "yarn.nodemanager.webapp.address": f"{local}:0",
            "mapreduce.jobhistory.webapp.address": f"{local}:{p['jhs_web']}",
            "mapreduce.jobhistory.admin.address": f"{local}:{p['jhs_admin']}",
            "mapreduce.shuffle.port": "0",
            "dfs.namenode.rpc-bind-host": local,
            "dfs.namenode.http-bind-host": local,
            "dfs.permissions.enabled": "true" if self.permissions else "false",
            # Containers' memory: Spark's AM + 2 small executors must fit on one node.
            "yarn.nodemanager.resource.memory-mb": "4096",
            "yarn.scheduler.minimum-allocation-mb": "128",
            "yarn.nodemanager.resource.cpu-vcores": "4",
        }
        # This cluster's containers keep their pexlab node cache (pexlab.nodecache.upkeep) in its
        # work dir, not in the home of the user running it; stopping the cluster removes it.
        admin_env = [
            "MALLOC_ARENA_MAX=$MALLOC_ARENA_MAX",
            f"PEXLAB_NODE_CACHE={self.node_cache_dir}",
        ]
        if self._container_path:
            # A whitelisted PATH is written `${PATH:-<NodeManager's>}` into the container's
            # launch script, which bash runs with PATH already set to its built-in default: the
            # NodeManager's PATH never arrives.  The admin environment is exported as is.
            admin_env.append(f"PATH={self._container_path}")
        conf["yarn.nodemanager.admin-env"] = ",".join(admin_env)
        conf.update(self.extra_conf)
        return conf

    def _write_client_conf(self) -> None:
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        p = self.ports
        files = {
            "core-site.xml": {"fs.defaultFS": self.default_fs},
            "hdfs-site.xml": {
                "dfs.namenode.rpc-address": f"127.0.0.1:{p['nn']}",
                "dfs.namenode.http-address": f"127.0.0.1:{p['nn_http']}",
            },
            "yarn-site.xml": {
                "yarn.resourcemanager.hostname": "127.0.0.1",
                "yarn.resourcemanager.address": self.rm_address,
                "yarn.resourcemanager.scheduler.address": f"127.0.0.1:{p['rm_scheduler']}",
                "yarn.resourcemanager.webapp.address": f"127.0.0.1:{p['rm_web']}",
            },
        }
        for name, props in files.items():
            (self.conf_dir / name).write_text(_site_xml(props))

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        for var in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "PYTHONPATH", "VIRTUAL_ENV"):
            env.pop(var, None)
        env["JAVA_HOME"] = str(java_home())
        python = self.container_python
        if python is None:
            python = str(make_bare_python(self.work_dir / "bare-python"))
        if python:
            env["PATH"] = str(Path(python).parent) + os.pathsep + env.get("PATH", "")
            self._container_path = env["PATH"]
        return env

    def start(self) -> LocalHadoop:
        lib = fetch_jars(self.version)
        if self.base_dir is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="pexlab-hadoop-"))
            self._own_tmp = True
        else:
            self._tmp = Path(self.base_dir)
            self._tmp.mkdir(parents=True, exist_ok=True)
        names = [
            "nn",
            "nn_http",
            "rm",
            "jhs",
            "rm_scheduler",
            "rm_tracker",
            "rm_admin",
            "rm_web",
            "nm_localizer",
            "jhs_web",
            "jhs_admin",
        ]
        self.ports = {n: free_port() for n in names}
        (self.work_dir / "tmp").mkdir(exist_ok=True)
        details = self.work_dir / "details.json"
        env = self._env()  # before the conf: it decides the containers' PATH
        cmd = [
            str(java_home() / "bin" / "java"),
            f"-Dtest.build.data={self.work_dir / 'data'}",
            f"-Djava.io.tmpdir={self.work_dir / 'tmp'}",
            f"-Dhadoop.tmp.dir={self.work_dir / 'hadoop-tmp'}",
            "-Xmx1g",
            "-cp",
            str(lib / "*"),
            MAIN_CLASS,
            "-format",
            "-nnport",
            str(self.ports["nn"]),
            "-nnhttpport",
            str(self.ports["nn_http"]),
            "-rmport",
            str(self.ports["rm"]),
            "-jhsport",
            str(self.ports["jhs"]),
            "-nodemanagers",
            str(self.nodemanagers),
            "-writeDetails",
            str(details),
        ]
        for k, v in self._conf().items():
            cmd += ["-D", f"{k}={v}"]
        try:
            # Own process group: stop() signals it, which also reaches the containers.
            self._proc = spawn_in_group(cmd, self.log, env, self.work_dir)
            self._wait_ready(details)
            self._write_client_conf()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, details: Path) -> None:
        deadline = time.monotonic() + self.start_timeout
        assert self._proc is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = self.log.read_text(errors="replace").strip().splitlines()[-25:]
                raise HadoopClusterError(
                    f"The Hadoop mini cluster exited with code {self._proc.returncode}:\n"
                    + "\n".join(tail)
                )
            # Written once HDFS and YARN are both up.
            if details.exists() and details.stat().st_size > 0:
                try:
                    json.loads(details.read_text())
                    return
                except ValueError:
                    pass
            time.sleep(0.5)
        raise HadoopClusterError(
            f"The Hadoop mini cluster was not up within {self.start_timeout:.0f} s (log: {self.log})."
        )

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            stop_group(proc, timeout=20.0)
        if self._own_tmp and self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pexlab.local.hadoop",
        description="Run HDFS + YARN on 127.0.0.1 until Ctrl-C; prints the HADOOP_CONF_DIR.",
    )
    parser.add_argument(
        "--container-python",
        help="interpreter leading the containers' PATH (default: a bare venv with nothing "
        "installed, so jobs only see what pexlab ships)",
    )
    parser.add_argument("--nodemanagers", type=int, default=1)
    parser.add_argument(
        "--no-permissions", action="store_true", help="turn HDFS permission checks off"
    )
    args = parser.parse_args(argv)
    cluster = LocalHadoop(
        nodemanagers=args.nodemanagers,
        container_python=args.container_python,
        permissions=not args.no_permissions,
    )
    # SIGTERM behaves like Ctrl-C; SIGINT re-armed (background jobs start with it ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        print("Starting HDFS + YARN (the first run fetches the jars with mvn)...", file=sys.stderr)
        with cluster:
            print(cluster.conf_dir, flush=True)
            print(
                f"export HADOOP_CONF_DIR={cluster.conf_dir}\n"
                f"HDFS: {cluster.default_fs}  WebHDFS: {cluster.webhdfs_url}  "
                f"YARN RM: {cluster.rm_address}  UI: {cluster.rm_web}  (Ctrl-C to stop)",
                file=sys.stderr,
                flush=True,
            )
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    except HadoopClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
