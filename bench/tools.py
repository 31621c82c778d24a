"""The tools the benchmarks compare pexlab against, installed by the benchmarks themselves.

`make bench` must work on a fresh clone, where nothing but pexlab's own dependencies is
installed: venv-pack goes into its own venv under .cache/bench-tools (created once, reused),
so pexlab's venv stays as its users get it.  (cluster-pack packs the interpreter it runs in,
so bench/packaging.py installs it into the benchmarked environment's twin instead.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / ".cache" / "bench-tools"
VENV_PACK = "venv-pack==0.2.0"


def venv_pack() -> Path:
    """The `venv-pack` command, installed into .cache/bench-tools on first use."""
    exe = TOOLS / "bin" / "venv-pack"
    stamp = TOOLS / f".installed-{VENV_PACK}"
    if exe.exists() and stamp.exists():
        return exe
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(TOOLS)], check=True)
    pip = [str(TOOLS / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "-U", "pip"], check=True)
    # setuptools: venv-pack 0.2.0 imports pkg_resources.
    subprocess.run([*pip, VENV_PACK, "setuptools<81"], check=True)
    stamp.write_text("ok")
    return exe
