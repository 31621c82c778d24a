"""Rewrite a zipapp entry by entry: deflate at a chosen level, reuse an earlier build's
compressed bytes, and add compiled bytecode beside its sources.

pex writes its PEX stored (`--no-compress`); `rewrite` copies it once, deflating each entry at
`level` and, on a rebuild, copying entries whose name, CRC and size match the previous PEX
already compressed (adding one package re-deflates only it).  The result is byte-identical
whether or not entries were reused (same zlib, same level).

An entry whose deflated size is more than `STORE_ABOVE` of its size is written stored: a node
pays inflating in CPU for every byte it unpacks (zlib: ~250 MB/s per core), and for such entries
that buys little.  In PyTorch's layers these are the CUDA libraries: storing the entries above
0.7 ships 19% more bytes (3.79 GB, not 3.19) and halves what a fresh node inflates (2.8 of
5.6 GB), which pays wherever a node's link carries more than ~75 MB/s per unpacking core.

Two things the public `zipfile` API cannot do are done through its internals:

- a per-entry deflate level: `ZipInfo._compresslevel` (a slot up to Python 3.12, a property over
  the public `ZipInfo.compress_level` from 3.13);
- appending an already-deflated entry: the local header goes through `ZipInfo.FileHeader`, then
  the entry is registered in `ZipFile.filelist`/`NameToInfo` and `start_dir` moved past it, so
  that `close()` lists it in the central directory (a zip opened with mode "w" is marked
  modified from the start, so `_didModify` needs no setting).

`check_zipfile_internals()` proves both on a small in-memory zip, against zlib itself, before
every rewrite (and in the test suite), so a Python whose zipfile changed fails with
`ZipInternalsChanged` instead of writing a broken or differently compressed PEX.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import struct
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from pexlab.core.errors import PexlabError

_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # zip local file header (30 bytes)
# The private names (see module docstring); check_zipfile_internals proves they still work.
_LEVEL_ATTR = "compress_level" if sys.version_info >= (3, 13) else "_compresslevel"
# Deflated size / size above which an entry is stored instead (see module docstring).
STORE_ABOVE = 0.7
# Deflated entries are spooled in memory up to this, then in a file beside the output.
_SPOOL_BYTES = 16 << 20
# What a rebuild copies from the previous zip: entries rewrite itself writes (not encrypted).
_REUSABLE = (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED)


class ZipInternalsChanged(PexlabError):
    """This Python's zipfile no longer behaves as the PEX rewriting relies on."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"Python {sys.version.split()[0]}'s zipfile changed in a way pexlab's PEX rewriting "
            f"relies on ({what}). Build without the rewrite (options={{'zip_level': 0, "
            "'bytecode': False}) or use a pexlab release that supports this Python."
        )


class PycSource(Protocol):
    """Where compiled bytecode for a source entry comes from (`pexlab.build.bytecode.Bytecode`)."""

    def pyc_name(self, entry: str) -> str: ...

    def for_entry(self, entry: str, crc: int, size: int) -> bytes | None: ...


# Progress of a rewrite: the fraction of uncompressed bytes done.
RewriteProgress = Callable[[float], None]


def set_level(info: zipfile.ZipInfo, level: int) -> zipfile.ZipInfo:
    """Make `info` an entry deflated at `level` (stored for 0) when written through zipfile."""
    if level <= 0:
        info.compress_type = zipfile.ZIP_STORED
        return info
    info.compress_type = zipfile.ZIP_DEFLATED
    # zipfile reads the level from the ZipInfo (see module docstring).
    setattr(info, _LEVEL_ATTR, level)
    return info


