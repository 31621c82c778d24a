"""pexlab.spark on a REAL Spark standalone cluster (master + 2 workers from the pip pyspark).

Set-up, once per session:
- the workers' own interpreter (`python3` first on their PATH) is a bare venv WITHOUT the test
  packages, so an import that works on an executor must come from what pexlab shipped;
- the "kernel" venv (cached) has pyspark, fsspec, `tabulate` from PyPI and the editable project
  `pexlab-spark-edit`; drivers run in it as subprocesses (tests/spark_driver.py), like a notebook
  kernel would, with pexlab from the repo on PYTHONPATH and pex from the project venv.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
from pathlib import Path, PurePosixPath

import pytest
from drivers import Kernel, assert_one_live_display, displays, stream_text
from sparkenv import EDIT_V1, EDIT_V2, Env, _edit_project
from test_node_cache import venvs_in
from venvs import REPO

from pexlab.build.options import BuildOptions
from pexlab.cli import format_submit_args, register_spark_args
from pexlab.environment.interpreter import Environment
from pexlab.nodecache import upkeep
from pexlab.nodecache.launcher import LAYERS_VAR
from pexlab.package import Artifact, Artifacts
from pexlab.spark import (
    PexlabSparkError,
    PythonVersionMismatch,
    SessionOptions,
    artifacts_conf,
    check_executor_python,
    is_local_master,
    master_kind,
    merge_conf,
    plan,
    validate_master,
)
from pexlab.spark.notebook_progress import NotebookProgress


def _other_python() -> tuple[str, str]:
    """An interpreter whose major.minor differs from this one (for the real mismatch)."""
    import glob
    import shutil

    mine = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for v in ("3.12", "3.10", "3.13"):
        if v == mine:
            continue
        # Real interpreters first: pyenv's shims fail outside their configured versions.
        for cand in [
            *glob.glob(f"/root/.pyenv/versions/{v}.*/bin/python{v}"),
            shutil.which(f"python{v}"),
        ]:
            if cand and os.access(cand, os.X_OK):
                return cand, v
    raise RuntimeError("no Python with another major.minor found for the mismatch test")


@pytest.fixture(scope="session")
def first_run(spark_env: Env) -> dict:
    return spark_env.drive("ship")


# ---- on the cluster ---------------------------------------------------------------------------


@pytest.mark.spark
def test_executors_import_from_shipped_pex_and_zip(spark_env: Env, first_run: dict) -> None:
    res = first_run
    pex_name = Path(res["pex_path"]).name
    assert res["python_exec"] == f"./{pex_name}"
    assert len(res["zips"]) == 1
    assert res["zips"][0].endswith(".zip")
    cwds = set()
    env_dir = spark_env.node_cache / "envs" / res["fingerprint"][:16]
    shared = (spark_env.node_cache / upkeep.PEX_DIR).resolve()
    for row in res["rdd"]:
        assert "tabulate_error" not in row, row
        assert "edit_error" not in row, row
        # tabulate: from its layer in the node cache (shared by later applications).
        assert row["node_env"] == str(env_dir), row
        tabulate = os.path.realpath(row["tabulate"])
        assert tabulate.startswith(str(shared / "installed_wheels") + os.sep), row
        # the editable project: from the content-hashed zip Spark fetched into the work dir.
        edit = os.path.normpath(os.path.join(row["cwd"], row["edit"]))
        assert edit.startswith(os.path.join(row["cwd"], res["zips"][0]) + os.sep), row
        assert row["answer"] == "v1"
        # pyspark: Spark's own, from the worker's PYTHONPATH (left out of the PEX).
        assert "pyspark.zip" in row["pyspark"] or "site-packages/pyspark" in row["pyspark"], row
        # The interpreter is the PEX's venv, made on first run in the node cache.
        assert row["prefix"].startswith(str(shared / "venvs") + os.sep), row
        assert not os.path.exists(os.path.join(row["cwd"], ".pex")), "nothing per application"
        cwds.add(row["cwd"])
    assert len(cwds) == 2, "both executors ran tasks"
    for value in res["sql"]:
        edit_file, tab_file, answer = value.split("|")
        assert res["zips"][0] in edit_file
        assert "/node-cache/pex/" in tab_file  # the venv path: a symlink into its layer
        assert answer == "v1"
    # The driver keeps importing the live editable sources.
    assert res["driver_edit"].startswith(str(_edit_project()))
    conf = res["conf"]
    assert "spark.executorEnv.PEX_ROOT" not in conf, "the PEX's launcher picks the node cache"
    assert pex_name in conf["spark.files"]
    assert res["zips"][0] in conf["spark.submit.pyFiles"]
    assert res["env_after"] == "/kernel/own/value", "PYSPARK_PYTHON restored after creation"
    assert res["reused_context"] is True
    # The one-line summary in the (stderr) feedback: the first session on these nodes says
    # that pex unpacked the environment's layers (both workers run on one host).
    assert "pexlab: PEX built" in res["stderr"] or "pexlab: PEX reused" in res["stderr"]
    assert "first start on 1 of 1 node(s):" in res["stderr"]
    assert "executors' Python 3." in res["stderr"]


@pytest.mark.spark
def test_layered_environment_reads_its_layers_from_storage_once_per_node(
    spark_env: Env, tmp_path: Path
) -> None:
    storage = tmp_path / "storage"
    res = spark_env.drive("layered", storage=str(storage))
    conf = res["conf"]
    # Only the launcher and the editable zip travel with the application; the layers stay in
    # storage, which the executors (on this machine) read at the same path.
    shipped = [PurePosixPath(f).name for f in conf["spark.files"].split(",")]
    assert shipped[0] == res["pex_name"]
    assert not set(shipped) & set(res["layers"])
    assert conf[f"spark.executorEnv.{LAYERS_VAR}"] == str(storage)
    assert set(res["layers"]) <= set(os.listdir(storage))
    shared = (spark_env.node_cache / upkeep.PEX_DIR).resolve()
    for row in res["rdd"]:
        assert "tabulate_error" not in row, row
        assert os.path.realpath(row["tabulate"]).startswith(str(shared / "installed_wheels"))
        assert "edit_error" not in row, row
        assert row["prefix"].startswith(str(shared / "venvs") + os.sep), row
    # A new application on the warm node fetches no layer: with the layers out of reach it
    # still starts, from the venv the first one left.
    unreachable = {**spark_env.cluster.driver_conf(), f"spark.executorEnv.{LAYERS_VAR}": "/no"}
    again = spark_env.drive("layered", storage=str(storage), conf=unreachable)
    assert again["layers_sent"] == 0
    assert again["conf"][f"spark.executorEnv.{LAYERS_VAR}"] == "/no"
    assert [r["prefix"] for r in again["rdd"]] == [r["prefix"] for r in res["rdd"]]
    assert all("tabulate_error" not in row for row in again["rdd"])


@pytest.mark.spark
def test_layered_environment_without_storage_is_served_by_the_driver(
    spark_env: Env, tmp_path: Path
) -> None:
    node = tmp_path / "node-cache"  # a fresh node: every layer must be fetched once
    res = spark_env.drive("layered_served", node=str(node))
    first, second = res["first"], res["second"]
    source = first["conf"][f"spark.executorEnv.{LAYERS_VAR}"]
    assert source.startswith("http://127.0.0.1:"), source
    shipped = [PurePosixPath(f).name for f in first["conf"]["spark.files"].split(",")]
    assert not set(shipped) & set(first["layers"]), "the layers are not in spark.files"
    for row in first["rdd"] + second["rdd"]:
        assert "tabulate_error" not in row, row
        assert row["prefix"].startswith(str(node) + os.sep), row
    # The fresh node fetched each layer once (both executors share it); the second
    # application on the now warm node fetched none.
    assert first["served_total"] == len(first["layers"])
    assert second["served_total"] == first["served_total"]
    assert {p.name for p in (node / upkeep.PEX_DIR / "installed_wheels").glob("*/*")}


@pytest.mark.spark
def test_without_pexlab_the_same_job_fails(spark_env: Env) -> None:
    res = spark_env.drive("bare")
    row = res["rdd"][0]
    # Spark's default `python3` on the workers is the bare venv: neither package is there.
    assert row["executable"].startswith(str(spark_env.worker_python.parent.parent))
    assert row["tabulate_error"].startswith("ModuleNotFoundError")
    assert row["edit_error"].startswith("ModuleNotFoundError")


@pytest.mark.spark
def test_edited_editable_runs_new_code_without_rebuilding_pex(
    spark_env: Env, first_run: dict
) -> None:
    init = _edit_project() / "src" / "pexlab_spark_edit" / "__init__.py"
    try:
        init.write_text(EDIT_V2)
        res = spark_env.drive("ship")
    finally:
        init.write_text(EDIT_V1)
    assert {row["answer"] for row in res["rdd"]} == {"v2"}
    # A new application on the same workers: its executors' interpreter is the venv the first
    # application extracted in the node cache, and no new venv appeared.
    first_prefixes = {row["prefix"] for row in first_run["rdd"]}
    assert {row["prefix"] for row in res["rdd"]} == first_prefixes
    assert len(first_prefixes) == 1
    env_dir = spark_env.node_cache / "envs" / res["fingerprint"][:16]
    pex_hash = (env_dir / upkeep.PEX_HASH_FILE).read_text().strip()
    made = [
        v for d in upkeep.pex_dirs(str(spark_env.node_cache), pex_hash) for v in venvs_in(Path(d))
    ]
    assert made == sorted(first_prefixes)
    assert "first start" not in res["stderr"], "a later session unpacks nothing"
    assert {row["cwd"] for row in res["rdd"]}.isdisjoint({row["cwd"] for row in first_run["rdd"]})
    assert all(v.endswith("|v2") for v in res["sql"])
    assert res["fingerprint"] == first_run["fingerprint"]
    assert res["reused"] is True, "the PEX came from the cache: no pex run"
    assert res["pex_mtime"] == first_run["pex_mtime"]
    assert res["zips"] != first_run["zips"], "new content, new zip name"
    assert "pexlab: PEX reused" in res["stderr"]


@pytest.mark.spark
def test_calling_again_after_an_edit_restarts_pexlabs_own_session(spark_env: Env) -> None:
    init = _edit_project() / "src" / "pexlab_spark_edit" / "__init__.py"
    try:
        res = spark_env.drive("edit_loop", init=str(init), v2=EDIT_V2)
    finally:
        init.write_text(EDIT_V1)
    assert {row["answer"] for row in res["before"]} == {"v1"}
    assert {row["answer"] for row in res["after"]} == {"v2"}, "no stop(): the new code runs"
    assert res["zips1"] != res["zips2"]
    assert res["same_context"] is False
    assert res["first_stopped"] is True
    assert res["sql_session_new"] is True
    said = [ln for ln in res["said"].splitlines() if ln.strip()]
    assert len(said) == 1, said
    assert said[0].startswith("pexlab: stopped the previous Spark session (it ships "), said
    assert res["zips1"][0] in said[0]
    assert said[0].endswith("; starting one with the new environment")
    # A context pexlab did not start is never stopped: the error says what to do.
    assert "did not start" in res["foreign_error"]
    assert "already running" in res["foreign_error"]
    assert "spark.stop()" in res["foreign_error"]
    assert res["foreign_alive"] is True
    assert res["foreign_rows"] == 2


@pytest.mark.spark
def test_user_conf_overrides_and_env_restored(spark_env: Env, tmp_path: Path) -> None:
    extra = tmp_path / "extra.txt"
    extra.write_text("hello from the user")
    pex_root = tmp_path / "custom-pex-root"
    res = spark_env.drive("overrides", pex_root=str(pex_root), extra_file=str(extra))
    for row in res["rdd"]:
        assert row["tabulate"].startswith(str(pex_root)), row
        assert row["extra"] == "hello from the user"
    assert res["app_name"] == "user-app-name"
    # spark.files is a list: the user's file AND the PEX are both shipped.
    assert str(extra) in res["files"]
    assert ".pex" in res["files"]
    assert res["bad_error"] is not None
    assert res["env_after_error"] == "/kernel/own/value"
    # local master: nothing shipped, the driver's interpreter runs the tasks.
    assert not res["local_conf"].get("spark.files")
    assert not res["local_conf"].get("spark.submit.pyFiles")
    assert res["local_conf"]["spark.pyspark.python"] == res["driver_python"]
    assert res["local_rdd"][0]["executable"] == res["driver_python"]
    assert res["local_env_after"] is None


@pytest.mark.spark
def test_python_version_mismatch_is_named(spark_env: Env) -> None:
    other, version = _other_python()
    mine = f"{sys.version_info[0]}.{sys.version_info[1]}"
    res = spark_env.drive("mismatch", other_python=other, other_version=version)
    assert f"Python {version}" in res["expected_error"]
    assert f"Python {mine}" in res["expected_error"]
    assert res["active_after_expected"] is False
    assert res["probe_versions"] == [mine, version]
    assert f"Python {version}" in res["probe_error"]
    assert f"Python {mine}" in res["probe_error"]


@pytest.mark.spark
def test_two_executors_starting_one_new_pex_at_once_leave_one_environment(
    spark_env: Env,
) -> None:
    res = spark_env.drive("concurrent")
    rows = res["rdd"]
    assert len({row["cwd"] for row in rows}) == 2, "both executors ran the barrier stage"
    env_dir = spark_env.node_cache / "envs" / res["fingerprint"][:16]
    for row in rows:
        assert "tabulate_error" not in row, row
        assert row["node_env"] == str(env_dir)
    assert len({row["prefix"] for row in rows}) == 1
    pex_hash = (env_dir / upkeep.PEX_HASH_FILE).read_text().strip()
    made = [
        v for d in upkeep.pex_dirs(str(spark_env.node_cache), pex_hash) for v in venvs_in(Path(d))
    ]
    assert made == [rows[0]["prefix"]], "one environment, not two"


@pytest.mark.spark
def test_eviction_keeps_the_cap_and_spares_running_executors(
    spark_env: Env, first_run: dict
) -> None:
    res = spark_env.drive("evict", root=str(spark_env.node_cache))
    assert res["stale_left"] is False, "the probe's upkeep evicted the unused environment"
    mine = os.path.basename(res["rdd"][0]["node_env"])
    report = res["report"]
    # (Other environments of this session, used less than the grace period ago, may go too.)
    assert "0000000000stale2" in report["evicted"]
    assert res["older_left"] is False
    assert mine not in report["evicted"]
    assert mine in report["kept_in_use"]
    assert res["mine_left"] is True
    # Everything not in use is gone (the cap, 0, allows nothing) but records of PEXes that share
    # the running venv (the same pex_hash: they differ only in pexlab's deflate level).
    envs = spark_env.node_cache / "envs"

    def venv_of(eid: str) -> str:
        return (envs / eid / upkeep.PEX_HASH_FILE).read_text().strip()

    assert mine in res["envs"]
    assert all(venv_of(e) == venv_of(mine) for e in res["envs"]), res["envs"]
    assert all(row["prefix"] == res["rdd"][0]["prefix"] for row in res["after"])
    assert all("tabulate_error" not in row for row in res["after"])


@pytest.mark.spark
def test_session_start_errors_are_clear_and_the_kernel_stays_usable(
    spark_env: Env, tmp_path: Path
) -> None:
    from pexlab.core.net import free_port

    # A node without Python: the executors' PATH has the usual tools (Spark's Hadoop code runs
    # `chmod` and `bash` from it) and no interpreter.
    empty = tmp_path / "no-python-bin"
    empty.mkdir()
    for tool in ("sh", "bash", "chmod", "mkdir", "id", "ls", "cat", "env", "uname", "dirname"):
        found = shutil.which(tool)
        if found:
            (empty / tool).symlink_to(found)
    res = spark_env.drive("start_errors", closed_port=free_port(), timeout=25, empty_dir=str(empty))
    assert "Did you mean spark://" in res["bad"], "nothing packaged"
    assert res["bad_events"] == [], "nothing packaged"
    assert "Cannot reach the Spark master" in res["unreachable"]
    assert "Connection refused" in res["unreachable"]
    full = res["full"]
    # Spark warns after 15 s of waiting; a start_timeout beyond that quotes it.
    assert "granted no executor to application app-" in full, full
    assert "within 25 s" in full, full
    assert "Initial job has not accepted any resources" in full
    assert "spark.cores.max" in full
    assert "Stop another application" in full
    assert "Spark:" in full, "Spark's own words are quoted"
    assert res["active_after_errors"] is False
    no_python = res["no_python"]
    assert "executor " in no_python, no_python
    assert " on 127.0.0.1" in no_python, no_python
    assert "Failed to find any of these python binaries" in no_python, no_python
    assert "has no python3." in no_python
    unwritable = res["unwritable"]
    assert "executor " in unwritable, unwritable
    assert " on 127.0.0.1" in unwritable, unwritable
    assert "PEX_ROOT /proc/pexlab-not-writable is not writable there" in unwritable
    # Still usable: a working session in the same driver process after all of that.
    assert len({row["cwd"] for row in res["after"]}) == 2
    assert all("tabulate_error" not in row for row in res["after"])


JVM_CHATTER = (
    "Using incubator modules",
    "NativeCodeLoader",
    "Using Spark's default log4j profile",
    "Setting default log level to",
)


@pytest.mark.spark
def test_a_good_start_keeps_the_jvm_chatter_out_and_later_lines_in(spark_env: Env) -> None:
    res = spark_env.drive("quiet")
    assert res["rows"] == [0, 2]
    assert res["console_progress"] == "false"
    said = res["stderr"]
    assert "pexlab-test: a JVM line after the start" in said, said
    for line in JVM_CHATTER:
        assert line not in said, said
    # Negative control: the same JVM started by PySpark alone says them.
    bare = spark_env.drive("bare")["stderr"]
    assert sum(line in bare for line in JVM_CHATTER) >= 2, bare


@pytest.mark.spark
def test_job_progress_under_the_cell_in_a_real_kernel(spark_env: Env) -> None:
    with Kernel(spark_env.driver_env()) as kernel:
        kernel.run(
            "import pexlab\n"
            f"spark = pexlab.create_spark_session(master={spark_env.cluster.master_url!r}, "
            f"conf={spark_env.cluster.driver_conf()!r}, "
            f"python={str(spark_env.kernel.python)!r}, progress=False)\n"
        )
        msgs = kernel.run(
            "import time\n"
            "rows = spark.sparkContext.parallelize(range(4), 2)"
            ".map(lambda x: (time.sleep(3), x)[1]).collect()\n"
            "print(rows)\n"
        )
        shown = displays(msgs, "Spark job")
        assert_one_live_display(shown, "tasks 2/2")
        assert "[0, 1, 2, 3]" in stream_text(msgs)
        said = stream_text(
            kernel.run(
                "spark.stop()\n"
                "import threading\n"
                "print(sorted(t.name for t in threading.enumerate() if 'job-progress' in t.name))\n"
            )
        )
        assert said.strip().endswith("[]"), said


# ---- conf logic, no cluster ----------------------------------------------------------------------


def _arts(url: bool) -> Artifacts:
    """Artifacts as package_environment returns them, without building anything."""
    base = "s3://b/p/" if url else None

    def art(kind: str, name: str) -> Artifact:
        return Artifact(kind, name, f"/cache/{name}", base and base + name, 10, "0" * 64)

    env = Environment(
        "/venv/bin/python", "/venv", "/usr", "3.11.7", "cpython", "cp311", "x", "venv"
    )
    pex = art("pex", "pexlab-env-abc.pex")
    return Artifacts("abc", env, pex, [art("editable", "proj-123.zip")])


def test_artifacts_conf_uses_uploaded_urls_or_local_paths() -> None:
    remote = artifacts_conf(_arts(url=True))
    assert remote["spark.files"] == "s3://b/p/pexlab-env-abc.pex,s3://b/p/proj-123.zip"
    assert remote["spark.submit.pyFiles"] == "s3://b/p/proj-123.zip"
    assert remote["spark.pyspark.python"] == "./pexlab-env-abc.pex"
    # A PEX without the node-cache launcher keeps the per-application ./.pex.
    assert remote["spark.executorEnv.PEX_ROOT"] == "./.pex"
    node = _arts(url=True)
    node.node_cache = True
    assert "spark.executorEnv.PEX_ROOT" not in artifacts_conf(node)
    local = artifacts_conf(_arts(url=False), pex_root="/mnt/pex")
    assert local["spark.files"].split(",") == ["/cache/pexlab-env-abc.pex", "/cache/proj-123.zip"]
    assert local["spark.executorEnv.PEX_ROOT"] == "/mnt/pex"


def test_user_conf_wins_but_list_keys_are_merged() -> None:
    defaults = {"spark.files": "a.pex,b.zip", "spark.executorEnv.PEX_ROOT": "./.pex"}
    merged = merge_conf(
        defaults, {"spark.files": "user.txt,a.pex", "spark.executorEnv.PEX_ROOT": "/x", "k": 1}
    )
    assert merged["spark.files"] == "user.txt,a.pex,b.zip"
    assert merged["spark.executorEnv.PEX_ROOT"] == "/x"
    assert merged["k"] == "1"


def test_local_masters() -> None:
    assert is_local_master("local")
    assert is_local_master("local[*]")
    assert is_local_master("local[2]")
    assert is_local_master("local-cluster[2,1,1024]")
    assert not is_local_master("spark://h:7077")
    assert not is_local_master("yarn")
    assert not is_local_master("k8s://https://api:6443")


def test_pyspark_python_is_restored_even_on_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from pexlab.spark.classic import _pyspark_python

    monkeypatch.setenv("PYSPARK_PYTHON", "before")
    seen = []

    def fail() -> None:
        with _pyspark_python("./env.pex"):
            seen.append(os.environ["PYSPARK_PYTHON"])
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        fail()
    assert seen == ["./env.pex"]
    assert os.environ["PYSPARK_PYTHON"] == "before"
    monkeypatch.delenv("PYSPARK_PYTHON")
    with _pyspark_python("./env.pex"):
        pass
    assert "PYSPARK_PYTHON" not in os.environ


def test_spark_connect_master_is_refused_clearly() -> None:
    from pexlab.spark import spark_conf

    with pytest.raises(PexlabSparkError, match="Spark Connect"):
        spark_conf(master="sc://localhost:15002")


def test_expected_python_mismatch_without_cluster() -> None:
    with pytest.raises(PythonVersionMismatch, match=r"Python 3\.9 .*Python 3\.11") as info:
        check_executor_python(None, expected="3.9", driver_version="3.11")
    assert (info.value.driver, info.value.executors) == ("3.11", "3.9")
    assert check_executor_python(None, expected="3.11.4", driver_version="3.11") == "3.11.4"
    with pytest.raises(PexlabSparkError, match="Not a Python version"):
        check_executor_python(None, expected="eleven", driver_version="3.11")


def test_spark_args_formats_and_cli_registration() -> None:
    conf = {"spark.files": "s3://b/x y.pex", "spark.executorEnv.PEX_ROOT": "./.pex"}
    args = format_submit_args(conf)
    assert "--conf 'spark.files=s3://b/x y.pex'" in args
    assert "--conf spark.executorEnv.PEX_ROOT=./.pex" in args
    assert json.loads(format_submit_args(conf, "json")) == conf
    assert "spark.files s3://b/x y.pex" in format_submit_args(conf, "properties").splitlines()
    parser = argparse.ArgumentParser()
    register_spark_args(parser.add_subparsers())
    ns = parser.parse_args(
        ["spark-args", "--storage", "/tmp/s", "--conf", "a=b", "--format", "json"]
    )
    assert ns.storage == "/tmp/s"
    assert ns.conf == ["a=b"]
    assert callable(ns.func)


def test_notebook_progress_plain_text_fallback() -> None:
    out = io.StringIO()
    progress = NotebookProgress(stream=out, use_display=False)

    class Ev:
        def __init__(self, phase: str, fraction: float | None, message: str) -> None:
            self.phase, self.fraction, self.message = phase, fraction, message

    for i in range(101):
        progress(Ev("build", i / 100, "pex"))
    progress.done("pexlab: PEX built x.pex (1.0 MB); 2.0 s")
    lines = out.getvalue().splitlines()
    # One line per 10% step, not per event; the summary last.
    assert len(lines) == 12
    assert lines[0].startswith("pexlab: Building the PEX")
    assert lines[-1].endswith("2.0 s")


def test_notebook_progress_updates_one_display_in_a_real_kernel() -> None:
    # A real IPython kernel (ipykernel via jupyter_client): the feedback is one display that is
    # updated in place, then replaced by the summary.
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        code = (
            "from pexlab.spark.notebook_progress import NotebookProgress\n"
            "from pexlab.core.progress import ProgressEvent\n"
            "p = NotebookProgress()\n"
            "p(ProgressEvent('build', 0.5, 'pex running'))\n"
            "p(ProgressEvent('upload', 1.0, 'done'))\n"
            "p.done('pexlab: PEX built x.pex (1.0 MB); ready in 2.0 s')\n"
        )
        msgs: list[dict] = []
        reply = kc.execute_interactive(code, timeout=60, output_hook=msgs.append)
        assert reply["content"]["status"] == "ok"
        kinds = [
            (m["msg_type"], m["content"].get("transient", {}).get("display_id"))
            for m in msgs
            if "display" in m["msg_type"]
        ]
        assert kinds[0][0] == "display_data"
        assert kinds[0][1]
        assert [k for k, _ in kinds[1:]] == ["update_display_data"] * 2
        assert len({d for _, d in kinds}) == 1, "always the same display"
        displays = [m for m in msgs if "display" in m["msg_type"]]
        first = displays[0]["content"]["data"]
        assert "Building the PEX" in first["text/plain"]
        assert "<progress" in first["text/html"]
        last = displays[-1]["content"]["data"]
        assert last["text/plain"].startswith("pexlab: PEX built")
        assert not [m for m in msgs if m["msg_type"] == "stream"], "nothing on stderr in a kernel"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("local", "local"),
        ("local[*]", "local"),
        ("local[4,2]", "local"),
        ("local-cluster[2,1,1024]", "local"),
        ("spark://h:7077", "standalone"),
        ("spark://a:7077,b:7077", "standalone"),
        ("yarn", "yarn"),
        ("k8s://https://api:6443", "k8s"),
        ("sc://localhost:15002", "connect"),
        ("sc://host:15002/;token=abc", "connect"),
    ],
)
def test_master_kind(url: str, kind: str) -> None:
    assert master_kind(url) == kind
    assert validate_master(f" {url} ") == url


@pytest.mark.parametrize(
    "url", ["sprak://h:7077", "spark://", "yarn-client", "local[]", "mesos://h"]
)
def test_malformed_master_names_the_url_and_the_expected_forms(url: str) -> None:
    with pytest.raises(PexlabSparkError, match=r"not a Spark master URL.*spark://HOST:PORT"):
        validate_master(url)
    # Refused before anything is packaged or started.
    from pexlab.spark import spark_conf

    with pytest.raises(PexlabSparkError, match="not a Spark master URL"):
        spark_conf(master=url)


def test_pexlab_spark_conf_is_the_function() -> None:
    import pexlab

    assert pexlab.spark_conf(master="local[2]", conf={"k": 1})["k"] == "1"
    assert pexlab.spark_conf is pexlab.spark.spark_conf


def test_plan_ships_through_the_packager_for_cluster_masters() -> None:
    seen: dict = {}

    def packager(**kw: object) -> Artifacts:
        seen.update(kw)
        return _arts(url=True)

    opts = SessionOptions(
        master="spark://h:7077",
        conf={"spark.files": "user.txt"},
        pex_root="/mnt/pex",
        options={"exclude": ["numpy"]},
    )
    p = plan(opts, packager=packager)
    assert seen["options"] == BuildOptions(exclude=("numpy",))
    assert p.conf["spark.files"] == "user.txt,s3://b/p/pexlab-env-abc.pex,s3://b/p/proj-123.zip"
    assert p.conf["spark.executorEnv.PEX_ROOT"] == "/mnt/pex"
    assert p.executor_python == "./pexlab-env-abc.pex"
    assert p.py_files == ["proj-123.zip"]
    local = plan(SessionOptions(master="local[2]"), packager=packager)
    assert local.local
    assert "spark.files" not in local.conf


def test_create_spark_session_with_a_connect_url_goes_to_spark_connect() -> None:
    from pexlab import create_spark_session

    for kw in ({"remote": "sc://127.0.0.1:1"}, {"master": "sc://127.0.0.1:1"}):
        with pytest.raises(PexlabSparkError, match="Spark Connect"):
            create_spark_session(progress=False, **kw)


def test_public_signatures_are_session_options_fields() -> None:
    """create_* and spark_conf hand their parameters to SessionOptions by name."""
    import dataclasses
    import inspect

    from pexlab.spark import create_spark_context, create_spark_session, spark_conf

    fields = {f.name for f in dataclasses.fields(SessionOptions)}
    for fn in (create_spark_context, create_spark_session, spark_conf):
        assert set(inspect.signature(fn).parameters) <= fields, fn.__name__


def test_public_entry_points_pass_every_argument_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each parameter reaches SessionOptions under its own name: a parameter added to a
    signature but not handed on would silently fall back to its default."""
    import inspect

    import pexlab.spark.conf as conf_mod
    import pexlab.spark.session as session_mod

    seen: list[SessionOptions] = []

    def capture(opts: SessionOptions, *_: object) -> object:
        seen.append(opts)
        raise StopIteration

    monkeypatch.setattr(session_mod, "context_for", capture)
    monkeypatch.setattr(session_mod, "session_for", capture)
    monkeypatch.setattr(conf_mod, "plan", capture)
    for fn in (
        session_mod.create_spark_context,
        session_mod.create_spark_session,
        conf_mod.spark_conf,
    ):
        # A distinct sentinel per parameter, so a swapped pair would show too.
        args = {name: f"<{name}>" for name in inspect.signature(fn).parameters}
        with pytest.raises(StopIteration):
            fn(**args)  # type: ignore[arg-type]
        got = seen.pop()
        for name, value in args.items():
            assert getattr(got, name) == value, (fn.__name__, name)
