"""Prepare `make lab`'s working folder: a copy of the demo notebook, and the demo project beside it.

    python scripts/demo_workdir.py --notebook demo/notebooks/pexlab-demo.ipynb \\
        --project demo/pexlab_demo_project --to .cache/lab/notebooks

JupyterLab autosaves what it opens, outputs included. It opens this copy, so the tracked notebook
stays as committed. The copy is the user's: kept as it is across runs, outputs and edits included,
until the tracked notebook changes. Then the old copy is set aside under a dated name (never
deleted) and a fresh copy is made. The demo project is linked in, not copied: editing it from
JupyterLab edits the project the demo kernel has installed in editable mode.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import time
from pathlib import Path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _stamp(copy: Path) -> Path:
    # Hidden (Jupyter does not list dot-files): which tracked version the copy was made from.
    return copy.with_name(f".{copy.name}.source-sha256")


def sync_notebook(source: Path, folder: Path) -> Path:
    """Copy `source` into `folder` unless an up-to-date copy is there; return the copy's path."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / source.name
    stamp = _stamp(copy)
    digest = _digest(source)
    if copy.exists():
        if stamp.exists() and stamp.read_text().strip() == digest:
            return copy
        aside = copy.with_name(f"{copy.stem}-{time.strftime('%Y%m%d-%H%M%S')}{copy.suffix}")
        copy.rename(aside)
        print(f"The demo notebook changed: your previous copy is now {aside}", file=sys.stderr)
    tmp = copy.with_name(f".{copy.name}.tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(copy)  # JupyterLab never sees half a notebook
    stamp.write_text(digest + "\n")
    return copy


def link_project(project: Path, folder: Path) -> Path:
    link = folder / project.name
    target = os.path.relpath(project.resolve(), folder.resolve())
    if link.is_symlink() and os.readlink(link) == target:
        return link
    if link.is_symlink():
        link.unlink()
    elif link.exists():
        sys.exit(f"error: {link} exists and is not a link to {project}; move it away.")
    link.symlink_to(target, target_is_directory=True)
    return link


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/demo_workdir.py", description=__doc__)
    parser.add_argument("--notebook", type=Path, required=True, help="the tracked demo notebook")
    parser.add_argument("--project", type=Path, help="a folder to link next to the copy")
    parser.add_argument("--to", type=Path, required=True, help="the working folder")
    args = parser.parse_args(argv)
    if not args.notebook.is_file():
        parser.error(f"{args.notebook} is not a file")
    copy = sync_notebook(args.notebook, args.to)
    if args.project is not None:
        link_project(args.project, args.to)
    print(f"JupyterLab opens {copy} (a working copy; demo/notebooks/ stays untouched)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
