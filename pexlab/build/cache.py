"""Local cache of built PEX files, keyed by fingerprint.

Layout under the cache root:

    builds/<fingerprint>/<artifact>.pex   the PEX
    builds/<fingerprint>/build.json       its BuildRecord (written before the folder is published)
    builds/<fingerprint>/layers/      a layered build's zips (hard links into pex's own cache)
    tmp/<fingerprint>.<pid>.<rand>/       a build in progress (never read as a result)
    locks/<fingerprint>.lock              fcntl lock held while one process builds that fingerprint
    editables/                            editable zips (content-hashed names)

A build is written into `tmp/` and the whole folder is renamed to `builds/<fingerprint>` in one
`os.rename`, so a process killed midway leaves only a `tmp/` folder that nothing reads.  `get()`
also re-checks the artifact's size against its record, so a truncated or replaced file counts as
absent.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pexlab.environment.inspection import Inspector

RECORD = "build.json"
LAYERS_DIR = "layers"  # builds/<fingerprint>/layers/: a layered build's zips (pexlab.build.layers)


def default_root() -> Path:
    if os.environ.get("PEXLAB_CACHE_DIR"):
        return Path(os.environ["PEXLAB_CACHE_DIR"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "pexlab"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass
class BuildRecord:
    """What a cached PEX is: enough to reuse it, show it, and tell whether it is stale."""

    fingerprint: str
    pex_path: str
    python: str  # sys.executable of the interpreter it was built for
    python_version: str
    platform: str
    distributions: list[dict[str, str]]  # [{name, version}] that went into the PEX
    editables: list[str]  # editable project names left out of the PEX (they travel as zips)
    options: dict[str, Any]
    pex_version: str
    size: int
    sha256: str
    built_at: float  # unix time
    prefix: str = ""  # sys.prefix of the interpreter (lets latest_for match a venv folder)
    build_seconds: float = 0.0
    uploads: dict[str, str] = field(default_factory=dict)  # destination -> remote URL
    # The layered layout (pexlab.build.layers): `pex_path` is its launcher, and these files (a
    # Layer's JSON each) are in the entry's layers/ folder.  Empty for a single-file PEX.
    layers: list[dict[str, Any]] = field(default_factory=list)

    def layer_path(self, layer: dict[str, Any]) -> Path:
        return self.path.parent / LAYERS_DIR / str(layer["file"])

    @property
    def path(self) -> Path:
        return Path(self.pex_path)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BuildRecord:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


class Cache:
    def __init__(self, root: Path | str | None = None) -> None:
        # Absolute: builds run pex in a folder of their own (cwd), where a relative path breaks.
        self.root = (Path(root).expanduser() if root is not None else default_root()).absolute()
        # Inspections of interpreters are recorded beside the builds (see pexlab.environment.inspection).
        self.inspector = Inspector(self.root / "inspect")

    # -- layout -----------------------------------------------------------------------------

    @property
    def builds_dir(self) -> Path:
        return self.root / "builds"

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    @property
    def locks_dir(self) -> Path:
        return self.root / "locks"

    @property
    def editables_dir(self) -> Path:
        return self.root / "editables"

    def entry_dir(self, fp: str) -> Path:
        return self.builds_dir / fp

    # -- reading ----------------------------------------------------------------------------

    def _read(self, entry: Path) -> BuildRecord | None:
        try:
            return BuildRecord.from_json(json.loads((entry / RECORD).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def get(self, fp: str, verify: bool = False) -> BuildRecord | None:
        """The record for `fp` if its artifact is there with the recorded size (and sha256 when
        `verify`); anything else — missing, half-written, truncated — is None."""
        record = self._read(self.entry_dir(fp))
        if record is None or record.fingerprint != fp:
            return None
        try:
            if record.path.stat().st_size != record.size:
                return None
            for layer in record.layers:
                if record.layer_path(layer).stat().st_size != layer["size"]:
                    return None
        except (OSError, KeyError, TypeError):
            return None
        if verify and sha256_file(record.path) != record.sha256:
            return None
        return record

    # `list` below this method means it, not the builtin: annotations say `builtins.list`.
    def list(self) -> list[BuildRecord]:
        """Valid cached builds, newest first."""
        if not self.builds_dir.is_dir():
            return []
        records = [self.get(p.name) for p in self.builds_dir.iterdir() if p.is_dir()]
        return sorted((r for r in records if r), key=lambda r: r.built_at, reverse=True)

    def editable_zips(self) -> builtins.list[Path]:
        """The editable zips in the cache (whoever made them), newest first; temporary files
        of a zip being written are left out."""
        if not self.editables_dir.is_dir():
            return []
        zips = []
        for path in self.editables_dir.iterdir():
            if path.name.startswith(".") or path.suffix != ".zip":
                continue
            with contextlib.suppress(OSError):  # removed while listing
                zips.append((path.stat().st_mtime, path))
        return [p for _, p in sorted(zips, key=lambda z: (z[0], z[1].name), reverse=True)]

    def latest_for(self, python: str) -> BuildRecord | None:
        """The most recent build made for the interpreter `python` (its path or its prefix).

        Paths are compared after `abspath`, not `realpath`: a venv's python is a symlink to the
        base interpreter and resolving it would mix up every venv made from that base."""
        want = os.path.abspath(os.path.expanduser(python))
        for record in self.list():
            if os.path.abspath(record.python) == want or (
                record.prefix and os.path.abspath(record.prefix) == want
            ):
                return record
        return None

    # -- writing ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, fp: str) -> Iterator[None]:
        """Exclusive per-fingerprint lock across processes (released if the holder dies)."""
        self.locks_dir.mkdir(parents=True, exist_ok=True)
        with open(self.locks_dir / f"{fp}.lock", "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def new_tmp(self, fp: str) -> Path:
        """A private folder to build `fp` in.  Call with the lock for `fp` held: leftovers of
        earlier builds of `fp` (killed processes) are removed first."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.tmp_dir.glob(f"{fp}.*"):
            shutil.rmtree(stale, ignore_errors=True)
        path = self.tmp_dir / f"{fp}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        path.mkdir()
        return path

    def publish(self, fp: str, tmp: Path, record: BuildRecord) -> BuildRecord:
        """Write the record into `tmp` and rename `tmp` to the entry in one step.

        `record.pex_path` must already name the final location (inside `entry_dir(fp)`)."""
        (tmp / RECORD).write_text(json.dumps(record.to_json(), indent=2, sort_keys=True))
        entry = self.entry_dir(fp)
        entry.parent.mkdir(parents=True, exist_ok=True)
        if entry.exists():  # an invalid leftover (get() said absent): move aside, then delete
            trash = self.tmp_dir / f"{fp}.trash.{uuid.uuid4().hex[:8]}"
            os.rename(entry, trash)
            shutil.rmtree(trash, ignore_errors=True)
        os.rename(tmp, entry)
        return record

    def record_upload(self, fp: str, destination: str, url: str) -> None:
        """Remember where an artifact was uploaded (atomic rewrite of its record).

        Read-modify-write under the fingerprint's lock: two processes uploading the same
        artifact to different places must both be remembered."""
        entry = self.entry_dir(fp)
        with self.lock(fp):
            record = self._read(entry)
            if record is None or record.uploads.get(destination) == url:
                return
            record.uploads[destination] = url
            tmp = entry / f".{RECORD}.{os.getpid()}.{uuid.uuid4().hex[:6]}"
            tmp.write_text(json.dumps(record.to_json(), indent=2, sort_keys=True))
            os.replace(tmp, entry / RECORD)

    def remove(self, fp: str) -> bool:
        """Remove the build `fp`; False if it was not there (also when a concurrent remove or
        prune got it first: existence is checked with the lock held)."""
        entry = self.entry_dir(fp)
        with self.lock(fp):
            if not entry.exists():
                return False
            trash = self.tmp_dir / f"{fp}.trash.{uuid.uuid4().hex[:8]}"
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(entry, trash)
            except FileNotFoundError:
                return False  # removed by a process that does not take the lock
            shutil.rmtree(trash, ignore_errors=True)
        return True

    def prune(self, keep: int = 1, older_than_days: float | None = None) -> builtins.list[str]:
        """Remove old builds and leftovers; return the fingerprints removed.

        Keeps the `keep` newest builds of each interpreter (0 removes all of them) and, when
        `older_than_days` is given, only removes builds older than that.  Invalid entries and
        abandoned temporary folders (no live lock holder) are always removed."""
        removed: builtins.list[str] = []
        now = time.time()
        seen: dict[str, int] = {}
        for record in self.list():
            n = seen.get(record.python, 0)
            seen[record.python] = n + 1
            if n < keep:
                continue
            if older_than_days is not None and now - record.built_at < older_than_days * 86400:
                continue
            if self.remove(record.fingerprint):
                removed.append(record.fingerprint)
        if self.builds_dir.is_dir():
            for entry in self.builds_dir.iterdir():
                if entry.is_dir() and self.get(entry.name) is None and self.remove(entry.name):
                    removed.append(entry.name)
        if self.tmp_dir.is_dir():
            for tmp in self.tmp_dir.iterdir():
                fp = tmp.name.split(".", 1)[0]
                if not self.is_building(fp):
                    shutil.rmtree(tmp, ignore_errors=True)
        if older_than_days is not None and self.editables_dir.is_dir():
            for z in self.editables_dir.iterdir():
                if now - z.stat().st_mtime > older_than_days * 86400:
                    z.unlink(missing_ok=True)
        return removed

    def is_building(self, fp: str) -> bool:
        """Whether some process (this one included) holds the build lock of `fp` right now."""
        self.locks_dir.mkdir(parents=True, exist_ok=True)
        with open(self.locks_dir / f"{fp}.lock", "a+") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(f, fcntl.LOCK_UN)
            return False
