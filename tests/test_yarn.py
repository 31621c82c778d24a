"""pexlab on a REAL YARN + HDFS (tests/hadoopenv.py: one cluster per test session).

- The NodeManager's PATH starts with a bare venv: a container's `python3` has nothing installed,
  so an import that works there must come from what pexlab shipped.
- The "kernel" venv (cached) has pyspark, fsspec, requests, `tabulate` from PyPI and the editable
  project `pexlab-yarn-edit`; drivers run in it as subprocesses (tests/yarn_driver.py), the way a
  notebook kernel would, with pexlab from the repo on PYTHONPATH.
- Artifacts go to HDFS (`hdfs:///pexlab/yarn`, fs.defaultFS from HADOOP_CONF_DIR) and reach the
  containers through `spark.yarn.dist.files` (NodeManager localization and cache).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from drivers import driver_result
from venvs import (
    REPO,
    Project,
    Venv,
    VenvFactory,
    VenvSpec,
    setuptools_project,
    stable_projects_dir,
)
from venvs import write as write_file

from pexlab.core.net import free_port
from pexlab.local.hadoop import LocalHadoop
from pexlab.package import Artifact
from pexlab.spark.yarn import (
    YarnError,
    check_resource_manager,
    resource_manager,
    yarn_artifacts_conf,
)
from pexlab.storage.upload import open_destination

DRIVER = Path(__file__).with_name("yarn_driver.py")
STORAGE = "hdfs:///pexlab/yarn"
EDIT_V1 = "def answer():\n    return 'v1'\n"
EDIT_V2 = EDIT_V1.replace("'v1'", "'v2'")
# Cluster mode's application: runs in the ApplicationMaster's container and writes where the
# driver and the executors imported their packages from to HDFS.
JOB = """
import json
import sys

from pyspark.sql import SparkSession


def where(_):
    import sys

    import pexlab_yarn_edit
    import tabulate

    return {"executable": sys.executable, "tabulate": tabulate.__file__,
            "edit": pexlab_yarn_edit.__file__}


if __name__ == "__main__":
    spark = SparkSession.builder.getOrCreate()
    sc = spark.sparkContext
    out = {"driver": where(0), "executors": sc.parallelize(range(2), 2).map(where).collect()}
    sc.parallelize([json.dumps(out)], 1).saveAsTextFile(sys.argv[1])
    spark.stop()
