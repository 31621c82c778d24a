"""Bare interpreters: what the local clusters' workers run, so that a test or a demo proves
the environment was shipped (the workers' own Python has nothing installed, not even pip)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def make_bare_python(
    where: Path, python: str | None = None, *, system_site_packages: bool = False
) -> Path:
    """A venv at `where` (emptied first) with nothing installed, no pip either; created in about
    0.1 s.  Returns its interpreter."""
    args = [python or sys.executable, "-m", "venv", "--without-pip", "--clear", str(where)]
    if system_site_packages:
        args.append("--system-site-packages")
    subprocess.run(args, check=True, capture_output=True)
    return where / "bin" / "python3"
