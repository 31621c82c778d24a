"""Writing and reading the result of a driver script (spark_driver.py, connect_driver.py, yarn_driver.py).

Each driver runs in a kernel venv and prints its result as one JSON line prefixed `RESULT `
(Spark logs share stdout, so the prefix tells the line apart).
"""

from __future__ import annotations

import json
import subprocess
import traceback
from collections.abc import Callable
from typing import Any


def driver_result(proc: subprocess.CompletedProcess[str], who: str = "driver") -> dict[str, Any]:
    """The driver's `RESULT` dict with its stderr added; fails the test if it crashed."""
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, (
        f"{who} crashed (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    )
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    result["stderr"] = proc.stderr
    assert result["ok"], result.get("traceback", "") + proc.stderr[-3000:]
    return result


def report_result(run: Callable[[], dict[str, Any]]) -> None:
    """The driver side: print `run()`'s dict as the RESULT line, or its error and traceback
    (the line `driver_result` reads).  Drivers are run as scripts from tests/, so they import
    this module without pexlab or pytest."""
    try:
        result = {"ok": True, **run()}
    except Exception as exc:
        result = {
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
        }
    print("RESULT " + json.dumps(result), flush=True)
