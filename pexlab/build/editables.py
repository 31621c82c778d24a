"""Zip an editable project's code so executors can put it on their path (`spark.submit.pyFiles`).

One zip per editable project, its top-level packages and modules at the zip root.  Spark ignores a
py-file whose *name* it has already seen, so the name carries a hash of the content: changed code
gets a new name (and reaches the executors), unchanged code keeps its name and is not rewritten.
The zip itself is deterministic (sorted entries, fixed timestamps and modes), so the same code
gives the same bytes on any machine.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

from pexlab.build.editable_meson import MECHANISM as MESON
from pexlab.build.editable_meson import meson_files
from pexlab.build.editable_metadata import metadata_files
from pexlab.build.editable_native import check_shippable
from pexlab.core.errors import PexlabError
from pexlab.core.progress import ProgressCallback, report
from pexlab.environment.interpreter import Distribution

# Never code (the rule README's "What ships" states): hidden folders (a name starting with a
# dot: VCS data, tool caches and environments, .ipynb_checkpoints), these folders by name, build
# output that is not a package, packaging metadata, bytecode, notebooks and OS clutter.
EXCLUDED_DIRS = frozenset(
    {
        "__pycache__",
        ".git",
        ".hg",
        ".svn",
        ".tox",
        ".nox",
        ".venv",
        ".eggs",
        "node_modules",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".ipynb_checkpoints",
    }
)
# Build output and a virtualenv, unless it is a real subpackage that happens to be called so
# (has __init__.py).
BUILD_DIRS = frozenset({"build", "dist", "venv"})
EXCLUDED_DIR_SUFFIXES = (".egg-info", ".dist-info")
EXCLUDED_FILE_SUFFIXES = (".pyc", ".pyo", ".ipynb")
EXCLUDED_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
MODULE_SUFFIXES = (".py", ".pyw", ".so", ".pyd")

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold
_FORMAT = b"pexlab-editable-zip-v1\0"  # bump when the layout changes, to change every name


class EditableError(PexlabError):
    """An editable project cannot be zipped (not editable, or its code is gone)."""


def zip_name(dist: Distribution, digest: str) -> str:
    """`<name>-<hash12>.zip`; the name uses `_` so the last `-` always separates the hash."""
    return f"{re.sub(r'[^A-Za-z0-9]+', '_', dist.name)}-{digest[:12]}.zip"


def _excluded_dir(path: Path) -> bool:
    name = path.name
    if name in EXCLUDED_DIRS or name.startswith(".") or name.endswith(EXCLUDED_DIR_SUFFIXES):
        return True
    return name in BUILD_DIRS and not (path / "__init__.py").is_file()


def _excluded_file(name: str) -> bool:
    return name in EXCLUDED_FILES or name.endswith(EXCLUDED_FILE_SUFFIXES)


def _walk(folder: Path, arc_prefix: str) -> Iterator[tuple[str, Path]]:
    """(archive name, file) below `folder`, following symlinks (setuptools' strict mode builds
    a tree of links) but never twice into the same real folder."""
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not _excluded_dir(here / d))
        rel = here.relative_to(folder).as_posix()
        base = arc_prefix if rel == "." else f"{arc_prefix}/{rel}"
        for name in sorted(filenames):
            # is_file() also drops dangling symlinks (a link tree whose target was deleted).
            if not _excluded_file(name) and (here / name).is_file():
                yield f"{base}/{name}", here / name


def _module_files(root: Path, name: str) -> list[Path]:
    """`name.py`, `name.cpython-311-x86_64-linux-gnu.so`, ... directly in `root`."""
    try:
        entries = sorted(os.listdir(root))
    except OSError:
        return []
    return [
        root / e
        for e in entries
        if e.split(".", 1)[0] == name and e.endswith(MODULE_SUFFIXES) and (root / e).is_file()
    ]


def editable_files(dist: Distribution) -> list[tuple[str, Path]]:
    """Every (archive name, source file) of an editable project's zip, sorted by archive name."""
    ed = dist.editable
    if ed is None:
        raise EditableError(f"{dist.name} is not an editable install.")
    check_shippable(dist)  # a guessed source folder is refused, naming the fix
    files: dict[str, Path] = {}

    def add(arc: str, path: Path) -> None:
        files.setdefault(arc, path)  # first source root wins, as on sys.path

    if ed.mechanism == MESON:
        # Laid out by the build folder's install plan, after the rebuild its loader would run.
        for a, f in meson_files(dist):
            add(a, f)
    elif ed.mapping:
        # Explicit name -> path (setuptools' finder; scikit-build-core's redirect, whose
        # compiled modules are files installed in site-packages): lay the zip out by import
        # name, which may differ from the folder's name (package_dir = {"pkg": "lib/impl"}).
        for name, where in ed.mapping:
            arc = name.replace(".", "/")
            path = Path(where)
            if path.is_dir():
                for a, f in _walk(path, arc):
                    add(a, f)
            elif path.is_file():
                suffix = path.name.split(".", 1)[1] if "." in path.name else "py"
                add(f"{arc}.{suffix}", path)
    else:
        for root in map(Path, ed.source_roots):
            for name in ed.top_level:
                if (root / name).is_dir() and not _excluded_dir(root / name):
                    for a, f in _walk(root / name, name):
                        add(a, f)
                for f in _module_files(root, name):
                    add(f.name, f)
    if not files:
        where = ", ".join(ed.source_roots) or ed.project_dir
        raise EditableError(
            f"No code found for editable {dist.name} in {where or 'an unknown folder'}"
            f" (top-level names: {', '.join(ed.top_level) or 'none'}). Was the project folder"
            " moved or deleted? Reinstall it with `pip install -e`, or uninstall it."
        )
    for arc, path in metadata_files(dist):  # importlib.metadata on the executors
        add(arc, path)
    return sorted(files.items())


