"""A Spark driver run by tests/test_spark.py INSIDE the kernel venv (not the project venv).

    <kernel python> spark_driver.py <scenario> <master url> <json args>

pexlab comes from PYTHONPATH (the repo); pyspark, fsspec, tabulate and the editable project come
from the kernel venv.  The result is printed as one JSON line prefixed `RESULT ` (Spark logs
around it are ignored).
"""

from __future__ import annotations

import json
import os
import sys

from drivers import report_result


def where(_: object) -> dict[str, str]:
    """Runs on an executor: where its imports come from."""
    import os as _os
    import sys as _sys

    out = {
        "executable": _sys.executable,
        "cwd": _os.getcwd(),
        "pex_root": _os.environ.get("PEX_ROOT", ""),
        "prefix": _os.path.realpath(_sys.prefix),
        "node_env": _os.environ.get("PEXLAB_NODE_ENV", ""),
    }
    import pyspark

    out["pyspark"] = pyspark.__file__
    try:
        import tabulate

        out["tabulate"] = tabulate.__file__
    except ImportError as exc:
        out["tabulate_error"] = f"{type(exc).__name__}: {exc}"
    try:
        import pexlab_spark_edit

        out["edit"] = pexlab_spark_edit.__file__
        out["answer"] = pexlab_spark_edit.answer()
    except ImportError as exc:
        out["edit_error"] = f"{type(exc).__name__}: {exc}"
    return out


def ship(master: str, args: dict) -> dict:
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    import pexlab
    from pexlab.spark import artifacts_of

    os.environ["PYSPARK_PYTHON"] = "/kernel/own/value"
    spark = pexlab.create_spark_session(master=master, conf=args["conf"], app_name="pexlab-test")
    res: dict = {"env_after": os.environ.get("PYSPARK_PYTHON")}
    sc = spark.sparkContext
    res["conf"] = dict(sc.getConf().getAll())
    res["python_exec"] = sc.pythonExec
    arts = artifacts_of(sc)
    res["fingerprint"] = arts.fingerprint
    res["reused"] = arts.reused
    res["pex_path"] = arts.pex.local_path
    res["pex_mtime"] = os.stat(arts.pex.local_path).st_mtime_ns
    res["zips"] = [z.name for z in arts.editables]
    res["rdd"] = sc.parallelize(range(4), 2).map(where).collect()

    # The same through a SQL UDF, the way most notebooks use Python on executors.
    @F.udf(returnType=StringType())
    def edit_file(_: int) -> str:
        import pexlab_spark_edit
        import tabulate

        return (
            pexlab_spark_edit.__file__ + "|" + tabulate.__file__ + "|" + pexlab_spark_edit.answer()
        )

    res["sql"] = [r[0] for r in spark.range(2).select(edit_file("id")).collect()]
    # The driver still imports the editable project from its live sources, not from the zip.
    import pexlab_spark_edit

    res["driver_edit"] = pexlab_spark_edit.__file__
    # Same call again with the context running: reused, not an error.
    again = pexlab.create_spark_session(master=master, conf=args["conf"], progress=False)
    res["reused_context"] = again.sparkContext is sc
    spark.stop()
    return res


def layered(master: str, args: dict) -> dict:
    """A layered environment (BuildOptions(layout="layers")) with its layers in storage."""
    import pexlab
    from pexlab.spark import artifacts_of

    spark = pexlab.create_spark_session(
        master=master,
        conf=args["conf"],
        storage=args["storage"],
        options={"layout": "layers"},
        app_name="pexlab-layered",
    )
    sc = spark.sparkContext
    arts = artifacts_of(sc)
    res: dict = {
        "conf": dict(sc.getConf().getAll()),
        "layers": [x.name for x in arts.layers],
        "layers_sent": arts.layers_sent,
        "fingerprint": arts.fingerprint,
        "pex_name": arts.pex.name,
    }
    res["rdd"] = sc.parallelize(range(4), 2).map(where).collect()
    spark.stop()
    return res


