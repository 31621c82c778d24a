"""A Spark Connect client run by tests/test_connect_session.py INSIDE the kernel venv
(pyspark-client only), like tests/connect_driver.py: every public session method a notebook may
call, on a session pexlab made, next to a session made by pyspark's own builder.

    <kernel python> connect_session_driver.py <scenario> <sc:// url> <json args>
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from drivers import report_result


def where(_: Any) -> str:
    """Runs on an executor (defined in __main__: shipped by value)."""
    import json as _json
    import sys as _sys

    out = {"executable": _sys.executable}
    try:
        import tabulate

        out["tabulate"] = tabulate.__file__
    except ImportError as exc:
        out["tabulate_error"] = f"{type(exc).__name__}: {exc}"
    return _json.dumps(out)


def _step(name: str) -> None:
    print(f"driver: {time.strftime('%H:%M:%S')} {name}", file=sys.stderr, flush=True)


def _err(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _udf_where(spark: Any) -> list[dict]:
    from pyspark.sql.functions import udf

    rows = spark.range(0, 2, 1, 2).select(udf(where, "string")("id")).collect()
    return [json.loads(r[0]) for r in rows]


def _progress(spark: Any) -> dict[str, Any]:
    calls: list[tuple[int, bool]] = []

    def handler(stages: Any, inflight_tasks: int, operation_id: Any, done: bool) -> None:
        calls.append((inflight_tasks, done))

    spark.registerProgressHandler(handler)
    spark.range(0, 100000, 1, 4).selectExpr("sum(id) AS s").collect()
    spark.removeProgressHandler(handler)
    return {"calls": len(calls), "done": any(d for _, d in calls)}


def _interrupt(spark: Any) -> dict[str, Any]:
    """A slow job in a thread; interruptAll from here must cancel it."""
    from pyspark.sql.functions import udf

    def slow(x: int) -> int:
        import time as _t

        _t.sleep(60)
        return x

    out: dict[str, Any] = {}

    def job() -> None:
        t0 = time.monotonic()
        try:
            spark.range(0, 2, 1, 2).select(udf(slow, "long")("id")).collect()
            out["job_error"] = None
        except Exception as exc:
            out["job_error"] = _err(exc)
        out["job_seconds"] = time.monotonic() - t0

    thread = threading.Thread(target=job)
    thread.start()
    ids: list[str] = []
    deadline = time.monotonic() + 60
    while not ids and time.monotonic() < deadline and thread.is_alive():
        time.sleep(1.0)
        ids = spark.interruptAll()
    out["interrupted"] = ids
    thread.join(90)
    out["joined"] = not thread.is_alive()
    return out


def _add_artifacts(spark: Any, folder: str) -> dict[str, Any]:
    """The user's own pyfile artifact, imported by a UDF next to the PEX's packages."""
    from pyspark.sql.functions import udf

    path = os.path.join(folder, "user_helper_mod.py")
    with open(path, "w") as f:
        f.write("def hello():\n    return 'hello from the user artifact'\n")
    spark.addArtifacts(path, pyfile=True)

    def use(_: int) -> str:
        import json as _json

        import tabulate  # from the PEX
        import user_helper_mod

        return _json.dumps([user_helper_mod.hello(), tabulate.__file__])

    rows = spark.range(0, 2, 1, 2).select(udf(use, "string")("id")).collect()
    return {"rows": [json.loads(r[0]) for r in rows]}


def _copy(spark: Any, folder: str) -> dict[str, Any]:
    src = os.path.join(folder, "to-copy.txt")
    dest = os.path.join(folder, "copied", "to-copy.txt")
    with open(src, "w") as f:
        f.write("copied through the Connect server\n")
    # The test server allows a local destination (static conf, set in tests/test_connect.py).
    try:
        spark.copyFromLocalToFs(src, dest)
        error = None
    except Exception as exc:
        error = _err(exc)
    text = Path(dest).read_text() if os.path.exists(dest) else None
    return {"error": error, "text": text}


def _probe_released(url: str, session_id: str) -> str | None:
    """Attach a new client to `session_id`: the server refuses a released (closed) session."""
    from pyspark.sql.connect.session import SparkSession as RemoteSession

    from pexlab.spark.connect_session import attach

    probe = attach(RemoteSession, url, session_id)
    try:
        probe.range(1).collect()
        return None
    except Exception as exc:
        return _err(exc)
    finally:
        probe.release_session_on_close = False  # do not release what we only looked at
        probe.stop()


def _methods(spark: Any, url: str, folder: str) -> dict[str, Any]:
    res: dict[str, Any] = {"attrs": sorted(vars(spark))}
    _step("progress")
    res["progress"] = _progress(spark)
    _step("add_artifacts")
    res["add_artifacts"] = _add_artifacts(spark, folder)
    _step("copy")
    res["copy"] = _copy(spark, folder)
    _step("interrupt")
    res["interrupt"] = _interrupt(spark)
    _step("after_interrupt")
    res["after_interrupt"] = spark.range(3).count()
    sid = spark.session_id
    _step("stop")
    try:
        spark.stop()
        res["stop_error"] = None
    except Exception as exc:
        res["stop_error"] = _err(exc)
    res["is_stopped"] = bool(spark.is_stopped)
    _step("released")
    res["released"] = _probe_released(url, sid)
    return res


def full(url: str, args: dict) -> dict:
    from pyspark.sql import SparkSession

    import pexlab
    from pexlab.spark.connect_base import REGISTRY as _REGISTRY
    from pexlab.spark.connect_base import session_alive as _session_alive
    from pexlab.spark.connect_base import shipment_of

    res: dict[str, Any] = {}
    builder = SparkSession.builder.remote(url).create()
    os.makedirs(os.path.join(args["tmp"], "builder"), exist_ok=True)
    # The reference: a session made by pyspark's own builder (bare workers: no PEX, so the
    # UDF-using checks are skipped for it; its attributes and stop() are the point).
    res["builder"] = {"attrs": sorted(vars(builder)), "progress": _progress(builder)}
    builder.stop()
    res["builder"]["is_stopped"] = bool(builder.is_stopped)

    spark = pexlab.create_spark_session(remote=url, progress=False)
    shipped = shipment_of(spark)
    res["first_upload"] = shipped.pex_upload
    res["first_session"] = spark.session_id
    res["is_default"] = SparkSession.getActiveSession() is spark
    res["first_where"] = _udf_where(spark)
    os.makedirs(os.path.join(args["tmp"], "pexlab"), exist_ok=True)
    res["pexlab"] = _methods(spark, url, os.path.join(args["tmp"], "pexlab"))
    res["active_after_stop"] = SparkSession.getActiveSession() is not None
    bases = list(_REGISTRY.bases.values())
    res["bases"] = len(bases)
    res["base_alive"] = all(_session_alive(b) for b in bases)

    again = pexlab.create_spark_session(remote=url, progress=False)
    res["second_session"] = again.session_id
    res["second_upload"] = shipment_of(again).pex_upload
    res["second_where"] = _udf_where(again)
    res["second_is_default"] = SparkSession.getActiveSession() is again
    again.stop()
    res["second_released"] = _probe_released(url, res["second_session"])
    res["base_alive_at_end"] = all(_session_alive(b) for b in _REGISTRY.bases.values())
    return res


def main() -> None:
    scenario, url, raw = sys.argv[1], sys.argv[2], sys.argv[3]
    args = json.loads(raw)
    report_result(lambda: globals()[scenario](url, args))


if __name__ == "__main__":
    main()
