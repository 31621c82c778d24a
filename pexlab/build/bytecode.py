"""Ship the kernel venv's own compiled bytecode inside the PEX.

pex leaves `.pyc` files out of a PEX.  On an executor, the first import of each module then
compiles it from source: for pandas + scikit-learn + pyarrow that is seconds on every executor
of every new application (PEX_ROOT is fresh per application by default), and on every Python
start where bytecode cannot be written (read-only PEX_ROOT, PYTHONDONTWRITEBYTECODE).  pip
already compiled every module when it installed it into the kernel's venv, so pexlab copies
those `.pyc` files next to their sources in the PEX.

Modules under a `tests`/`test` folder are left to compile on use (see `_TEST_DIRS`).

A copied `.pyc` is used only if it provably belongs to the exact source in the PEX:
- the venv's source file has the same bytes as the PEX entry (size and CRC-32), and
- the `.pyc` was compiled from that file: a timestamp `.pyc` records the source's mtime and
  size, a hash-based one the source's hash.

pex extracts files with new mtimes, so a timestamp `.pyc` would be thrown away on the executor;
each one is rewritten as a *checked hash-based* `.pyc` (PEP 552): the interpreter hashes the
source on import and recompiles if it ever differs, so a wrong `.pyc` cannot be used.
"""

from __future__ import annotations

import _imp
import zlib
from dataclasses import dataclass
from pathlib import Path

from pexlab.environment.interpreter import Environment

_DEPS = ".deps/"
# PEP 552 flags: bit 0 = hash-based, bit 1 = check the source against the hash.
_HASH_BASED = 0b01
_CHECKED_HASH = 0b11
# A package's own test suite is not imported by jobs, and its .pyc files would be extracted on
# every executor all the same: 2,050 of the 5,799 .pyc files (64 of 141 MB) of a pandas +
# scikit-learn + pyarrow environment.
_TEST_DIRS = frozenset({"tests", "test"})


def source_hash(magic: bytes, source: bytes) -> bytes:
    """The PEP 552 hash of `source` for bytecode with this `magic`: the key is the magic number,
    so it is computed for the venv's Python even when pexlab runs under another version."""
    return _imp.source_hash(int.from_bytes(magic, "little"), source)


def checked_pyc(pyc: bytes, source: bytes, source_mtime: float | None) -> bytes | None:
    """`pyc` rewritten as a checked hash-based .pyc of `source`, or None when it was not
    compiled from exactly `source` (stale, other file, truncated).

    `source_mtime`: the venv file's mtime, for timestamp .pyc files."""
    if len(pyc) < 16 or pyc[2:4] != b"\r\n":
        return None
    magic, flags = pyc[:4], int.from_bytes(pyc[4:8], "little")
    digest = source_hash(magic, source)
    if flags & _HASH_BASED:
        if pyc[8:16] != digest:
            return None
    elif flags == 0:
        mtime, size = int.from_bytes(pyc[8:12], "little"), int.from_bytes(pyc[12:16], "little")
        if source_mtime is None or mtime != int(source_mtime) & 0xFFFFFFFF:
            return None
        if size != len(source) & 0xFFFFFFFF:
            return None
    else:
        return None
    return magic + _CHECKED_HASH.to_bytes(4, "little") + digest + pyc[16:]


@dataclass(frozen=True)
class Bytecode:
    """Finds the venv's .pyc for a `.py` entry of pex's stored PEX."""

    site_packages: tuple[Path, ...]
    tag: str
    # Entries are named `.deps/<wheel>/<path>` (a PEX file); False: `<path>`, relative to one
    # distribution (a layer's zip, `pexlab.build.layers`).
    in_deps: bool = True

    @classmethod
    def of(cls, env: Environment) -> Bytecode | None:
        if not env.cache_tag or not env.site_packages:
            return None
        return cls(tuple(Path(p) for p in env.site_packages), env.cache_tag)

    def pyc_name(self, entry: str) -> str:
        folder, slash, file = entry.rpartition("/")
        return f"{folder}{slash}__pycache__/{file[:-3]}.{self.tag}.pyc"

    def for_entry(self, entry: str, crc: int, size: int) -> bytes | None:
        """The checked .pyc for the entry `.deps/<wheel>/<path>.py` (or `<path>.py`, see
        `in_deps`), or None.

        pex lays a venv-repository distribution out as its site-packages files relative to the
        chroot (scripts and data under `.prefix/`, which are not imported)."""
        if not entry.endswith(".py"):
            return None
        if self.in_deps:
            if not entry.startswith(_DEPS):
                return None
            parts = entry[len(_DEPS) :].split("/", 1)
            if len(parts) != 2:
                return None
            entry = parts[1]
        rel = entry
        if rel.startswith(".prefix/"):
            return None
        if not _TEST_DIRS.isdisjoint(rel.split("/")[:-1]):
            return None
        for site in self.site_packages:
            source_path = site / rel
            try:
                st = source_path.stat()
                if st.st_size != size:
                    continue
                source = source_path.read_bytes()
                if zlib.crc32(source) != crc:
                    continue
                folder, _, file = rel.rpartition("/")
                pyc_path = site / folder / "__pycache__" / f"{file[:-3]}.{self.tag}.pyc"
                pyc = pyc_path.read_bytes()
            except OSError:
                continue
            return checked_pyc(pyc, source, st.st_mtime)
        return None
