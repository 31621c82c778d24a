"""A Spark driver run by tests/test_editable_backends.py INSIDE a kernel venv that has one
editable project per build backend (a Connect client, or a classic driver for
`backends_classic`): what the executors see of each project (its code, its
distribution metadata, its entry points), before and after an edit of its pure-Python code.

    <kernel python> editable_backends_driver.py <scenario> <sc:// url> <json args>
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from drivers import report_result


def look(args_json: str) -> str:
    """Runs on an executor: for each (distribution, module, compiled submodule), what importlib
    sees, which shared objects of the module are mapped into this process, and whether any of
    the kernel's paths (project folders, meson's loader) are on sys.path or importable."""
    import importlib
    import importlib.metadata as md
    import importlib.util
    import json as _json
    import os as _os
    import sys as _sys

    GROUP = "pexlab.backend_test"
    args = _json.loads(args_json)
    out = {}
    for dist, module, native in args["modules"]:
        row: dict = {}
        try:
            mod = importlib.import_module(module)
            row["file"] = mod.__file__
            row["answer"] = mod.answer()
            if native:
                row["native"] = getattr(mod, native).__file__
        except Exception as exc:
            row["import_error"] = f"{type(exc).__name__}: {exc}"
        try:
            with open("/proc/self/maps") as f:
                maps = {ln.split(None, 5)[-1].strip() for ln in f if ".so" in ln}
            row["mapped"] = sorted(m for m in maps if f"/{module}/" in m)
        except OSError as exc:
            row["mapped_error"] = str(exc)
        row["kernel_paths"] = [
            p
            for p in args["kernel_paths"]
            if any(e == p or e.startswith(p + _os.sep) for e in _sys.path)
            or (p.endswith(".py") and importlib.util.find_spec(_os.path.basename(p)[:-3]))
        ]
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


def _run(
    spark: Any, modules: list[list[str]], kernel_paths: list[str], arrow: bool = True
) -> list[dict]:
    from pyspark.sql.functions import lit, udf

    arg = json.dumps({"modules": modules, "kernel_paths": kernel_paths})
    look_udf = udf(look, "string", useArrow=arrow)
    rows = spark.range(0, 2, 1, 2).select(look_udf(lit(arg))).collect()
    return [json.loads(r[0]) for r in rows]


def _describe(spark: Any) -> dict[str, Any]:
    from pexlab.spark.connect import shipment_of

    s = shipment_of(spark)
    return {
        "fingerprint": s.artifacts.fingerprint,
        "reused": s.artifacts.reused,
        "pex_mtime": os.stat(s.artifacts.pex.local_path).st_mtime_ns,
        "zips": list(s.zip_names),
        "pex_names": _names(s.artifacts.pex.local_path),
    }


def _names(pex: str) -> list[str]:
    import zipfile

    with zipfile.ZipFile(pex) as zf:
        return zf.namelist()


def backends(url: str, args: dict) -> dict:
    from pyspark.sql import SparkSession

    import pexlab

    modules, paths = args["modules"], args["kernel_paths"]
    res: dict[str, Any] = {"kernel": json.loads(look(json.dumps({**args, "kernel_paths": []})))}
    # Negative control: the same job on a session pexlab did not make (bare executors).
    bare = SparkSession.builder.remote(url).create()
    # Spark 4 runs plain UDFs through Arrow, and the bare workers have no pyarrow: pickled path.
    bare.conf.set("spark.sql.execution.pythonUDF.arrow.enabled", "false")
    res["bare_run"] = _run(bare, modules, paths, arrow=False)
    bare.stop()
    one = pexlab.create_spark_session(remote=url, progress=False)
    res["one"] = _describe(one)
    res["one_run"] = _run(one, modules, paths)
    for path, text in args["edits"].items():  # pure-Python edits, no reinstall
        with open(path, "w") as f:
            f.write(text)
    two = pexlab.create_spark_session(remote=url, progress=False)
    res["two"] = _describe(two)
    res["two_run"] = _run(two, modules, paths)
    return res


def backends_classic(master: str, args: dict) -> dict:
    """The same on a classic session of the standalone cluster (zips through spark.files and
    the executors' PYTHONPATH), before and after the edits."""
    import pexlab
    from pexlab.spark import artifacts_of

    arg = json.dumps({"modules": args["modules"], "kernel_paths": args["kernel_paths"]})

    def session() -> tuple[dict[str, Any], list[dict]]:
        spark = pexlab.create_spark_session(master=master, conf=args["conf"], progress=False)
        sc = spark.sparkContext
        arts = artifacts_of(sc)
        described = {
            "fingerprint": arts.fingerprint,
            "reused": arts.reused,
            "pex_mtime": os.stat(arts.pex.local_path).st_mtime_ns,
            "zips": [z.name for z in arts.editables],
            "pex_names": _names(arts.pex.local_path),
        }
        rows = sc.parallelize(range(2), 2).map(lambda _: look(arg)).collect()
        return described, [json.loads(r) for r in rows]

    res: dict[str, Any] = {}
    res["one"], res["one_run"] = session()
    for path, text in args["edits"].items():
        with open(path, "w") as f:
            f.write(text)
    res["two"], res["two_run"] = session()  # pexlab stops its own first context (edit loop)
    return res


def main() -> None:
    scenario, url, raw = sys.argv[1], sys.argv[2], sys.argv[3]
    args = json.loads(raw)
    report_result(lambda: globals()[scenario](url, args))


if __name__ == "__main__":
    main()