def append_raw(
    zout: zipfile.ZipFile, new: zipfile.ZipInfo, old: zipfile.ZipInfo, data: bytes | IO[bytes]
) -> None:
    """Append an already-compressed entry (`data`: its bytes, or a file positioned at them) to
    `zout` (opened with mode "w"); what `ZipFile.open(..., "w")` + close would record."""
    new.compress_type = old.compress_type
    new.flag_bits = old.flag_bits & ~0x08  # sizes are in the header, no data descriptor
    new.CRC, new.file_size, new.compress_size = old.CRC, old.file_size, old.compress_size
    zip64 = new.file_size > zipfile.ZIP64_LIMIT or new.compress_size > zipfile.ZIP64_LIMIT
    fp = zout.fp
    if fp is None:
        raise ValueError("append_raw needs a ZipFile open for writing")
    fp.seek(zout.start_dir)
    new.header_offset = fp.tell()
    fp.write(new.FileHeader(zip64))
    if isinstance(data, bytes):
        fp.write(data)
    else:
        shutil.copyfileobj(data, fp, 1 << 20)
    zout.start_dir = fp.tell()
    zout.filelist.append(new)
    zout.NameToInfo[new.filename] = new


class Reusable:
    """Deflated entries of an earlier zip, by (name, CRC, size): a rebuild copies the compressed
    bytes of unchanged files instead of deflating them again."""

    def __init__(self, path: Path | None) -> None:
        self.entries: dict[tuple[str, int, int], zipfile.ZipInfo] = {}
        self.file: BinaryIO | None = None
        if path is None:
            return
        try:
            with zipfile.ZipFile(path) as zf:
                for i in zf.infolist():
                    if i.compress_type in _REUSABLE and not i.flag_bits & 0x01:
                        self.entries[(i.filename, i.CRC, i.file_size)] = i
            self.file = open(path, "rb")  # noqa: SIM115 (closed by close())
        except (OSError, zipfile.BadZipFile):
            self.entries = {}

    def raw(self, name: str, crc: int, size: int) -> tuple[zipfile.ZipInfo, bytes] | None:
        old = self.entries.get((name, crc, size))
        if old is None or self.file is None:
            return None
        self.file.seek(old.header_offset)
        header = _LOCAL_HEADER.unpack(self.file.read(_LOCAL_HEADER.size))
        if header[0] != b"PK\x03\x04":
            return None
        self.file.seek(header[-2] + header[-1], os.SEEK_CUR)  # name and extra field
        data = self.file.read(old.compress_size)
        return (old, data) if len(data) == old.compress_size else None

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def check_zipfile_internals() -> None:
    """Raise ZipInternalsChanged unless both internals (module docstring) still work: an entry
    written at level 1 holds exactly zlib's level-1 stream, and a zip holding only a raw-appended
    entry reads back with that entry intact."""
    # Redundant enough to deflate, varied enough that level 1 and zlib's default (6) differ.
    data = " ".join(str(i * i % 997) for i in range(3000)).encode()
    deflater = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
    want = deflater.compress(data) + deflater.flush()
    try:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(set_level(zipfile.ZipInfo("a.txt"), 1), data)
        with zipfile.ZipFile(buf) as zf:
            info = zf.getinfo("a.txt")
        start = info.header_offset + _LOCAL_HEADER.size + len(info.filename) + len(info.extra)
        if buf.getvalue()[start : start + info.compress_size] != want:
            raise ZipInternalsChanged("the per-entry deflate level is not honoured")

        copy = io.BytesIO()
        with zipfile.ZipFile(copy, "w") as zout:
            append_raw(zout, zipfile.ZipInfo("b.txt"), info, want)
        with zipfile.ZipFile(copy) as zf:
            if zf.namelist() != ["b.txt"] or zf.read("b.txt") != data:
                raise ZipInternalsChanged("an appended entry is not in the written zip")
    except ZipInternalsChanged:
        raise
    except (AttributeError, TypeError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise ZipInternalsChanged(f"{type(exc).__name__}: {exc}") from exc


def rewrite(
    src: Path,
    dst: Path,
    level: int,
    previous: Path | None = None,
    bytecode: PycSource | None = None,
    progress: RewriteProgress | None = None,
    launcher: Callable[[bytes], bytes] | None = None,
) -> int:
    """Copy the zipapp `src` to `dst` with every file entry deflated at `level` (0: stored),
    adding, after each `.py` entry, its compiled `.pyc` from `bytecode` when there is a valid
    one.  Return how many entries were copied already-compressed from `previous` (an earlier
    zip written at that level).

    The bytes before the first entry (a PEX's shebang line) are kept, as are names, dates and
    permission bits, so the result is the same zipapp.  `launcher` may rewrite those leading
    bytes (the node-cache preamble, `pexlab.nodecache.launcher.with_preamble`)."""
    check_zipfile_internals()
    reuse = Reusable(previous if level > 0 else None)
    reused = 0
    try:
        with zipfile.ZipFile(src) as zin:
            infos = zin.infolist()
            names = {i.filename for i in infos}
            prefix_len = min((i.header_offset for i in infos), default=0)
            total = sum(i.file_size for i in infos) or 1
            with open(src, "rb") as f:
                prefix = f.read(prefix_len)
            if launcher is not None:
                prefix = launcher(prefix)
            done = 0
            next_report = 0.0
            with open(dst, "wb") as out:
                out.write(prefix)
                with zipfile.ZipFile(out, "w") as zout:
                    for info in infos:
                        new = zipfile.ZipInfo(info.filename, info.date_time)
                        new.external_attr = info.external_attr
                        new.create_system = info.create_system
                        if info.is_dir() or info.file_size == 0:
                            zout.writestr(new, b"", compress_type=zipfile.ZIP_STORED)
                            continue
                        hit = reuse.raw(info.filename, info.CRC, info.file_size)
                        if hit is not None:
                            append_raw(zout, new, *hit)
                            reused += 1
                        elif level > 0:
                            _deflate_or_store(zin, info, zout, new, level, dst.parent)
                        else:
                            _store(zin, info, zout, new)
                        if bytecode is not None:
                            reused += _add_pyc(zout, reuse, bytecode, info, level, names)
                        done += info.file_size
                        if progress is not None and done / total >= next_report:
                            progress(done / total)
                            next_report += 0.05
    finally:
        reuse.close()
    dst.chmod(src.stat().st_mode & 0o777)
    return reused


def _store(
    zin: zipfile.ZipFile, info: zipfile.ZipInfo, zout: zipfile.ZipFile, new: zipfile.ZipInfo
) -> None:
    with (
        zin.open(info) as r,
        zout.open(set_level(new, 0), "w", force_zip64=info.file_size > 1 << 31) as w,
    ):
        shutil.copyfileobj(r, w, 1 << 20)


def _deflate_or_store(
    zin: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    zout: zipfile.ZipFile,
    new: zipfile.ZipInfo,
    level: int,
    scratch: Path,
) -> None:
    """Write `info`'s data deflated at `level`, or stored when deflating saves too little
    (`STORE_ABOVE`).  The deflated stream is the one zipfile itself writes at that level
    (`check_zipfile_internals`), so reused and fresh entries stay byte-identical."""
    deflater = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    with (
        tempfile.SpooledTemporaryFile(_SPOOL_BYTES, dir=str(scratch)) as spool,
        zin.open(info) as r,
    ):
        while chunk := r.read(1 << 20):
            spool.write(deflater.compress(chunk))
        spool.write(deflater.flush())
        size = spool.tell()
        if size > STORE_ABOVE * info.file_size:
            _store(zin, info, zout, new)
            return
        deflated = zipfile.ZipInfo(info.filename)
        deflated.compress_type = zipfile.ZIP_DEFLATED
        deflated.CRC, deflated.file_size, deflated.compress_size = info.CRC, info.file_size, size
        spool.seek(0)
        append_raw(zout, new, deflated, spool)


def _add_pyc(
    zout: zipfile.ZipFile,
    reuse: Reusable,
    bytecode: PycSource,
    source: zipfile.ZipInfo,
    level: int,
    names: set[str],
) -> int:
    """After the `.py` entry `source`, write its compiled `.pyc` if there is a valid one
    (dated like its source, a plain 0644 file); 1 if its bytes were reused."""
    pyc = bytecode.for_entry(source.filename, source.CRC, source.file_size)
    name = bytecode.pyc_name(source.filename)
    if pyc is None or name in names:
        return 0
    new = zipfile.ZipInfo(name, source.date_time)
    new.external_attr = (stat.S_IFREG | 0o644) << 16
    new.create_system = source.create_system
    hit = reuse.raw(name, zlib.crc32(pyc), len(pyc))
    if hit is not None:
        append_raw(zout, new, *hit)
        return 1
    zout.writestr(set_level(new, level), pyc)
    return 0
