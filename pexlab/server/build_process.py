"""How the server runs a build: `pexlab build` in its own interpreter, in a process group of
its own that a cancel or a shutdown stops whole (pex and pip children included)."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pexlab.core.processes import group_alive, signal_group


def build_command(
    python: str,
    options: dict[str, Any],
    cache_dir: Path,
    storage: str | None,
    include_editable: bool,
) -> list[str]:
    """`pexlab build` for one job, in this server's own interpreter."""
    cmd = [
        sys.executable,
        "-m",
        "pexlab.cli",
        "build",
        "--python",
        python,
        "--json",
        "--events",
        "--cache-dir",
        str(cache_dir),
        # The very options the server fingerprinted, whole: the CLI applies no default of
        # its own, so both sides compute the same fingerprint (checked after the build).
        "--options-json",
        json.dumps(options, sort_keys=True),
    ]
    if storage:
        cmd += ["--storage", storage]
    if not include_editable:
        cmd.append("--no-editables")
    return cmd


def build_env(cache_dir: Path) -> dict[str, str]:
    """The server's environment (credentials and proxies for uploads, HOME for pex's own
    cache) minus PYTHONPATH.  The build runs the server's own pexlab with the server's
    interpreter (`sys.executable -m pexlab.cli`), which finds pexlab, pex and fsspec in its
    own site-packages without help.  A PYTHONPATH would be inherited by everything the
    build starts, pex's pip and the kernel's interpreter included, and would put the
    server's packages (or a wrong version of them) in front of the kernel's own while its
    environment is read and built.  Only a pexlab run from a source tree (not installed in
    this interpreter's site folders) needs its folder on the path: exactly that folder."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["PEXLAB_CACHE_DIR"] = str(cache_dir)
    env["PYTHONUNBUFFERED"] = "1"
    source_root = _source_root()
    if source_root is not None:
        env["PYTHONPATH"] = source_root
    return env


@functools.cache
def _source_root() -> str | None:
    """The folder to put on the build's PYTHONPATH so that `sys.executable -m pexlab.cli` imports
    this very pexlab, or None when the interpreter finds it without help (installed, editable
    included).  Asked once, of a fresh interpreter that ignores PYTHON* variables."""
    mine = Path(__file__).resolve().parents[1] / "__init__.py"
    proc = subprocess.run(
        [sys.executable, "-E", "-c", "import pexlab; print(pexlab.__file__)"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tempfile.gettempdir(),
    )
    found = proc.stdout.strip()
    if proc.returncode == 0 and found and Path(found).resolve() == mine:
        return None
    return str(mine.parent.parent)


async def stop_group_async(proc: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM the build's whole process group, SIGKILL what is left after a grace period."""
    pgid = proc.pid  # start_new_session: the CLI leads its own group
    signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if proc.returncode is not None and not group_alive(pgid):
            return
        await asyncio.sleep(0.1)
    signal_group(pgid, signal.SIGKILL)
