"""A Spark Connect client run by tests/test_connect.py INSIDE the kernel venv (pyspark-client,
no JVM, no full pyspark), the way a notebook kernel would run it.

    <kernel python> connect_driver.py <scenario> <sc:// url> <json args>

pexlab comes from PYTHONPATH (the repo); pyspark-client, tabulate and the editable project come
from the kernel venv.  The result is printed as one JSON line prefixed `RESULT `.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from typing import Any

from drivers import report_result


def where(_: Any) -> str:
    """Runs on an executor: where its imports come from (JSON, so a UDF can return it)."""
    import json as _json
    import os as _os
    import sys as _sys

    out = {"executable": _sys.executable, "cwd": _os.getcwd()}
    try:
        import tabulate

        out["tabulate"] = tabulate.__file__
    except ImportError as exc:
        out["tabulate_error"] = f"{type(exc).__name__}: {exc}"
    try:
        import pexlab_connect_edit

        out["edit"] = pexlab_connect_edit.__file__
        out["answer"] = pexlab_connect_edit.answer()
    except ImportError as exc:
        out["edit_error"] = f"{type(exc).__name__}: {exc}"
    return _json.dumps(out)


def run_udfs(spark: Any) -> dict[str, Any]:
    """A plain Python UDF and a mapInPandas (Arrow) function, both importing the package and
    the project."""
    import pandas as pd
    from pyspark.sql.functions import udf

    rows = spark.range(0, 4, 1, 2).select(udf(where, "string")("id").alias("w")).collect()

    def frames(batches: Any) -> Any:
        for batch in batches:
            yield pd.DataFrame({"w": [where(i) for i in batch["id"]]})

    arrow = spark.range(0, 2, 1, 2).mapInPandas(frames, "w string").collect()
    return {
        "udf": [json.loads(r.w) for r in rows],
        "arrow": [json.loads(r.w) for r in arrow],
    }


def create(url: str, **kw: Any) -> Any:
    import pexlab

    return pexlab.create_spark_session(remote=url, **kw)


def pex_distributions(pex: str) -> list[str]:
    """Distribution names inside the PEX (its PEX-INFO), to see what was left out."""
    import zipfile

    with zipfile.ZipFile(pex) as zf:
        info = json.loads(zf.read("PEX-INFO"))
    return sorted(info.get("distributions", {}))


def describe(spark: Any) -> dict[str, Any]:
    from pexlab.spark.connect import shipment_of

    s = shipment_of(spark)
    a = s.artifacts
    return {
        "session_id": spark.session_id,
        "python_conf": spark.conf.get("spark.sql.execution.pyspark.python"),
        "fingerprint": a.fingerprint,
        "reused": a.reused,
        "pex_path": a.pex.local_path,
        "pex_mtime": os.stat(a.pex.local_path).st_mtime_ns,
        "zips": list(s.zip_names),
        "pex_upload": s.pex_upload,
        "executors_python": s.executors_python,
    }


def apps(ui: str) -> list[str]:
    with urllib.request.urlopen(ui + "/json/", timeout=5) as resp:
        state = json.loads(resp.read().decode())
    return sorted(a["id"] for a in state.get("activeapps", []) + state.get("completedapps", []))


def ship(url: str, args: dict) -> dict:
    from pexlab.spark.connect import shipment_of

    spark = create(url)
    s = shipment_of(spark)
    res = {"first": describe(spark), "run": run_udfs(spark)}
    import pexlab_connect_edit

    res["driver_edit"] = pexlab_connect_edit.__file__
    res["sys_path_zips"] = [p for p in sys.path if os.path.basename(p) in s.zip_names]
    again = create(url, progress=False)
    res["same_session"] = again is spark
    res["pex_distributions"] = pex_distributions(s.artifacts.pex.local_path)
    return res


def layered(url: str, args: dict) -> dict:
    """A layered environment (BuildOptions(layout="layers")): launcher and layers as artifacts."""
    from pexlab.spark.connect import shipment_of

    spark = create(url, options={"layout": "layers"})
    res = {"first": describe(spark), "run": run_udfs(spark)}
    res["layers"] = [x.name for x in shipment_of(spark).artifacts.layers]
    spark.stop()
    return res


def layered_shared(url: str, args: dict) -> dict:
    """The layered environment with a shared storage folder: the session carries the launcher
    and the file naming the folder, not the layers.  The kernel has one distribution no other
    test ships (`args["module"]`), so the node must read that layer from the folder.  The node
    cache is not emptied: the server's running workers of earlier sessions live in it."""
    from pyspark.sql.functions import udf

    from pexlab.nodecache.upkeep import layers
    from pexlab.spark.connect import shipment_of

    module = args["module"]

    def imported(_: Any) -> str:
        import importlib as _importlib
        import json as _json
        import os as _os

        out = {"cwd_files": _os.listdir(".")}
        try:
            out["file"] = _importlib.import_module(module).__file__
        except ImportError as exc:
            out["error"] = f"{type(exc).__name__}: {exc}"
        return _json.dumps(out)

    before = sorted(layers(args["node_cache"]))
    spark = create(url, options={"layout": "layers"}, storage=args["storage"], progress=False)
    rows = spark.range(0, 2, 1, 2).select(udf(imported, "string")("id").alias("w")).collect()
    a = shipment_of(spark).artifacts
    res = {
        "rows": [json.loads(r.w) for r in rows],
        "storage": sorted(os.listdir(args["storage"])),
        "layers": [x.name for x in a.layers],
        "launcher": a.pex.name,
        "before": before,
        "after": sorted(layers(args["node_cache"])),
    }
    # Same layers, no shared folder: the live session above reads layers from a folder this
    # one does not name, so it must not be reused.
    again = create(url, options={"layout": "layers"}, progress=False)
    b = shipment_of(again)
    res["again"] = {"session_id": b.session_id, "layer_source": b.artifacts.layer_source}
    res["session_id"] = shipment_of(spark).session_id
    res["layer_source"] = a.layer_source
    again.stop()
    spark.stop()
    return res


