"""The files of a meson-python editable install, as a wheel of it would install them.

meson-python's editable install is an import hook (`_<name>_editable_loader.py`, run by a .pth):
on every import of the project it runs the build command recorded at install time (ninja) in
the build folder, then reads meson's install plan (`<build>/meson-info/intro-install_plan.json`)
to map module paths to files: pure-Python modules in the source tree, compiled modules in the
build folder.  pexlab does what the loader does, once per zip: bring the build up to date (so
the executors run what the kernel would import now), then lay out every file the plan installs
into the Python library folders under its install path.  A pure-Python edit changes the zip's
content (a new zip name), never the PEX.  Only data the plan sends elsewhere ({datadir}, ...)
is left out, as meson-python's own loader leaves it out.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from pexlab.core.errors import PexlabError
from pexlab.environment.interpreter import Distribution

MECHANISM = "meson-python"
PLAN = Path("meson-info") / "intro-install_plan.json"
# Set by meson-python's loader around its own rebuild so that the project's hook, imported by
# the build itself, does not rebuild again; pexlab's rebuild is such a build too.
SKIP_MARKER = "_MESONPY_EDITABLE_SKIP"
_LIBRARY_DIRS = frozenset({"{py_platlib}", "{py_purelib}"})
_LOG_TAIL = 3000  # characters of the build's output quoted in the error


class MesonRebuildError(PexlabError):
    """A meson-python editable project's build could not be brought up to date."""


def rebuild(dist: Distribution) -> None:
    """Run the project's recorded build command in its build folder, as its loader does on
    import; raises MesonRebuildError with the build's output when it fails."""
    ed = dist.editable
    if ed is None or ed.mechanism != MECHANISM:
        raise ValueError(f"{dist.name} is not a meson-python editable install")
    env = dict(os.environ)
    env[SKIP_MARKER] = os.pathsep.join(filter(None, (env.get(SKIP_MARKER), ed.build_dir)))
    command = " ".join(ed.build_command)
    fix = (
        f"Fix the build (run `{command}` in {ed.build_dir} to see it), or reinstall the project"
        f" (`pip install --no-build-isolation -e {ed.project_dir or '<project>'}`)."
    )
    try:
        proc = subprocess.run(
            list(ed.build_command),
            cwd=ed.build_dir,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
        )
    except OSError as exc:
        raise MesonRebuildError(
            f"Cannot rebuild the editable meson-python project {dist.name}: `{command}` in"
            f" {ed.build_dir} did not start ({exc}). {fix}"
        ) from None
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()[-_LOG_TAIL:]
        raise MesonRebuildError(
            f"Rebuilding the editable meson-python project {dist.name} failed (`{command}` in"
            f" {ed.build_dir}, exit code {proc.returncode}); its compiled modules would be"
            f" stale or missing on the executors, so nothing was shipped. {fix}\n{output}"
        )


def _walk_subdir(src: Path, target: dict[str, Any]) -> list[tuple[Path, str]]:
    """(file, path relative to `src`) of an installed folder, minus the plan's exclusions."""
    skip_files = {os.path.normpath(x) for x in target.get("exclude_files") or ()}
    skip_dirs = {os.path.normpath(x) for x in target.get("exclude_dirs") or ()}
    out = []
    for dirpath, dirnames, filenames in os.walk(src):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if os.path.relpath(here / d, src) not in skip_dirs)
        for name in sorted(filenames):
            rel = os.path.relpath(here / name, src)
            if rel not in skip_files:
                out.append((here / name, Path(rel).as_posix()))
    return out


def installed_files(build_dir: str) -> list[tuple[str, Path]]:
    """(archive name, file) of everything the install plan puts into the Python library
    folders, the archive name being the path below that folder."""
    plan_path = Path(build_dir) / PLAN
    try:
        plan = json.loads(plan_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MesonRebuildError(
            f"Cannot read meson's install plan {plan_path} ({exc}): the build folder is gone"
            " or was not configured by meson. Reinstall the project with `pip install -e`."
        ) from None
    files: list[tuple[str, Path]] = []
    for kind, entries in plan.items():
        for src, target in entries.items():
            dest = Path(target["destination"]).parts
            if not dest or dest[0] not in _LIBRARY_DIRS:
                continue
            arc = "/".join(dest[1:])
            path = Path(os.path.normpath(src))
            if kind == "install_subdirs" or (kind == "targets" and path.is_dir()):
                files += [(f"{arc}/{rel}", f) for f, rel in _walk_subdir(path, target)]
            else:
                files.append((arc, path))
    return files


def meson_files(dist: Distribution) -> list[tuple[str, Path]]:
    """Rebuild, then every (archive name, file) the project installs as Python code."""
    rebuild(dist)
    return installed_files(dist.editable.build_dir if dist.editable else "")


__all__ = ["MECHANISM", "MesonRebuildError", "installed_files", "meson_files", "rebuild"]
