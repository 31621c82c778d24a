"""Prepare `make lab`'s working folder: a copy of the demo notebook, and a copy of the demo project
beside it, installed editable into the demo kernel's venv.

    python scripts/demo_workdir.py --notebook demo/notebooks/pexlab-demo.ipynb \\
        --project demo/pexlab_demo_project --to .cache/lab/notebooks \\
        --python .cache/demo-venv/bin/python

JupyterLab autosaves what it opens, outputs included. It opens this copy, so the tracked notebook
stays as committed. The copy is the user's: kept as it is across runs, outputs and edits included,
until the tracked notebook changes. Then the old copy is set aside under a dated name (never
deleted) and a fresh copy is made.

The demo project is copied the same way (kept across runs, set aside when the tracked project
changes), and `--python`'s venv gets the COPY installed in editable mode: the README's edit loop
(edit the project, restart, run) edits the copy, so `git status` stays clean.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import tomllib

# Never part of a project copy: build output and caches (an editable install writes egg-info).
_NOT_COPIED = shutil.ignore_patterns("*.egg-info", "__pycache__", "build", "dist", ".*")


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


def _project_digest(project: Path) -> str:
    """A hash of the tracked project's files (what a copy is made from)."""
    h = hashlib.sha256()
    for path in sorted(project.rglob("*")):
        rel = path.relative_to(project)
        if not path.is_file() or any(
            part.startswith(".")
            or part in ("__pycache__", "build", "dist")
            or part.endswith(".egg-info")
            for part in rel.parts
        ):
            continue
        h.update(f"{rel.as_posix()}\0".encode())
        h.update(_digest(path).encode())
    return h.hexdigest()


def copy_project(project: Path, folder: Path) -> Path:
    """Copy `project` into `folder` unless an up-to-date copy is there (the user's edits stay);
    a copy of an older tracked project is set aside under a dated name, never deleted.  A link
    left by an older `make lab` (which linked the tracked project in) is replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / project.name
    stamp = _stamp(copy)
    digest = _project_digest(project)
    if copy.is_symlink():
        copy.unlink()
    elif copy.exists():
        if stamp.exists() and stamp.read_text().strip() == digest:
            return copy
        aside = copy.with_name(f"{copy.name}-{time.strftime('%Y%m%d-%H%M%S')}")
        copy.rename(aside)
        print(f"The demo project changed: your previous copy is now {aside}", file=sys.stderr)
    tmp = copy.with_name(f".{copy.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(project, tmp, ignore=_NOT_COPIED)
    tmp.rename(copy)
    stamp.write_text(digest + "\n")
    return copy


_WHERE = """
import importlib.metadata as m, json, sys
try:
    text = m.distribution(sys.argv[1]).read_text("direct_url.json") or "{}"
except m.PackageNotFoundError:
    text = "{}"
print(json.loads(text).get("url", ""))
"""


def installed_from(python: Path, name: str) -> str:
    """The `direct_url.json` URL of the distribution `name` in `python`'s environment, or ""."""
    out = subprocess.run(
        [str(python), "-c", _WHERE, name], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def project_name(project: Path) -> str:
    return str(tomllib.loads((project / "pyproject.toml").read_text())["project"]["name"])


def install_editable(python: Path, copy: Path) -> bool:
    """`pip install -e copy` into `python`'s venv unless it is already installed from there;
    whether it installed."""
    if installed_from(python, project_name(copy)) == copy.resolve().as_uri():
        return False
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-e", str(copy)], check=True)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/demo_workdir.py", description=__doc__)
    parser.add_argument("--notebook", type=Path, help="the tracked demo notebook")
    parser.add_argument("--project", type=Path, help="a project to copy next to the notebook")
    parser.add_argument("--to", type=Path, required=True, help="the working folder")
    parser.add_argument(
        "--python", type=Path, help="install the project's copy editable into this interpreter"
    )
    args = parser.parse_args(argv)
    if args.notebook is not None:
        if not args.notebook.is_file():
            parser.error(f"{args.notebook} is not a file")
        copy = sync_notebook(args.notebook, args.to)
        print(f"JupyterLab opens {copy} (a working copy; demo/notebooks/ stays untouched)")
    if args.project is not None:
        project = copy_project(args.project, args.to)
        if args.python is not None and install_editable(args.python, project):
            print(f"{args.python} has {project} installed in editable mode")
    return 0


if __name__ == "__main__":
    sys.exit(main())
