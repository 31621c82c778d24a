"""What a notebook user sees of pexlab's errors: the message and what to do, not pexlab's frames
(`PexlabError._render_traceback_`), and the switch that brings the frames back."""

from __future__ import annotations

import os
import re

import pytest
from venvs import REPO

from pexlab.core import errors
from pexlab.core.errors import TRACEBACK_HINT, PexlabError

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_short_rendering_and_the_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "_show", None)
    monkeypatch.delenv("PEXLAB_TRACEBACK", raising=False)
    exc = PexlabError("Something broke.\nDo this instead.")
    lines = [ANSI.sub("", line) for line in exc._render_traceback_()]
    assert lines == ["PexlabError: Something broke.", "Do this instead.", "", TRACEBACK_HINT]
    monkeypatch.setenv("PEXLAB_TRACEBACK", "1")
    assert not hasattr(exc, "_render_traceback_"), "IPython then renders it as any error"
    monkeypatch.setenv("PEXLAB_TRACEBACK", "0")
    assert hasattr(exc, "_render_traceback_")
    errors.show_tracebacks()
    assert not hasattr(exc, "_render_traceback_")
    errors.show_tracebacks(False)
    assert hasattr(exc, "_render_traceback_")


def _error_of(kc, code: str) -> dict:  # type: ignore[no-untyped-def]
    msgs: list[dict] = []
    reply = kc.execute_interactive(code, timeout=120, output_hook=msgs.append)
    assert reply["content"]["status"] == "error"
    found = [m["content"] for m in msgs if m["msg_type"] == "error"]
    assert len(found) == 1, msgs
    return found[0]


def test_a_notebook_cell_shows_the_message_without_pexlab_frames() -> None:
    from jupyter_client.manager import start_new_kernel

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PEXLAB_TRACEBACK", None)
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    cell = 'import pexlab\npexlab.create_spark_session(master="sprak://x:7077")\n'
    try:
        err = _error_of(kc, cell)
        shown = ANSI.sub("", "\n".join(err["traceback"]))
        assert err["ename"] == "PexlabSparkError"
        assert shown.startswith("PexlabSparkError: "), shown
        assert "'sprak://x:7077' is not a Spark master URL" in shown, shown
        assert "spark://HOST:PORT" in shown, "the fix is in the message"
        assert str(REPO / "pexlab") not in shown, shown
        assert "File " not in shown, shown
        assert "Traceback" not in shown, shown
        assert shown.rstrip().endswith(TRACEBACK_HINT)

        # The switch: IPython's own rendering, pexlab's frames included.
        err = _error_of(kc, "pexlab.show_tracebacks()\n" + cell)
        full = ANSI.sub("", "\n".join(err["traceback"]))
        assert str(REPO / "pexlab" / "spark" / "conf.py") in full, full
        assert "is not a Spark master URL" in full
        assert TRACEBACK_HINT not in full

        # A start that fails after its progress display appeared leaves it in a final state.
        msgs: list[dict] = []
        code = (
            "from pexlab.spark.notebook_progress import NotebookProgress, failing\n"
            "from pexlab.core.progress import ProgressEvent\n"
            "p = NotebookProgress()\n"
            "with failing(p):\n"
            "    p(ProgressEvent('upload', 0.0, 'x.pex'))\n"
            "    raise pexlab.spark.PexlabSparkError('no')\n"
        )
        kc.execute_interactive(code, timeout=60, output_hook=msgs.append)
        displays = [m["content"]["data"]["text/plain"] for m in msgs if "display" in m["msg_type"]]
        assert "Uploading 0%" in displays[0], displays
        assert displays[-1] == "pexlab: session start failed (PexlabSparkError)", displays
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