def layered_served(master: str, args: dict) -> dict:
    """A layered environment without storage: this driver serves the layers (layer_server).
    Two applications in a row, on a node cache of their own."""
    import pexlab
    from pexlab.spark import artifacts_of, layer_server

    conf = {**args["conf"], "spark.executorEnv.PEXLAB_NODE_CACHE": args["node"]}
    res: dict = {}
    for run in ("first", "second"):
        spark = pexlab.create_spark_session(
            master=master, conf=conf, options={"layout": "layers"}, progress=False
        )
        sc = spark.sparkContext
        before = layer_server.served()
        res[run] = {
            "conf": dict(sc.getConf().getAll()),
            "layers": [x.name for x in artifacts_of(sc).layers],
            "rdd": sc.parallelize(range(4), 2).map(where).collect(),
        }
        # Served during this application (its probe task and job); the first application's
        # count includes the probe at session start, hence before the session was made too.
        res[run]["served_total"] = layer_server.served()
        res[run]["served_in_job"] = layer_server.served() - before
        spark.stop()
    return res


def edit_loop(master: str, args: dict) -> dict:
    """The README's loop: a session, an edit, the same call again (no stop): new code runs.
    Then a context pexlab did not make: never stopped by pexlab."""
    import contextlib
    import io

    from pyspark import SparkConf, SparkContext

    import pexlab
    from pexlab.spark import artifacts_of

    spark = pexlab.create_spark_session(master=master, conf=args["conf"], progress=False)
    sc1 = spark.sparkContext
    res: dict = {"before": sc1.parallelize(range(2), 2).map(where).collect()}
    res["zips1"] = [z.name for z in artifacts_of(sc1).editables]
    with open(args["init"], "w") as f:
        f.write(args["v2"])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        spark2 = pexlab.create_spark_session(master=master, conf=args["conf"], progress=False)
    res["said"] = out.getvalue()
    sc2 = spark2.sparkContext
    res["same_context"] = sc2 is sc1
    res["first_stopped"] = sc1._jsc is None
    res["zips2"] = [z.name for z in artifacts_of(sc2).editables]
    res["after"] = sc2.parallelize(range(2), 2).map(where).collect()
    res["sql_session_new"] = spark2 is not spark
    spark2.stop()

    # A context pexlab did not start: an error, and it keeps running.
    theirs = SparkContext(conf=SparkConf().setMaster(master).setAll(list(args["conf"].items())))
    try:
        pexlab.create_spark_session(master=master, conf=args["conf"], progress=False)
        res["foreign_error"] = None
    except pexlab.spark.PexlabSparkError as exc:
        res["foreign_error"] = str(exc)
    res["foreign_alive"] = theirs._jsc is not None
    res["foreign_rows"] = theirs.parallelize(range(2), 2).count()
    theirs.stop()
    return res


def bare(master: str, args: dict) -> dict:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master)
    for k, v in args["conf"].items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    try:
        return {"rdd": spark.sparkContext.parallelize([0], 1).map(where).collect()}
    finally:
        spark.stop()


def overrides(master: str, args: dict) -> dict:
    from pyspark import SparkFiles

    import pexlab

    conf = dict(args["conf"])
    conf["spark.executorEnv.PEX_ROOT"] = args["pex_root"]
    conf["spark.files"] = args["extra_file"]
    conf["spark.app.name"] = "user-app-name"
    sc = pexlab.create_spark_context(master=master, conf=conf, app_name="ignored", progress=False)
    name = os.path.basename(args["extra_file"])

    def probe(_: object) -> dict:
        out = where(_)
        with open(SparkFiles.get(name)) as f:
            out["extra"] = f.read()
        return out

    res = {"rdd": sc.parallelize([0, 1], 2).map(probe).collect(), "app_name": sc.appName}
    res["files"] = sc.getConf().get("spark.files")
    sc.stop()

    # An error while the context is created still restores the kernel's environment.
    os.environ["PYSPARK_PYTHON"] = "/kernel/own/value"
    bad = dict(args["conf"])
    bad["spark.executor.cores"] = "not-a-number"
    try:
        pexlab.create_spark_context(master=master, conf=bad, progress=False)
        res["bad_error"] = None
    except Exception as exc:
        res["bad_error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    res["env_after_error"] = os.environ.get("PYSPARK_PYTHON")
    from pyspark import SparkContext

    if SparkContext._active_spark_context is not None:
        SparkContext._active_spark_context.stop()

    # local[*]: nothing shipped, workers use the driver's own interpreter.
    del os.environ["PYSPARK_PYTHON"]
    sc = pexlab.create_spark_context(
        master="local[1]", conf={"spark.ui.enabled": "false"}, progress=False
    )
    res["local_conf"] = dict(sc.getConf().getAll())
    res["local_rdd"] = sc.parallelize([0], 1).map(where).collect()
    res["local_env_after"] = os.environ.get("PYSPARK_PYTHON")
    res["driver_python"] = sys.executable
    sc.stop()
    return res


def mismatch(master: str, args: dict) -> dict:
    from pyspark import SparkConf, SparkContext

    import pexlab
    from pexlab.spark import PythonVersionMismatch, check_executor_python

    res: dict = {}
    try:
        pexlab.create_spark_context(
            master=master, conf=args["conf"], expected_python=args["other_version"], progress=False
        )
    except PythonVersionMismatch as exc:
        res["expected_error"] = str(exc)
    res["active_after_expected"] = SparkContext._active_spark_context is not None

    # A real mismatch found by the probe task: executors run another Python than the driver.
    os.environ["PYSPARK_PYTHON"] = args["other_python"]
    sc = SparkContext(conf=SparkConf().setMaster(master).setAll(list(args["conf"].items())))
    del os.environ["PYSPARK_PYTHON"]
    try:
        check_executor_python(sc)
        res["probe_error"] = None
    except PythonVersionMismatch as exc:
        res["probe_error"] = str(exc)
        res["probe_versions"] = [exc.driver, exc.executors]
    sc.stop()
    return res


def _wait_executors(sc, n: int, seconds: float = 180) -> None:
    import time

    from pexlab.spark.executor_start import executor_count

    deadline = time.monotonic() + seconds
    while executor_count(sc) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"fewer than {n} executors after {seconds} s")
        time.sleep(0.5)


