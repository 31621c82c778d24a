"""A Spark driver run by tests/test_yarn.py INSIDE the kernel venv, against the local YARN.

    <kernel python> yarn_driver.py <scenario> <json args>

pexlab comes from PYTHONPATH (the repo); pyspark, fsspec, requests, tabulate and the editable
project `pexlab_yarn_edit` from the kernel venv.  One JSON line prefixed `RESULT ` is printed.
"""

from __future__ import annotations

import json
import sys
import traceback


def where(_: object) -> dict[str, str]:
    """Runs in a YARN container: where its interpreter and imports come from."""
    import os as _os
    import sys as _sys

    out = {"executable": _sys.executable, "cwd": _os.getcwd()}
    # Files YARN localized are links from the container's folder into the NodeManager's cache.
    out["pex_links"] = [
        _os.path.realpath(f) for f in sorted(_os.listdir(".")) if f.endswith(".pex")
    ]
    try:
        import tabulate

        out["tabulate"] = tabulate.__file__
    except ImportError as exc:
        out["tabulate_error"] = f"{type(exc).__name__}: {exc}"
    try:
        import pexlab_yarn_edit

        out["edit"] = pexlab_yarn_edit.__file__
        out["answer"] = pexlab_yarn_edit.answer()
    except ImportError as exc:
        out["edit_error"] = f"{type(exc).__name__}: {exc}"
    return out


def ship(args: dict) -> dict:
    import pexlab
    from pexlab.spark import artifacts_of

    spark = pexlab.create_spark_session(
        master="yarn",
        storage=args["storage"],
        conf=args["conf"],
        app_name="pexlab-yarn-test",
        options=args.get("options"),
    )
    sc = spark.sparkContext
    arts = artifacts_of(sc)
    res = {
        "layers": [x.url for x in arts.layers],
        "layers_sent": arts.layers_sent,
        "conf": dict(sc.getConf().getAll()),
        "python_exec": sc.pythonExec,
        "fingerprint": arts.fingerprint,
        "reused": arts.reused,
        "pex_url": arts.pex.url,
        "zip_urls": [z.url for z in arts.editables],
        "rdd": sc.parallelize(range(4), 2).map(where).collect(),
    }
    spark.stop()
    return res


def bare(args: dict) -> dict:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("yarn")
    for k, v in args["conf"].items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    try:
        return {"rdd": spark.sparkContext.parallelize([0], 1).map(where).collect()}
    finally:
        spark.stop()


def unreachable(args: dict) -> dict:
    import pexlab

    try:
        pexlab.create_spark_session(master="yarn", storage=args["storage"], conf=args["conf"])
        return {"error": None}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def main() -> None:
    scenario, raw = sys.argv[1], sys.argv[2]
    try:
        result = {"ok": True, **globals()[scenario](json.loads(raw))}
    except Exception as exc:
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        result["traceback"] = traceback.format_exc()
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