def _mode(path: Path) -> int:
    return 0o755 if os.stat(path).st_mode & stat.S_IXUSR else 0o644


def content_hash(files: list[tuple[str, Path]]) -> str:
    """sha256 over archive names, exec bits and bytes: what the zip holds, not how it is packed."""
    h = hashlib.sha256(_FORMAT)
    for arc, path in files:
        data = path.read_bytes()
        h.update(f"{arc}\0{_mode(path):o}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def _directories(arcs: list[str]) -> list[str]:
    """Every parent folder of the files, as explicit entries: zipimport finds PEP 420 namespace
    portions only through directory entries."""
    dirs = set()
    for arc in arcs:
        parts = arc.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]) + "/")
    return sorted(dirs)


def _write_zip(target: Path, files: list[tuple[str, Path]]) -> None:
    entries: list[tuple[str, Path | None]] = [
        (d, None) for d in _directories([a for a, _ in files])
    ]
    entries += files
    entries.sort(key=lambda e: e[0])
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for arc, path in entries:
            info = zipfile.ZipInfo(arc, date_time=ZIP_EPOCH)
            info.create_system = 3  # unix, whatever the building machine
            if path is None:
                info.external_attr = (stat.S_IFDIR | 0o755) << 16 | 0x10
                zf.writestr(info, b"")
            else:
                info.external_attr = (stat.S_IFREG | _mode(path)) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes(), compresslevel=6)


def zip_editable(
    dist: Distribution, out_dir: Path, progress: ProgressCallback | None = None
) -> Path:
    """Zip `dist`'s editable code into `out_dir` (or reuse the zip already there); its path."""
    files = editable_files(dist)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / zip_name(dist, content_hash(files))
    if final.is_file():
        report(progress, "zip", 1.0, f"{dist.name}: unchanged, reusing {final.name}")
        return final
    report(progress, "zip", 0.0, f"{dist.name}: zipping {len(files)} files")
    # Written under a temporary name and renamed: a reader never sees half a zip, and two
    # processes zipping the same code both end with the same complete file.
    tmp = out_dir / f".{final.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        _write_zip(tmp, files)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    report(progress, "zip", 1.0, f"{dist.name}: wrote {final.name}")
    return final


def current_zip_name(dist: Distribution) -> str:
    """The name `zip_editable` would give `dist`'s zip now (hashes the files, writes nothing):
    a cached zip of that name holds the project's current code."""
    return zip_name(dist, content_hash(editable_files(dist)))


def parse_zip_name(name: str) -> tuple[str, str] | None:
    """`(project part, hash12)` of a file named by `zip_name`, else None."""
    match = re.fullmatch(r"([A-Za-z0-9_]+)-([0-9a-f]{12})\.zip", name)
    return (match.group(1), match.group(2)) if match else None