def bare(url: str, args: dict) -> dict:
    """The same functions in a plain Connect session (workers' own `python3`, nothing shipped)."""
    from pyspark.sql import SparkSession
    from pyspark.sql.functions import udf

    spark = SparkSession.builder.remote(url).create()
    res: dict[str, Any] = {}
    try:
        run_udfs(spark)
        res["error"] = None
    except Exception as exc:
        res["error"] = f"{type(exc).__name__}: {exc}"[:3000]
    # Spark 4 runs plain UDFs through Arrow too, and the bare workers have no pyarrow either;
    # with the pickled (non-Arrow) path the UDF itself runs and its own imports fail.
    spark.conf.set("spark.sql.execution.pythonUDF.arrow.enabled", "false")
    rows = spark.range(0, 2, 1, 2).select(udf(where, "string", useArrow=False)("id")).collect()
    res["pickled"] = [json.loads(r[0]) for r in rows]
    return res


def edit(url: str, args: dict) -> dict:
    """The edit loop in one kernel process: session, edit the project, session again."""
    res: dict[str, Any] = {"apps_before": apps(args["ui"])}
    one = create(url)
    res["one"] = describe(one)
    res["one_run"] = run_udfs(one)
    builds = sorted(os.listdir(args["builds"]))
    with open(args["init"], "w") as f:
        f.write(args["v2"])
    import pexlab

    two = pexlab.create_spark_session(master=url)  # an sc:// master means the same
    res["two"] = describe(two)
    res["two_run"] = run_udfs(two)
    # Both sessions at once: each sees its own zip.
    res["one_again"] = run_udfs(one)
    res["builds_unchanged"] = sorted(os.listdir(args["builds"])) == builds
    res["apps_after"] = apps(args["ui"])
    import importlib

    import pexlab_connect_edit

    importlib.reload(pexlab_connect_edit)
    res["driver_answer"] = pexlab_connect_edit.answer()
    return res


def mismatch(url: str, args: dict) -> dict:
    from pyspark.sql import SparkSession

    from pexlab.spark import PythonVersionMismatch
    from pexlab.spark.connect import check_session_python

    res: dict[str, Any] = {}
    try:
        create(url, expected_python=args["other_version"], progress=False)
        res["expected_error"] = None
    except PythonVersionMismatch as exc:
        res["expected_error"] = str(exc)
    # A real mismatch found by the probe UDF: the session's workers run another Python.
    spark = SparkSession.builder.remote(url).create()
    spark.conf.set("spark.sql.execution.pyspark.python", args["other_python"])
    try:
        check_session_python(spark)
        res["probe_error"] = None
    except PythonVersionMismatch as exc:
        res["probe_error"] = str(exc)
        res["probe_versions"] = [exc.driver, exc.executors]
    return res


def main() -> None:
    scenario, url, raw = sys.argv[1], sys.argv[2], sys.argv[3]
    args = json.loads(raw)
    report_result(lambda: globals()[scenario](url, args))


if __name__ == "__main__":
    main()
