"""The Spark Connect server of the tests, started once per pytest session and shared by every
suite that needs it (test_connect, test_connect_session, test_editable_backends): a real
SparkConnectServer over a local standalone cluster whose workers' Python is bare.  Registered
as a plugin in tests/conftest.py."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from drivers import driver_env, driver_result
from venvs import (
    Project,
    Venv,
    VenvFactory,
    VenvSpec,
    setuptools_project,
    stable_projects_dir,
)

from pexlab.local.connect import LocalConnectServer
from pexlab.local.standalone import LocalCluster
from pexlab.local.venvs import make_bare_python

DRIVER = Path(__file__).with_name("connect_driver.py")
# The newest pyspark-client on PyPI; it talks to the pip pyspark 4.3 server the tests start.
CLIENT = "pyspark-client==4.2.0"
EDIT_V1 = "def answer():\n    return 'v1'\n"
EDIT_V2 = EDIT_V1.replace("'v1'", "'v2'")


def _edit_project() -> Path:
    base = stable_projects_dir("connect")
    return setuptools_project(base, "pexlab-connect-edit", "pexlab_connect_edit", body=EDIT_V1)


def _edit_init() -> Path:
    return _edit_project() / "src" / "pexlab_connect_edit" / "__init__.py"


def kernel_spec() -> VenvSpec:
    return VenvSpec(
        projects=(Project(_edit_project(), editable=True),),
        # ipykernel: a real kernel runs in this venv too (the notebook progress test).
        requirements=(CLIENT, "tabulate", "ipykernel"),
    )


class ConnectEnv:
    def __init__(
        self,
        kernel: Venv,
        worker_home: Path,
        cluster: LocalCluster,
        server: LocalConnectServer,
        cache: Path,
    ) -> None:
        self.kernel = kernel
        self.worker_home = worker_home
        self.cluster = cluster
        self.server = server
        self.cache = cache

    def drive(
        self,
        scenario: str,
        *,
        driver: Path = DRIVER,
        kernel: Venv | None = None,
        timeout: float = 600,
        **args: object,
    ) -> dict:
        """Run `scenario` of a driver script in the kernel venv (default: this env's), as a
        client of this server; its RESULT dict.  A client that cannot exit within `timeout`
        fails the test rather than hanging it."""
        env = driver_env(self.cache)
        python = (kernel or self.kernel).python
        proc = subprocess.run(
            [str(python), str(driver), scenario, self.server.url, json.dumps(args)],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
        result = driver_result(proc, "client")
        assert proc.returncode == 0, proc.stderr[-3000:]
        return result


@pytest.fixture(scope="session")
def connect_env(
    venv_factory: VenvFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConnectEnv]:
    tmp = tmp_path_factory.mktemp("connect")
    kernel = venv_factory.get(kernel_spec())
    workers = tmp / "worker-venv"
    make_bare_python(workers)
    home = tmp / "worker-home"
    home.mkdir()
    with LocalCluster(
        workers=2,
        worker_python=str(workers / "bin" / "python3"),
        base_dir=tmp / "cluster",
        env={"HOME": str(home)},
    ) as cluster:
        server_conf = {
            "spark.executor.memory": "512m",
            "spark.executor.cores": "1",
            "spark.cores.max": "2",
            # copyFromLocalToFs to this machine (tests/test_connect_session.py)
            "spark.sql.artifact.copyFromLocalToFs.allowDestLocal": "true",
        }
        with LocalConnectServer(cluster.master_url, conf=server_conf, base_dir=tmp / "server") as s:
            yield ConnectEnv(kernel, home, cluster, s, tmp / "pexlab-cache")
