"""A Spark Connect client run by tests/test_editable_backends.py INSIDE a kernel venv that has one
editable project per build backend: what the executors see of each project (its code, its
distribution metadata, its entry points), before and after an edit of its pure-Python code.

    <kernel python> editable_backends_driver.py <scenario> <sc:// url> <json args>
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from drivers import report_result


def look(modules_json: str) -> str:
    """Runs on an executor: for each (distribution, module), what importlib sees."""
    import importlib
    import importlib.metadata as md
    import json as _json

    GROUP = "pexlab.backend_test"
    out = {}
    for dist, module in _json.loads(modules_json):
        row: dict = {}
        try:
            mod = importlib.import_module(module)
            row["file"] = mod.__file__
            row["answer"] = mod.answer()
            speed = getattr(mod, "_speed", None)
            row["native"] = getattr(speed, "__file__", None)
        except Exception as exc:
            row["import_error"] = f"{type(exc).__name__}: {exc}"
        try:
            row["version"] = md.version(dist)
        except Exception as exc:
            row["version_error"] = f"{type(exc).__name__}: {exc}"
        try:
            eps = [e for e in md.entry_points(group=GROUP) if e.name == module]
            row["entry_point"] = eps[0].value if eps else None
            row["entry_point_call"] = eps[0].load()() if eps else None
        except Exception as exc:
            row["entry_point_error"] = f"{type(exc).__name__}: {exc}"
        out[dist] = row
    return _json.dumps(out)


def _run(spark: Any, modules: list[list[str]]) -> list[dict]:
    from pyspark.sql.functions import lit, udf

    arg = json.dumps(modules)
    rows = spark.range(0, 2, 1, 2).select(udf(look, "string")(lit(arg))).collect()
    return [json.loads(r[0]) for r in rows]


def _describe(spark: Any) -> dict[str, Any]:
    from pexlab.spark.connect import shipment_of

    s = shipment_of(spark)
    return {
        "fingerprint": s.artifacts.fingerprint,
        "reused": s.artifacts.reused,
        "pex_mtime": os.stat(s.artifacts.pex.local_path).st_mtime_ns,
        "zips": list(s.zip_names),
    }


def backends(url: str, args: dict) -> dict:
    import pexlab

    modules = args["modules"]
    res: dict[str, Any] = {"kernel": json.loads(look(json.dumps(modules)))}
    one = pexlab.create_spark_session(remote=url, progress=False)
    res["one"] = _describe(one)
    res["one_run"] = _run(one, modules)
    for path, text in args["edits"].items():  # pure-Python edits, no reinstall
        with open(path, "w") as f:
            f.write(text)
    two = pexlab.create_spark_session(remote=url, progress=False)
    res["two"] = _describe(two)
    res["two_run"] = _run(two, modules)
    return res


def main() -> None:
    scenario, url, raw = sys.argv[1], sys.argv[2], sys.argv[3]
    args = json.loads(raw)
    report_result(lambda: globals()[scenario](url, args))


if __name__ == "__main__":
    main()
