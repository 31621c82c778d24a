"""Inspections of interpreters, reused until the environment changes.

Running the probe costs a subprocess (~100 ms and up); a warm `create_spark_session` must not
pay it.  An `Inspector` keeps the last inspection of each interpreter in memory and on disk
(beside the cache it belongs to, `Cache.inspector`), with a cheap stamp of what an install,
uninstall or upgrade touches, and inspects again only when the stamp differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from pexlab.environment.interpreter import Environment, inspect_interpreter

_META_SUFFIXES = (".dist-info", ".egg-info", ".pth", ".egg-link")
# Bump when the probe reports something new, so inspections recorded without it are redone.
RECORD_FORMAT = 3  # 2: cache_tag; 3: editable build_dir/build_command

Stamp = list[list[object]]


def stamp(env: Environment) -> Stamp:
    """A cheap fingerprint of what an install/uninstall/upgrade touches: for every folder the
    distributions were found in, its mtime and the name + mtime of each metadata entry in it
    (`*.dist-info`, `*.egg-info`, `*.pth`, `*.egg-link`), the interpreter binary, and the
    folders of editable projects.  pip,
    uv and conda recreate a distribution's metadata folder on any change, so a changed
    environment changes the stamp; one `scandir` per site folder, ~1 ms."""
    out: Stamp = []
    try:
        exe = os.stat(env.python)
        out.append([env.python, exe.st_mtime_ns, exe.st_size])
    except OSError:
        out.append([env.python, None])
    for folder in sorted({d.location for d in env.distributions if d.location}):
        try:
            entries = [[folder, os.stat(folder).st_mtime_ns]]
            with os.scandir(folder) as it:
                for e in it:
                    if e.name.endswith(_META_SUFFIXES):
                        entries.append([e.name, e.stat(follow_symlinks=False).st_mtime_ns])
        except OSError:
            entries = [[folder, None]]
        out.extend(sorted(entries, key=lambda x: str(x[0])))
    # Editable projects: their top-level names are read from their folders, so a package added
    # to or removed from a project (a folder entry) must count as a change too.
    for d in env.editables:
        assert d.editable is not None
        for folder in sorted({d.editable.project_dir, *d.editable.source_roots}):
            try:
                out.append([folder, os.stat(folder).st_mtime_ns])
            except OSError:
                out.append([folder, None])
    return out


class Inspector:
    """The interpreters inspected through one cache: remembered by this object and recorded in
    `root` (one JSON file per interpreter path) for later processes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._seen: dict[str, tuple[Stamp, Environment]] = {}

    def _record(self, key: str) -> Path:
        return self.root / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".json")

    def _recorded(self, key: str) -> tuple[Stamp, Environment] | None:
        try:
            data = json.loads(self._record(key).read_text())
            if data.get("format") != RECORD_FORMAT:
                return None  # recorded by an older pexlab: inspect again
            return data["stamp"], Environment.from_json(data["env"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def inspect(
        self, python: str | os.PathLike[str] | None = None, reuse: bool = True
    ) -> tuple[Environment, bool]:
        """`inspect_interpreter(python)`, skipped (when `reuse`) if the environment's `stamp` is
        the one of the last inspection, by this object or recorded by an earlier process.
        Returns the environment and whether the recorded one was reused."""
        key = os.path.abspath(os.fspath(python) if python else sys.executable)
        if reuse:
            seen = self._seen.get(key) or self._recorded(key)
            if seen is not None and stamp(seen[1]) == seen[0]:
                self._seen[key] = seen
                return seen[1], True
        env = inspect_interpreter(python)
        now = stamp(env)
        self._seen[key] = (now, env)
        disk = self._record(key)
        try:
            disk.parent.mkdir(parents=True, exist_ok=True)
            tmp = disk.with_name(f".{disk.name}.{os.getpid()}.tmp")
            tmp.write_text(
                json.dumps({"format": RECORD_FORMAT, "stamp": now, "env": env.to_json()})
            )
            os.replace(tmp, disk)
        except OSError:
            pass  # the record is an optimisation only
        return env, False
