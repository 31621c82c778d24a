"""pexlab.build.zip_rewrite on real zip files: levels, reuse, what is kept, and the guard on zipfile's
private API (a Python whose zipfile changed must fail here, not in a user's PEX)."""

from __future__ import annotations

import os
import stat
import zipfile
import zlib
from pathlib import Path

import pytest

from pexlab.build import zip_rewrite
from pexlab.build.zip_rewrite import ZipInternalsChanged, check_zipfile_internals, rewrite
from pexlab.core.errors import PexlabError

SHEBANG = b"#!/usr/bin/env python3\n"
PYC = b"\x00fake-bytecode" * 40


def _zipapp(path: Path, files: dict[str, bytes]) -> Path:
    """A stored zip with a shebang in front, like pex's --no-compress output."""
    with open(path, "wb") as f:
        f.write(SHEBANG)
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr(zipfile.ZipInfo("pkg/", (2020, 1, 2, 3, 4, 6)), b"")
            for i, (name, data) in enumerate(sorted(files.items())):
                info = zipfile.ZipInfo(name, (2020, 1, 2, 3, 4, 2 * i))
                info.external_attr = (
                    stat.S_IFREG | (0o755 if name.endswith(".sh") else 0o644)
                ) << 16
                zf.writestr(info, data)
    path.chmod(0o755)
    return path


def _files(version: bytes = b"1") -> dict[str, bytes]:
    return {
        "__main__.py": b"print('main')\n" * 50,
        "pkg/__init__.py": b"VERSION = " + version + b"\n" + b"# padding\n" * 200,
        "pkg/data.bin": os.urandom(4096),
        "pkg/run.sh": b"#!/bin/sh\necho hi\n" * 30,
    }


def _raw_stream(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    with open(path, "rb") as f:
        f.seek(info.header_offset + 26)
        n, extra = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
        f.seek(n + extra, os.SEEK_CUR)
        return f.read(info.compress_size)


class _Pycs:
    """Bytecode for every `.py` entry under pkg/ (the real one, pexlab.build.bytecode.Bytecode, needs
    a venv and is tested with real PEX builds in test_pex_build)."""

    def pyc_name(self, entry: str) -> str:
        folder, _, file = entry.rpartition("/")
        return f"{folder}/__pycache__/{file[:-3]}.test.pyc"

    def for_entry(self, entry: str, crc: int, size: int) -> bytes | None:
        return PYC if entry.startswith("pkg/") and entry.endswith(".py") else None


def test_this_pythons_zipfile_still_has_what_the_rewrite_relies_on() -> None:
    check_zipfile_internals()


def test_a_changed_zipfile_fails_loudly_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A Python whose ZipInfo lost the slot: setting it fails.
    monkeypatch.setattr(zip_rewrite, "_LEVEL_ATTR", "no_such_level_attribute")
    with pytest.raises(ZipInternalsChanged, match=r"zipfile changed.*AttributeError") as info:
        check_zipfile_internals()
    assert isinstance(info.value, PexlabError)
    assert "zip_level" in str(info.value)
    # Worse, one where the level is accepted and silently ignored (zipfile overwrites the
    # attribute it lands in and deflates at its default level).
    monkeypatch.setattr(zip_rewrite, "_LEVEL_ATTR", "compress_size")
    with pytest.raises(ZipInternalsChanged, match="deflate level is not honoured"):
        check_zipfile_internals()
    src = _zipapp(tmp_path / "a.pex", _files())
    with pytest.raises(ZipInternalsChanged):
        rewrite(src, tmp_path / "b.pex", 1)
    assert not (tmp_path / "b.pex").exists(), "nothing written before the check"

    monkeypatch.undo()
    # A Python whose ZipInfo writes its local header under another name.
    monkeypatch.delattr(zipfile.ZipInfo, "FileHeader")
    with pytest.raises(ZipInternalsChanged, match="FileHeader"):
        check_zipfile_internals()


@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_every_entry_is_written_at_the_level_asked(tmp_path: Path, level: int) -> None:
    files = _files()
    src = _zipapp(tmp_path / "a.pex", files)
    dst = tmp_path / "b.pex"
    assert rewrite(src, dst, level) == 0
    with zipfile.ZipFile(dst) as zf:
        assert zf.testzip() is None
        for name, data in files.items():
            assert zf.read(name) == data
            # Random bytes do not deflate: they are stored at every level (STORE_ABOVE).
            deflated = level and name != "pkg/data.bin"
            want = zipfile.ZIP_DEFLATED if deflated else zipfile.ZIP_STORED
            assert zf.getinfo(name).compress_type == want
    if level:
        d = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        want_stream = d.compress(files["pkg/__init__.py"]) + d.flush()
        assert _raw_stream(dst, "pkg/__init__.py") == want_stream


def test_shebang_names_dates_and_modes_are_kept(tmp_path: Path) -> None:
    src = _zipapp(tmp_path / "a.pex", _files())
    dst = tmp_path / "b.pex"
    rewrite(src, dst, 1)
    assert dst.read_bytes().startswith(SHEBANG)
    assert stat.S_IMODE(dst.stat().st_mode) == 0o755
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst) as b:
        assert a.namelist() == b.namelist()
        for x, y in zip(a.infolist(), b.infolist(), strict=True):
            assert (x.date_time, x.external_attr) == (y.date_time, y.external_attr)