def concurrent(master: str, args: dict) -> dict:
    """Two executors start the same NEW PEX at the same moment (a barrier stage launches both
    tasks together, and no probe ran before)."""
    import pexlab
    from pexlab.build.pex import BuildOptions
    from pexlab.spark import artifacts_of

    sc = pexlab.create_spark_context(
        master=master,
        conf=args["conf"],
        options=BuildOptions(zip_level=2),  # another fingerprint: new to the node cache
        check_python=False,
        progress=False,
    )
    _wait_executors(sc, 2)
    rows = sc.parallelize(range(2), 2).barrier().mapPartitions(lambda it: [where(0)]).collect()
    res = {"rdd": rows, "fingerprint": artifacts_of(sc).fingerprint}
    sc.stop()
    return res


def _fake_env(root: str, eid: str, age: float) -> str:
    import time

    from pexlab.nodecache import upkeep as node_cache

    d = os.path.join(root, "envs", eid)
    os.makedirs(os.path.join(d, "venvs"))
    with open(os.path.join(d, "venvs", "blob"), "wb") as f:
        f.write(os.urandom(1 << 20))
    used = os.path.join(d, node_cache.USED_FILE)
    open(used, "w").close()
    os.utime(used, (time.time() - age, time.time() - age))
    return d


def evict(master: str, args: dict) -> dict:
    import time

    import pexlab
    from pexlab.nodecache import upkeep as node_cache

    root = args["root"]
    stale = _fake_env(root, "0000000000stale1", 7200)
    # Cap of 1 byte: the probe's upkeep must evict everything that is not in use.
    conf = dict(args["conf"], **{node_cache.MAX_SIZE_CONF: "1"})
    sc = pexlab.create_spark_context(master=master, conf=conf, progress=False)
    res: dict = {"rdd": sc.parallelize(range(2), 2).map(where).collect()}
    deadline = time.monotonic() + 120
    while os.path.exists(stale) and time.monotonic() < deadline:
        time.sleep(0.5)  # the upkeep runs detached from the probe task
    res["stale_left"] = os.path.exists(stale)
    mine = res["rdd"][0]["node_env"]
    # This application's executors are running: make their environment the least recently
    # used of all and evict from another process on the node, as a later session's probe would.
    older = _fake_env(root, "0000000000stale2", 3600)
    past = time.time() - 86400
    os.utime(os.path.join(mine, node_cache.USED_FILE), (past, past))
    # The probe's detached upkeep may still hold the node's eviction lock (a loaded machine):
    # wait for it, as a later session's probe would find the lock free.
    report = node_cache.evict(root, 0, grace=0)
    while report.note == "another executor is evicting" and time.monotonic() < deadline + 60:
        time.sleep(0.5)
        report = node_cache.evict(root, 0, grace=0)
    res["report"] = report.to_json()
    res["older_left"] = os.path.exists(older)
    res["mine_left"] = os.path.exists(mine)
    res["after"] = sc.parallelize(range(2), 2).map(where).collect()
    res["envs"] = sorted(os.listdir(os.path.join(root, "envs")))
    sc.stop()
    return res


