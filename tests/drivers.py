"""Writing and reading the result of a driver script (spark_driver.py, connect_driver.py, yarn_driver.py).

Each driver runs in a kernel venv and prints its result as one JSON line prefixed `RESULT `
(Spark logs share stdout, so the prefix tells the line apart).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Variables of the test process that would steer a driver's Spark or interpreter.
_DRIVER_UNSET = (
    "PYSPARK_PYTHON",
    "PYSPARK_DRIVER_PYTHON",
    "SPARK_HOME",
    "SPARK_REMOTE",
    "VIRTUAL_ENV",
)


def driver_env(cache: Path, **extra: str) -> dict[str, str]:
    """The environment of a driver process (a script or a kernel) in a kernel venv: the repo's
    pexlab, the test session's pexlab cache, pex from the project venv, and none of the test
    process's Spark or venv variables."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
        PEXLAB_CACHE_DIR=str(cache),
        PEXLAB_PEX=f"{sys.executable} -m pex",
        **extra,
    )
    for var in _DRIVER_UNSET:
        env.pop(var, None)
    return env


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


class Kernel:
    """A real IPython kernel that runs cells and returns their messages; used as a context
    manager, it is shut down on exit.  `python` (which must have ipykernel) runs it; default:
    the test process's interpreter."""

    def __init__(self, env: dict[str, str], python: str | None = None) -> None:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager

        self._specs = tempfile.TemporaryDirectory(prefix="pexlab-kernelspec-")
        spec = Path(self._specs.name) / "pexlab-test"
        spec.mkdir()
        argv = [python or sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        (spec / "kernel.json").write_text(
            json.dumps({"argv": argv, "display_name": "pexlab test", "language": "python"})
        )
        self._km = KernelManager(
            kernel_name="pexlab-test",
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[self._specs.name]),
        )
        self._km.start_kernel(env=env)
        self._kc = self._km.client()
        self._kc.start_channels()
        try:
            self._kc.wait_for_ready(timeout=60)
        except RuntimeError:
            self.__exit__()
            raise

    def run(self, code: str, timeout: float = 600) -> list[dict[str, Any]]:
        """Run a cell; its iopub messages.  A cell that raises fails the test."""
        msgs: list[dict[str, Any]] = []
        reply = self._kc.execute_interactive(code, timeout=timeout, output_hook=msgs.append)
        errors = [m["content"] for m in msgs if m["msg_type"] == "error"]
        assert reply["content"]["status"] == "ok", errors
        return msgs

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *_: object) -> None:
        self._kc.stop_channels()
        self._km.shutdown_kernel(now=True)
        self._specs.cleanup()


def displays(msgs: list[dict[str, Any]], marker: str) -> list[tuple[str, str, dict[str, str]]]:
    """(msg_type, display_id, data) of the display messages whose text has `marker`."""
    return [
        (m["msg_type"], m["content"]["transient"]["display_id"], m["content"]["data"])
        for m in msgs
        if m["msg_type"] in ("display_data", "update_display_data")
        and marker in m["content"]["data"].get("text/plain", "")
    ]


def stream_text(msgs: list[dict[str, Any]], name: str = "stdout") -> str:
    """What the cells printed to `name` (stdout or stderr)."""
    return "".join(
        m["content"]["text"]
        for m in msgs
        if m["msg_type"] == "stream" and m["content"]["name"] == name
    )


def assert_one_live_display(shown: list[tuple[str, str, dict[str, str]]], total: str) -> None:
    """One display for the cell, drawn while running and updated in place to its final line."""
    assert shown
    assert shown[0][0] == "display_data"
    assert "running" in shown[0][2]["text/plain"]
    assert "<progress" in shown[0][2]["text/html"]
    assert len({d for _, d, _ in shown}) == 1, "one display for the cell, updated in place"
    assert all(kind == "update_display_data" for kind, _, _ in shown[1:])
    final = shown[-1][2]["text/plain"]
    assert "done" in final, shown
    assert "running" not in final, shown
    assert total in final, shown