def test_unchanged_entries_are_copied_compressed_and_the_result_is_identical(
    tmp_path: Path,
) -> None:
    files = _files()
    first = tmp_path / "first.pex"
    rewrite(_zipapp(tmp_path / "a.pex", files), first, 1, bytecode=_Pycs())
    changed = {**files, "pkg/__init__.py": b"VERSION = 2\n"}
    src2 = _zipapp(tmp_path / "a2.pex", changed)
    reused_build, scratch = tmp_path / "reused.pex", tmp_path / "scratch.pex"
    fractions: list[float] = []
    n = rewrite(src2, reused_build, 1, previous=first, bytecode=_Pycs(), progress=fractions.append)
    rewrite(src2, scratch, 1, bytecode=_Pycs())
    # __main__.py, data.bin, run.sh and the unchanged .pyc of pkg/__init__.py.
    assert n == 4
    assert reused_build.read_bytes() == scratch.read_bytes()
    assert fractions
    assert fractions[-1] == pytest.approx(1.0)


def test_bytecode_goes_right_after_its_source(tmp_path: Path) -> None:
    src = _zipapp(tmp_path / "a.pex", _files())
    dst = tmp_path / "b.pex"
    rewrite(src, dst, 1, bytecode=_Pycs())
    with zipfile.ZipFile(dst) as zf:
        names = zf.namelist()
        pyc = "pkg/__pycache__/__init__.test.pyc"
        assert names[names.index("pkg/__init__.py") + 1] == pyc
        assert zf.read(pyc) == PYC
        assert zf.getinfo(pyc).external_attr >> 16 == stat.S_IFREG | 0o644
        assert "__pycache__/__main__.test.pyc" not in names  # no bytecode offered for it


def test_entries_that_deflate_saves_little_on_are_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node inflates every deflated byte it unpacks: an entry deflating shrinks to more than
    STORE_ABOVE of its size is stored, one that shrinks further is deflated, at any size."""
    noise = os.urandom(3 << 20)  # larger than the in-memory spool: goes through a file
    files = {
        "lib/noise.so": noise,
        # Half random, half zeros: deflates to ~0.5 of its size, under the 0.7 cut.
        "lib/half.so": b"".join(os.urandom(512) + bytes(512) for _ in range(4096)),
        # Just over the cut: 80% random.
        "lib/most.so": b"".join(os.urandom(820) + bytes(204) for _ in range(4096)),
    }
    monkeypatch.setattr(zip_rewrite, "_SPOOL_BYTES", 1 << 20)
    dst = tmp_path / "b.pex"
    rewrite(_zipapp(tmp_path / "a.pex", files), dst, 1)
    with zipfile.ZipFile(dst) as zf:
        assert zf.testzip() is None
        kinds = {n: zf.getinfo(n).compress_type for n in files}
        assert {n: zf.read(n) for n in files} == files
        half = zf.getinfo("lib/half.so")
        assert half.compress_size < zip_rewrite.STORE_ABOVE * half.file_size
    assert kinds == {
        "lib/noise.so": zipfile.ZIP_STORED,
        "lib/half.so": zipfile.ZIP_DEFLATED,
        "lib/most.so": zipfile.ZIP_STORED,
    }
    assert not [p for p in tmp_path.iterdir() if p.name not in ("a.pex", "b.pex")], "no spool left"
    # A rebuild copies both kinds from the first build, byte for byte.
    again = tmp_path / "again.pex"
    assert rewrite(tmp_path / "a.pex", again, 1, previous=dst) == 3
    assert again.read_bytes() == dst.read_bytes()
