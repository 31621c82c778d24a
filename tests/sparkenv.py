"""The Spark standalone cluster of the tests (master + 2 workers from the pip pyspark), started
once per pytest session and shared by every suite that needs it (test_spark,
test_editable_backends): the workers' own interpreter is a bare venv WITHOUT the test packages,
and the "kernel" venv (cached) has pyspark, fsspec, `tabulate` and the editable project
`pexlab-spark-edit`.  Registered as a plugin in tests/conftest.py."""

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

from pexlab.local.standalone import LocalCluster
from pexlab.local.venvs import make_bare_python

DRIVER = Path(__file__).with_name("spark_driver.py")
EDIT_V1 = "def where():\n    return __file__\n\n\ndef answer():\n    return 'v1'\n"
EDIT_V2 = EDIT_V1.replace("'v1'", "'v2'")


def _edit_project() -> Path:
    base = stable_projects_dir("spark")
    root = setuptools_project(base, "pexlab-spark-edit", "pexlab_spark_edit", body=EDIT_V1)
    return root


def kernel_spec() -> VenvSpec:
    # pyspark is big (~450 MB installed); pip reuses its wheel cache, and the venv is cached.
    return VenvSpec(
        projects=(Project(_edit_project(), editable=True),),
        requirements=("pyspark==4.3.0", "fsspec", "tabulate"),
    )


class Env:
    def __init__(
        self,
        kernel: Venv,
        worker_python: Path,
        cluster: LocalCluster,
        cache: Path,
        node_home: Path,
    ) -> None:
        self.kernel = kernel
        self.worker_python = worker_python
        self.cluster = cluster
        self.cache = cache
        # The workers' XDG cache home: the default node cache lives below it.
        self.node_home = node_home

    @property
    def node_cache(self) -> Path:
        return self.node_home / "pexlab" / "node-cache"

    def driver_env(self) -> dict[str, str]:
        """The environment of a driver process (a script or a kernel) in the kernel venv: the
        repo's pexlab, this session's cache, no Spark or venv variables of the test process."""
        return driver_env(self.cache, SPARK_LOCAL_IP="127.0.0.1")

    def drive(
        self,
        scenario: str,
        *,
        driver: Path = DRIVER,
        kernel: Venv | None = None,
        process_timeout: float = 300,
        **args: object,
    ) -> dict:
        """Run `scenario` of a driver script in the kernel venv (default: this env's) against
        the cluster; its RESULT dict.  `args` go to the scenario (`timeout` among them: some
        scenarios take one), `process_timeout` bounds the driver process."""
        args.setdefault("conf", self.cluster.driver_conf())
        env = self.driver_env()
        proc = subprocess.run(
            [
                str((kernel or self.kernel).python),
                str(driver),
                scenario,
                self.cluster.master_url,
                json.dumps(args),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=process_timeout,
        )
        return driver_result(proc)


@pytest.fixture(scope="session")
def spark_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("spark")
    factory = VenvFactory(tmp)
    kernel = factory.get(kernel_spec())
    # Workers' own interpreter: a venv with nothing installed.
    workers = tmp / "worker-venv"
    worker_python = make_bare_python(workers)
    # Both workers stand for two executors on ONE node (one user, one home): the node cache is
    # shared by them, as on a real node.  XDG_CACHE_HOME keeps it out of this machine's home.
    node_home = tmp / "node-home-cache"
    with LocalCluster(
        workers=2,
        worker_python=str(worker_python),
        base_dir=tmp / "cluster",
        env={"XDG_CACHE_HOME": str(node_home)},
    ) as cluster:
        yield Env(kernel, worker_python, cluster, tmp / "pexlab-cache", node_home)
