"""pexlab on a REAL Spark Connect server (pip pyspark's SparkConnectServer over a local
standalone cluster: master + 2 workers).

Set-up, once per session:
- the workers' own interpreter (`python3` first on their PATH) is a bare venv WITHOUT the test
  packages, so an import that works in a UDF must come from what pexlab shipped;
- the workers' HOME is a fresh folder: the PEX's own launcher picks its node cache there
  (`~/.cache/pexlab/node-cache`, pexlab.nodecache.upkeep), which is where the shipped PEX unpacks on
  Connect (a client cannot set executor environment variables);
- the "kernel" venv (cached) has `pyspark-client` (no JVM, no full pyspark), `tabulate` from
  PyPI, ipykernel and the editable project `pexlab-connect-edit`; clients run in it as subprocesses
  (tests/connect_driver.py), with pexlab from the repo on PYTHONPATH and pex from the project venv.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from connectenv import CLIENT, EDIT_V1, EDIT_V2, ConnectEnv, _edit_init, _edit_project
from drivers import Kernel, assert_one_live_display, displays, driver_env, stream_text
from venvs import VenvFactory, VenvSpec

from pexlab.nodecache.launcher import LAYER_SOURCE_FILE
from pexlab.spark import PexlabSparkError
from pexlab.spark.connect import validate_remote


@pytest.fixture(scope="session")
def first_run(connect_env: ConnectEnv) -> dict:
    return connect_env.drive("ship")


def _rows(run: dict) -> list[dict]:
    return run["udf"] + run["arrow"]


# ---- on the Connect server ------------------------------------------------------------------


@pytest.mark.spark
def test_udfs_import_from_the_shipped_pex_and_zip(connect_env: ConnectEnv, first_run: dict) -> None:
    res = first_run
    first = res["first"]
    pex_name = Path(first["pex_path"]).name
    assert first["python_conf"] == f"./{pex_name}"
    assert len(first["zips"]) == 1
    assert first["zips"][0].endswith(".zip")
    pex_root = str(connect_env.worker_home / ".cache" / "pexlab" / "node-cache") + "/"
    cwds = set()
    for row in _rows(res["run"]):
        assert "tabulate_error" not in row, row
        assert "edit_error" not in row, row
        # tabulate: from the PEX, unpacked by its launcher into the node cache in the workers'
        # HOME (shared by every session and application on the node).
        assert row["tabulate"].startswith(pex_root), row
        assert row["executable"].startswith(pex_root), row
        # the project: from the content-hashed zip in the session's artifact folder.
        assert f"/{first['zips'][0]}/pexlab_connect_edit/" in row["edit"], row
        assert row["answer"] == "v1"
        cwds.add(row["cwd"])
    assert len(cwds) == 2, "both executors ran Python workers"
    # The kernel keeps importing the live sources, not the zip the client put on sys.path.
    assert res["driver_edit"].startswith(str(_edit_project()))
    assert res["sys_path_zips"] == []
    assert res["same_session"] is True, "nothing changed: the same session again"
    # The client stays out of the PEX (executors import the server's pyspark); its Arrow
    # dependencies go in (Spark 4 runs Python UDFs through Arrow).
    dists = " ".join(res["pex_distributions"])
    assert "pyspark" not in dists, dists
    assert "tabulate" in dists, dists
    assert "pandas" in dists, dists
    assert "pyarrow" in dists, dists
    assert first["executors_python"].startswith("{}.{}.".format(*sys.version_info[:2]))
    assert "pexlab: Spark Connect" in res["stderr"]
    assert "executors' Python 3." in res["stderr"]


@pytest.mark.spark
def test_a_layered_environment_runs_from_its_layer_artifacts(connect_env: ConnectEnv) -> None:
    res = connect_env.drive("layered")
    assert res["layers"]
    assert res["first"]["python_conf"] == "./" + Path(res["first"]["pex_path"]).name
    pex_root = str(connect_env.worker_home / ".cache" / "pexlab" / "node-cache") + "/"
    for row in _rows(res["run"]):
        assert "tabulate_error" not in row, row
        assert "edit_error" not in row, row
        assert row["tabulate"].startswith(pex_root), row


# A small distribution no other test's environment has: its layer is new to the nodes.
SHARED_ONLY = ("colorama", "colorama")


@pytest.mark.spark
def test_layers_in_a_shared_folder_are_read_there_not_shipped(
    connect_env: ConnectEnv, venv_factory: VenvFactory, tmp_path: Path
) -> None:
    dist, module = SHARED_ONLY
    kernel = venv_factory.get(VenvSpec(requirements=(CLIENT, "fsspec", dist)))
    node_cache = connect_env.worker_home / ".cache" / "pexlab" / "node-cache"
    storage = tmp_path / "storage"
    res = connect_env.drive(
        "layered_shared",
        kernel=kernel,
        storage=str(storage),
        node_cache=str(node_cache),
        module=module,
    )
    assert set(res["layers"]) <= set(res["storage"]), "every layer is in the shared folder"
    assert any(dist in name for name in res["layers"]), res["layers"]
    # installed_wheels/<n>/<hash>: the layer this node lacked is extracted now.
    assert set(res["after"]) > set(res["before"]), "the node extracted the layer it lacked"
    for row in res["rows"]:
        assert "error" not in row, row
        assert row["file"].startswith(str(node_cache) + "/"), row
        # The session's folder holds the launcher and the file naming the folder, no layer:
        # the node read the layer it lacked from storage.
        assert res["launcher"] in row["cwd_files"], row
        assert LAYER_SOURCE_FILE in row["cwd_files"], row
        assert not set(res["layers"]) & set(row["cwd_files"]), row
    # Asking again without the folder is a new session that ships the layers itself.
    assert res["layer_source"] is not None
    assert res["again"]["layer_source"] is None
    assert res["again"]["session_id"] != res["session_id"]


@pytest.mark.spark
def test_plain_connect_session_cannot_import_them(connect_env: ConnectEnv) -> None:
    res = connect_env.drive("bare")
    # The Arrow path fails on the workers' own Python before the function runs (no pyarrow).
    assert "ModuleNotFoundError" in res["error"], res["error"]
    # The pickled path runs the function: neither the package nor the project is there.
    for row in res["pickled"]:
        assert row["tabulate_error"].startswith("ModuleNotFoundError"), row
        assert row["edit_error"].startswith("ModuleNotFoundError"), row
        assert not row["executable"].startswith(str(connect_env.worker_home)), row


@pytest.mark.spark
def test_edit_gives_new_session_with_new_code_same_pex_same_app(
    connect_env: ConnectEnv, first_run: dict
) -> None:
    init = _edit_init()
    try:
        res = connect_env.drive(
            "edit",
            ui=connect_env.cluster.ui_url,
            init=str(init),
            v2=EDIT_V2,
            builds=str(connect_env.cache / "builds"),
        )
    finally:
        init.write_text(EDIT_V1)
    one, two = res["one"], res["two"]
    assert {r["answer"] for r in _rows(res["one_run"])} == {"v1"}
    assert {r["answer"] for r in _rows(res["two_run"])} == {"v2"}
    # Two sessions alive at once, each with its own zip.
    assert {r["answer"] for r in _rows(res["one_again"])} == {"v1"}
    assert two["session_id"] != one["session_id"]
    assert two["zips"] != one["zips"], "new content, new zip name"
    # No PEX rebuild: same fingerprint, from the cache, same file, no new build folder.
    assert two["fingerprint"] == one["fingerprint"] == first_run["first"]["fingerprint"]
    assert two["reused"] is True
    assert two["pex_mtime"] == one["pex_mtime"]
    assert res["builds_unchanged"] is True
    # The PEX did not go through the client again: the new session is a server-side clone.
    assert two["pex_upload"] == "cloned"
    # No new Spark application: the Connect server's one application serves every session.
    assert res["apps_after"] == res["apps_before"]
    assert len(res["apps_after"]) == 1
    assert res["driver_answer"] == "v2"


@pytest.mark.spark
def test_python_version_mismatch_is_named(connect_env: ConnectEnv) -> None:
    from test_spark import _other_python

    other, version = _other_python()
    mine = "{}.{}".format(*sys.version_info[:2])
    res = connect_env.drive("mismatch", other_python=other, other_version=version)
    assert f"Python {version}" in res["expected_error"]
    assert f"Python {mine}" in res["expected_error"]
    assert res["probe_versions"] == [mine, version], res
    assert f"Python {version}" in res["probe_error"]
    assert f"Python {mine}" in res["probe_error"]


@pytest.mark.spark
def test_query_progress_under_the_cell_in_a_real_kernel(connect_env: ConnectEnv) -> None:
    """A real kernel in the kernel venv (pyspark-client) on the real server: the Connect
    progress handler draws one live line per query under the cell."""
    with Kernel(driver_env(connect_env.cache), python=str(connect_env.kernel.python)) as kernel:
        kernel.run(
            "import pexlab\n"
            f"spark = pexlab.create_spark_session(remote={connect_env.server.url!r}, "
            "progress=False)\n"
            # The server reports progress every 2 s by default: often enough for this test.
            "spark.conf.set('spark.connect.progress.reportInterval', '500ms')\n"
        )
        msgs = kernel.run(
            "from pyspark.sql.functions import udf\n"
            "@udf('long')\n"
            "def slow(x):\n"
            "    import time\n"
            "    time.sleep(2)\n"
            "    return x\n"
            "print(len(spark.range(0, 4, 1, 2).select(slow('id')).collect()))\n"
        )
        shown = displays(msgs, "Spark query")
        assert_one_live_display(shown, "tasks 2/2")
        assert stream_text(msgs).strip() == "4"
        # A query that fails is not drawn as done.
        msgs = kernel.run(
            "@udf('long')\n"
            "def boom(x):\n"
            "    import time\n"
            "    time.sleep(2)\n"
            "    raise ValueError('boom')\n"
            "try:\n"
            "    spark.range(0, 2, 1, 2).select(boom('id')).collect()\n"
            "except Exception:\n"
            "    print('failed')\n"
        )
        final = displays(msgs, "Spark query")[-1][2]["text/plain"]
        assert "stopped" in final, final
        assert "done" not in final, final
        # A cell without a Spark job draws nothing.
        assert not displays(kernel.run("print(spark.version)"), "Spark query")
        hooks = (
            "print(sum('CellBoard' in repr(h) for e in ('pre_run_cell', 'post_run_cell')"
            " for h in get_ipython().events.callbacks[e]))\n"
        )
        assert stream_text(kernel.run(hooks)).strip() == "2"
        said = stream_text(kernel.run("spark.stop()\n" + hooks))
        assert said.strip() == "0", "the session's stop leaves IPython's events"


# ---- no server ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["sc://", "sprak://h:1", "sc://host:port", "sc://host:15002/path", "host:15002"]
)
def test_bad_remote_urls_are_refused_with_the_expected_shape(url: str) -> None:
    with pytest.raises(PexlabSparkError, match="sc://"):
        validate_remote(url)


def test_good_remote_urls_pass() -> None:
    for url in ("sc://localhost:15002", "sc://h", "sc://h:1/;user_id=me;token=x"):
        assert validate_remote(url) == url


def test_no_server_fails_before_packaging() -> None:
    from pexlab import create_spark_session
    from pexlab.core.net import free_port

    url = f"sc://127.0.0.1:{free_port()}"
    for kw in ({"remote": url}, {"master": url}):
        with pytest.raises(PexlabSparkError, match="not reachable"):
            create_spark_session(progress=False, **kw)


def test_conf_for_spark_submit_points_to_remote_sessions() -> None:
    from pexlab.spark import spark_conf

    with pytest.raises(PexlabSparkError, match=r"create_spark_session\(remote="):
        spark_conf(master="sc://localhost:15002")


def test_connect_conf_shape_is_the_sessions_python_only() -> None:
    from test_spark import _arts

    from pexlab.spark import SessionOptions, artifacts_conf

    for url in (False, True):
        conf = artifacts_conf(_arts(url), SessionOptions(remote="sc://h:1", master="sc://h:1"))
        assert conf == {"spark.sql.execution.pyspark.python": "./pexlab-env-abc.pex"}
