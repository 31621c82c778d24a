"""An editable project's distribution metadata, shipped in its zip.

In the kernel, `importlib.metadata.version("proj")`, its entry points and `requires` come from the
install's `<name>-<version>.dist-info` in site-packages; the PEX leaves editable projects out, so
on the executors they would raise `PackageNotFoundError`.  importlib.metadata's path finder also
looks at the root of every zip on `sys.path`, so the dist-info goes at the zip's root, next to the
code: one artifact, one content hash (a version bump gives a new zip name, so the new metadata
reaches the executors like an edit of the code does).

What is left out: `RECORD` (it lists the kernel's site-packages files, .pth and finder modules,
none of which are in the zip) and `direct_url.json` (the kernel's local project path; on an
executor nothing is an editable install).  Legacy `.egg-info` metadata (an egg-link install, or
setuptools' in-tree `<name>.egg-info`) is shipped as a `.egg-info` folder, which importlib.metadata
reads too.
"""

from __future__ import annotations

import os
from pathlib import Path

from pexlab.core.names import canonical_name
from pexlab.environment.interpreter import Distribution

# Describe the kernel's install, not what the zip holds.
LEFT_OUT = frozenset({"RECORD", "direct_url.json", "REQUESTED"})
_HEADERS = ("Name", "Version")


def _headers(path: Path) -> dict[str, str]:
    """Name and Version from a METADATA/PKG-INFO file (the header block only)."""
    found: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                if key in _HEADERS and key not in found:
                    found[key] = value.strip()
    except OSError:
        pass
    return found


def _describes(folder: Path, dist: Distribution) -> bool:
    meta = folder / "METADATA" if folder.name.endswith(".dist-info") else folder / "PKG-INFO"
    h = _headers(meta)
    return canonical_name(h.get("Name", "")) == dist.name and h.get("Version") == dist.version


def metadata_dir(dist: Distribution) -> Path | None:
    """The install's `.dist-info` (or `.egg-info`) folder for `dist`, or None."""
    candidates: list[Path] = []
    places = [dist.location]
    if dist.editable is not None:
        places += [*dist.editable.source_roots, dist.editable.project_dir]
    for place in places:
        if not place or not os.path.isdir(place):
            continue
        for entry in sorted(os.listdir(place)):
            if not entry.endswith((".dist-info", ".egg-info")):
                continue
            if canonical_name(entry.split("-", 1)[0].removesuffix(".egg-info")) != dist.name:
                continue
            folder = Path(place) / entry
            if folder.is_dir():
                candidates.append(folder)
    # A dist-info describing exactly this name and version first (setuptools may leave an
    # in-tree egg-info of an older version behind).
    for folder in candidates:
        if folder.name.endswith(".dist-info") and _describes(folder, dist):
            return folder
    for folder in candidates:
        if _describes(folder, dist):
            return folder
    return None


def metadata_files(dist: Distribution) -> list[tuple[str, Path]]:
    """(archive name, file) of `dist`'s metadata for the zip's root; [] if none was found."""
    folder = metadata_dir(dist)
    if folder is None:
        return []
    out: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        here = Path(dirpath)
        rel = here.relative_to(folder).as_posix()
        base = folder.name if rel == "." else f"{folder.name}/{rel}"
        for name in sorted(filenames):
            if rel == "." and name in LEFT_OUT:
                continue
            if (here / name).is_file():
                out.append((f"{base}/{name}", here / name))
    return out


__all__ = ["LEFT_OUT", "metadata_dir", "metadata_files"]