"""


def _edit_project() -> Path:
    root = setuptools_project(
        stable_projects_dir("yarn"), "pexlab-yarn-edit", "pexlab_yarn_edit", body=EDIT_V1
    )
    write_file(root / "src" / "pexlab_yarn_edit" / "job.py", JOB)
    return root


def _init() -> Path:
    return _edit_project() / "src" / "pexlab_yarn_edit" / "__init__.py"


class YarnEnv:
    def __init__(self, hadoop: LocalHadoop, kernel: Venv, cache: Path) -> None:
        self.hadoop = hadoop
        self.kernel = kernel
        self.cache = cache

    @property
    def pyspark_dir(self) -> Path:
        return next(self.kernel.root.glob("lib/python*/site-packages/pyspark"))

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        for var in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "VIRTUAL_ENV"):
            env.pop(var, None)
        env.update(
            PYTHONPATH=str(REPO),
            PEXLAB_CACHE_DIR=str(self.cache),
            PEXLAB_PEX=f"{sys.executable} -m pex",
            SPARK_LOCAL_IP="127.0.0.1",
            SPARK_HOME=str(self.pyspark_dir),
            HADOOP_CONF_DIR=str(self.hadoop.conf_dir),
        )
        env.update(extra)
        return env

    def conf(self, deploy_mode: str = "client") -> dict[str, str]:
        return self.hadoop.driver_conf(self.pyspark_dir, deploy_mode)

    def drive(self, scenario: str, env: dict[str, str] | None = None, **args: object) -> dict:
        args.setdefault("conf", self.conf())
        args.setdefault("storage", STORAGE)
        proc = subprocess.run(
            [str(self.kernel.python), str(DRIVER), scenario, json.dumps(args)],
            capture_output=True,
            text=True,
            env=env or self.env(),
            timeout=600,
        )
        return driver_result(proc)

    def hdfs_listing(self, folder: str = "/pexlab/yarn") -> dict[str, dict]:
        fs, _ = open_destination(self.hadoop.webhdfs_url + folder)
        return {Path(i["name"]).name: i for i in fs.ls(folder, detail=True)}


@pytest.fixture(scope="session")
def yarn_env(hadoop: LocalHadoop, tmp_path_factory: pytest.TempPathFactory) -> YarnEnv:
    tmp = tmp_path_factory.mktemp("yarn")
    kernel = VenvFactory(tmp).get(
        VenvSpec(
            projects=(Project(_edit_project(), editable=True),),
            requirements=("pyspark==4.3.0", "fsspec", "requests", "tabulate"),
        )
    )
    return YarnEnv(hadoop, kernel, tmp / "pexlab-cache")


@pytest.fixture(scope="session")
def first_run(yarn_env: YarnEnv) -> dict:
    return yarn_env.drive("ship")


def _in_container(row: dict) -> None:
    assert "/usercache/" in row["cwd"], row
    assert "/container_" in row["cwd"], row


# ---- the conf shape and checks (no cluster needed) -------------------------------------------


def _art(url: str) -> Artifact:
    return Artifact(
        kind="pex", name=url.rsplit("/", 1)[1], local_path="/nowhere", url=url, size=0, sha256=""
    )


class _Arts:
    """Just what the YARN conf shape reads of `Artifacts` (no inspected environment needed)."""

    pex = _art("hdfs://nn:8020/p/env-1.pex")
    editables = (_art("hdfs://nn:8020/p/a-2.zip"),)
    node_cache = False
    layer_source = None

    def env_files(self) -> list[Artifact]:
        return [self.pex]


def test_client_mode_ships_everything_through_yarn_localization() -> None:
    conf = yarn_artifacts_conf(_Arts(), None, "client")
    assert conf["spark.yarn.dist.files"] == "hdfs://nn:8020/p/env-1.pex,hdfs://nn:8020/p/a-2.zip"
    assert conf["spark.submit.pyFiles"] == "hdfs://nn:8020/p/a-2.zip"
    assert conf["spark.pyspark.python"] == "./env-1.pex"
    assert conf["spark.executorEnv.PEX_ROOT"] == "./.pex"
    assert "spark.files" not in conf  # not through the driver's file server
    assert "spark.pyspark.driver.python" not in conf  # the kernel is the driver


def test_a_pex_with_the_node_cache_launcher_picks_its_own_root() -> None:
    arts = _Arts()
    arts.node_cache = True
    for mode in ("client", "cluster"):
        conf = yarn_artifacts_conf(arts, None, mode)
        assert "spark.executorEnv.PEX_ROOT" not in conf
        assert "spark.yarn.appMasterEnv.PEX_ROOT" not in conf
    # A user's pex_root still wins.
    assert yarn_artifacts_conf(arts, "/shared/pex", "client")["spark.executorEnv.PEX_ROOT"] == (
        "/shared/pex"
    )


def test_cluster_mode_runs_the_driver_from_the_pex_too() -> None:
    conf = yarn_artifacts_conf(_Arts(), "/shared/pex", "cluster")
    assert conf["spark.pyspark.driver.python"] == "./env-1.pex"
    assert conf["spark.yarn.appMasterEnv.PEX_ROOT"] == "/shared/pex"
    assert conf["spark.submit.deployMode"] == "cluster"
    # spark-submit localizes pyFiles itself (spark.yarn.dist.pyFiles): listed once.
    assert conf["spark.yarn.dist.files"] == "hdfs://nn:8020/p/env-1.pex"
    with pytest.raises(YarnError, match="deploy_mode"):
        yarn_artifacts_conf(_Arts(), None, "cluser")


def test_yarn_without_hadoop_conf_dir_says_to_set_it() -> None:
    with pytest.raises(YarnError, match="set HADOOP_CONF_DIR"):
        resource_manager({})


def test_unreachable_resource_manager_is_named(tmp_path: Path) -> None:
    dead = free_port()
    (tmp_path / "yarn-site.xml").write_text(
        "<configuration><property><name>yarn.resourcemanager.address</name>"
        f"<value>127.0.0.1:{dead}</value></property></configuration>"
    )
    with pytest.raises(
        YarnError,
        match=rf"Cannot reach the YARN ResourceManager at 127.0.0.1:{dead}.*yarn-site.xml",
    ):
        check_resource_manager({"HADOOP_CONF_DIR": str(tmp_path)}, timeout=2)


# ---- on the cluster --------------------------------------------------------------------------


@pytest.mark.hadoop
def test_resource_manager_of_the_local_cluster_answers(hadoop: LocalHadoop) -> None:
    rm = check_resource_manager({"HADOOP_CONF_DIR": str(hadoop.conf_dir)})
    assert rm.addresses == (("127.0.0.1", int(hadoop.rm_address.rsplit(":", 1)[1])),)


@pytest.mark.hadoop
def test_client_mode_executors_run_the_shipped_pex_and_zip(
    yarn_env: YarnEnv, first_run: dict
) -> None:
    res = first_run
    pex_name = Path(res["pex_url"]).name
    fs_prefix = yarn_env.hadoop.default_fs + "/pexlab/yarn/"
    assert res["pex_url"] == fs_prefix + pex_name
    assert res["python_exec"] == f"./{pex_name}"
    conf = res["conf"]
    assert res["pex_url"] in conf["spark.yarn.dist.files"]
    assert all(z in conf["spark.yarn.dist.files"] for z in res["zip_urls"])
    zip_name = Path(res["zip_urls"][0]).name
    for row in res["rdd"]:
        assert "tabulate_error" not in row, row
        assert "edit_error" not in row, row
        _in_container(row)
        # Third-party package: from the PEX, installed by its launcher into the node cache
        # (the cluster's PEXLAB_NODE_CACHE), where later applications on the node reuse it.
        cache = str(yarn_env.hadoop.node_cache_dir) + os.sep
        assert row["tabulate"].startswith(cache), row
        assert row["executable"].startswith(cache), row
        # Editable project: from the content-hashed zip localized into the container.
        assert row["edit"].startswith(os.path.join(row["cwd"], zip_name) + os.sep), row
        assert row["answer"] == "v1"
        # The PEX is the NodeManager's localized (cached) copy of the HDFS file.
        assert [p for p in row["pex_links"] if "/filecache/" in p], row
    assert "pexlab: PEX" in res["stderr"]


@pytest.mark.hadoop
def test_layered_environment_is_localized_layer_by_layer(yarn_env: YarnEnv) -> None:
    layered = {"layout": "layers"}
    folder = "/pexlab/yarn-layers"  # apart from the other tests' storage, which they list
    storage = "hdfs://" + folder
    res = yarn_env.drive("ship", options=layered, storage=storage)
    listing = yarn_env.hdfs_listing(folder)
    # Each layer is an HDFS file of its own, localized (and cached) by the NodeManagers.
    assert res["layers"]
    assert {Path(u).name for u in res["layers"]} <= set(listing)
    assert res["layers_sent"] == len(res["layers"])  # a fresh folder: every layer went up
    dist_files = res["conf"]["spark.yarn.dist.files"].split(",")
    assert set(res["layers"]) <= set(dist_files)
    cache = str(yarn_env.hadoop.node_cache_dir) + os.sep
    for row in res["rdd"]:
        assert "tabulate_error" not in row, row
        _in_container(row)
        assert row["tabulate"].startswith(cache), row


@pytest.mark.hadoop
def test_without_pexlab_the_same_job_fails(yarn_env: YarnEnv) -> None:
    res = yarn_env.drive("bare")
    row = res["rdd"][0]
    _in_container(row)
    # Spark's default `python3` in a container is the NodeManager's bare venv.
    assert row["executable"].startswith(str(yarn_env.hadoop.work_dir / "bare-python")), row
    assert row["tabulate_error"].startswith("ModuleNotFoundError"), row
    assert row["edit_error"].startswith("ModuleNotFoundError"), row


@pytest.mark.hadoop
def test_edit_is_seen_by_a_new_session_with_no_new_pex(yarn_env: YarnEnv, first_run: dict) -> None:
    before = yarn_env.hdfs_listing()
    pexes = {n: i for n, i in before.items() if n.endswith(".pex")}
    assert list(pexes) == [Path(first_run["pex_url"]).name]
    try:
        _init().write_text(EDIT_V2)
        res = yarn_env.drive("ship")
    finally:
        _init().write_text(EDIT_V1)
    assert {row["answer"] for row in res["rdd"]} == {"v2"}
    assert res["fingerprint"] == first_run["fingerprint"]
    assert res["reused"] is True, "the PEX came from the cache: no pex run"
    after = yarn_env.hdfs_listing()
    # The same one PEX on HDFS, not written again; one new zip for the new content.
    assert {n: i["modificationTime"] for n, i in after.items() if n.endswith(".pex")} == {
        n: i["modificationTime"] for n, i in pexes.items()
    }
    new = set(after) - set(before)
    assert new == {Path(u).name for u in res["zip_urls"]}
    assert all(n.endswith(".zip") for n in new)
    assert not [n for n in after if ".tmp-" in n], "no temp names left behind"


@pytest.mark.hadoop
def test_unreachable_resource_manager_fails_before_packaging(
    yarn_env: YarnEnv, tmp_path: Path
) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    for f in ("core-site.xml", "hdfs-site.xml"):
        (conf / f).write_text((yarn_env.hadoop.conf_dir / f).read_text())
    dead = free_port()
    (conf / "yarn-site.xml").write_text(
        "<configuration><property><name>yarn.resourcemanager.address</name>"
        f"<value>127.0.0.1:{dead}</value></property></configuration>"
    )
    cache = tmp_path / "cache"
    res = yarn_env.drive(
        "unreachable", env=yarn_env.env(HADOOP_CONF_DIR=str(conf), PEXLAB_CACHE_DIR=str(cache))
    )
    assert f"Cannot reach the YARN ResourceManager at 127.0.0.1:{dead}" in res["error"]
    assert not list(cache.rglob("*.pex")), "nothing was packaged"


@pytest.mark.hadoop
def test_cluster_mode_spark_submit_with_printed_args(yarn_env: YarnEnv, first_run: dict) -> None:
    user_conf = [f"--conf={k}={v}" for k, v in yarn_env.conf("cluster").items()]
    printed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pexlab",
            "spark-args",
            "--master",
            "yarn",
            "--deploy-mode",
            "cluster",
            "--storage",
            STORAGE,
            "--python",
            str(yarn_env.kernel.python),
            "--module",
            "pexlab_yarn_edit.job",
            "--quiet",
            *user_conf,
        ],
        capture_output=True,
        text=True,
        env=yarn_env.env(),
        timeout=600,
    )
    assert printed.returncode == 0, printed.stderr
    # The shell form (as a CI script would `eval` it): flags, then the launcher to run.
    argv = shlex.split(printed.stdout.replace("\\\n", " "))
    assert argv[-1].startswith(yarn_env.hadoop.default_fs + "/pexlab/yarn/pexlab-run-")
    out = "/pexlab/yarn-out/cluster"
    submit = subprocess.run(
        [str(yarn_env.pyspark_dir / "bin" / "spark-submit"), *argv, f"hdfs://{out}"],
        capture_output=True,
        text=True,
        env=yarn_env.env(),
        timeout=600,
    )
    assert submit.returncode == 0, submit.stderr[-5000:]
    fs, _ = open_destination(yarn_env.hadoop.webhdfs_url + out)
    result = json.loads(fs.cat_file(f"{out}/part-00000"))
    pex_name = Path(first_run["pex_url"]).name
    assert f"spark.pyspark.driver.python=./{pex_name}" in argv
    for role, row in [
        ("driver", result["driver"]),
        *[("executor", r) for r in result["executors"]],
    ]:
        cache = str(yarn_env.hadoop.node_cache_dir) + os.sep
        assert row["executable"].startswith(cache), (
            role,
            row,
        )
        assert row["tabulate"].startswith(cache), (
            role,
            row,
        )
        assert ".zip/pexlab_yarn_edit/" in row["edit"], (role, row)
    # The driver ran in the ApplicationMaster's container (the application's first).
    assert "_000001/" in result["driver"]["edit"], result["driver"]