def hold(master: str, args: dict) -> None:
    """Another application that takes every core of the cluster until stdin closes."""
    from pyspark import SparkConf, SparkContext

    sc = SparkContext(conf=SparkConf().setMaster(master).setAll(list(args["conf"].items())))
    _wait_executors(sc, 2)
    print("HELD", flush=True)
    sys.stdin.read()
    sc.stop()


def start_errors(master: str, args: dict) -> dict:
    import subprocess
    import time

    from pyspark import SparkContext

    import pexlab
    from pexlab.spark import PexlabSparkError

    res: dict = {}
    events: list = []
    try:
        pexlab.create_spark_context(
            master="sprak://" + master.split("://", 1)[1], conf=args["conf"], progress=events.append
        )
    except PexlabSparkError as exc:
        res["bad"] = str(exc)
    res["bad_events"] = [e.phase for e in events]

    try:
        pexlab.create_spark_context(
            master=f"spark://127.0.0.1:{args['closed_port']}", conf=args["conf"], progress=False
        )
    except PexlabSparkError as exc:
        res["unreachable"] = str(exc)

    holder = subprocess.Popen(
        [sys.executable, __file__, "hold", master, json.dumps(args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for line in holder.stdout:  # type: ignore[union-attr]
            if line.startswith("HELD"):
                break
        t0 = time.monotonic()
        try:
            pexlab.create_spark_context(
                master=master, conf=args["conf"], progress=False, start_timeout=args["timeout"]
            )
        except PexlabSparkError as exc:
            res["full"] = str(exc)
        res["full_seconds"] = time.monotonic() - t0
    finally:
        holder.stdin.close()  # type: ignore[union-attr]
        holder.wait(timeout=120)
    res["active_after_errors"] = SparkContext._active_spark_context is not None

    # No python3.X on a node that has not seen this environment yet: the executors' PATH has no
    # interpreter at all, and their node cache is a fresh folder (in a warm one, the venv this
    # PEX shares with earlier ones, same pex_hash, starts by absolute path and needs no PATH).
    from pexlab.build.options import BuildOptions

    fresh = os.path.join(os.path.dirname(args["empty_dir"]), "fresh-node-cache")
    broken = dict(
        args["conf"],
        **{
            "spark.executorEnv.PATH": args["empty_dir"],
            "spark.executorEnv.PEXLAB_NODE_CACHE": fresh,
        },
    )
    try:
        pexlab.create_spark_context(
            master=master, conf=broken, progress=False, options=BuildOptions(zip_level=3)
        )
    except PexlabSparkError as exc:
        res["no_python"] = str(exc)

    # A PEX_ROOT the executors cannot create.
    try:
        pexlab.create_spark_context(
            master=master, conf=args["conf"], pex_root="/proc/pexlab-not-writable", progress=False
        )
    except PexlabSparkError as exc:
        res["unwritable"] = str(exc)

    # The kernel is still usable.
    sc = pexlab.create_spark_context(master=master, conf=args["conf"], progress=False)
    res["after"] = sc.parallelize(range(2), 2).map(where).collect()
    sc.stop()
    return res


def quiet(master: str, args: dict) -> dict:
    """A good start prints none of the JVM's start-up chatter; a later JVM line still shows."""
    import time

    import pexlab

    spark = pexlab.create_spark_session(master=master, conf=args["conf"], progress=False)
    sc = spark.sparkContext
    res: dict = {"rows": sc.parallelize(range(2), 2).map(lambda x: x * 2).collect()}
    res["console_progress"] = sc.getConf().get("spark.ui.showConsoleProgress")
    err = sc._jvm.java.lang.System.err
    err.println("pexlab-test: a JVM line after the start")
    err.flush()
    time.sleep(1)  # the reader thread passes it on
    spark.stop()
    return res


def main() -> None:
    scenario, master, raw = sys.argv[1], sys.argv[2], sys.argv[3]
    args = json.loads(raw)
    if scenario == "hold":
        hold(master, args)
        return
    report_result(lambda: globals()[scenario](master, args))


if __name__ == "__main__":
    main()
