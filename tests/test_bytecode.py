"""The venv's .pyc files go into the PEX only when they were compiled from the exact source.

Real files compiled by the real `py_compile`, no venv needed; the PEX-level behaviour (pyc
entries present, used on import by a fresh PEX_ROOT) is in test_pex_build.py."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import py_compile
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from pexlab.build.bytecode import Bytecode, checked_pyc
from pexlab.environment.interpreter import Environment, inspect_interpreter

TAG = sys.implementation.cache_tag
SOURCE = b"def f():\n    return 41 + 1\n"


def _compiled(
    site: Path, rel: str, source: bytes, mode: py_compile.PycInvalidationMode
) -> tuple[Path, Path]:
    src = site / rel
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(source)
    pyc = Path(importlib.util.cache_from_source(str(src)))
    py_compile.compile(str(src), cfile=str(pyc), doraise=True, invalidation_mode=mode)
    return src, pyc


def _flags(pyc: bytes) -> int:
    return int.from_bytes(pyc[4:8], "little")


@pytest.mark.parametrize(
    "mode",
    [py_compile.PycInvalidationMode.TIMESTAMP, py_compile.PycInvalidationMode.CHECKED_HASH],
)
def test_a_matching_pyc_becomes_a_checked_hash_pyc(tmp_path: Path, mode) -> None:
    src, pyc = _compiled(tmp_path, "pkg/mod.py", SOURCE, mode)
    original = pyc.read_bytes()
    out = checked_pyc(original, SOURCE, src.stat().st_mtime)
    assert out is not None
    assert out[:4] == importlib.util.MAGIC_NUMBER
    assert _flags(out) == 0b11  # hash-based, checked against the source on import
    assert out[8:16] == importlib.util.source_hash(SOURCE)
    assert out[16:] == original[16:]  # the code object itself is pip's, unchanged
    # The interpreter uses it as is, though the source's mtime no longer matches pip's.
    pyc.write_bytes(out)
    os.utime(src, (0, 0))
    r = subprocess.run(
        [sys.executable, "-v", "-c", "import pkg.mod as m; print(m.f())"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(tmp_path), PYTHONDONTWRITEBYTECODE="1"),
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "42", r.stderr
    assert f"{pyc} matches {src}" in r.stderr


def test_a_stale_or_foreign_pyc_is_left_out(tmp_path: Path) -> None:
    src, pyc = _compiled(tmp_path, "m.py", SOURCE, py_compile.PycInvalidationMode.TIMESTAMP)
    data, mtime = pyc.read_bytes(), src.stat().st_mtime
    edited = SOURCE.replace(b"41", b"40")  # same size, other code
    assert checked_pyc(data, edited, mtime + 5) is None  # edited after pip compiled it
    assert checked_pyc(data, SOURCE + b"\n", mtime) is None  # size differs
    assert checked_pyc(data, SOURCE, None) is None  # no mtime to check a timestamp pyc with
    assert checked_pyc(data[:12], SOURCE, mtime) is None  # truncated
    assert checked_pyc(b"not a pyc at all", SOURCE, mtime) is None

    _, hashed = _compiled(tmp_path, "h.py", SOURCE, py_compile.PycInvalidationMode.UNCHECKED_HASH)
    assert checked_pyc(hashed.read_bytes(), edited, None) is None  # hash of other source


def test_entries_are_matched_to_the_venv_file_with_the_same_bytes(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    src, _ = _compiled(site, "pkg/mod.py", SOURCE, py_compile.PycInvalidationMode.TIMESTAMP)
    _compiled(site, "single.py", SOURCE, py_compile.PycInvalidationMode.TIMESTAMP)
    bc = Bytecode((tmp_path / "elsewhere", site), TAG)
    crc, size = zlib.crc32(SOURCE), len(SOURCE)
    entry = ".deps/pkg-1.0-py3-none-any.whl/pkg/mod.py"

    pyc = bc.for_entry(entry, crc, size)
    assert pyc is not None
    assert pyc[8:16] == importlib.util.source_hash(SOURCE)
    assert bc.pyc_name(entry) == f".deps/pkg-1.0-py3-none-any.whl/pkg/__pycache__/mod.{TAG}.pyc"
    assert bc.for_entry(".deps/w.whl/single.py", crc, size) is not None
    assert bc.pyc_name(".deps/w.whl/single.py") == f".deps/w.whl/__pycache__/single.{TAG}.pyc"

    # The PEX's file is not the venv's (other bytes, other size): nothing is shipped for it.
    assert bc.for_entry(entry, crc ^ 1, size) is None
    assert bc.for_entry(entry, crc, size + 1) is None
    # Not a distribution's importable file, or not in this venv at all.
    assert bc.for_entry(".bootstrap/pex/pex.py", crc, size) is None
    assert bc.for_entry(".deps/pkg-1.0.whl/.prefix/bin/tool.py", crc, size) is None
    assert bc.for_entry(".deps/pkg-1.0.whl/pkg/other.py", crc, size) is None
    # A package's own tests are not imported by jobs: not worth extracting on every executor.
    _compiled(site, "pkg/tests/test_mod.py", SOURCE, py_compile.PycInvalidationMode.TIMESTAMP)
    assert bc.for_entry(".deps/pkg-1.0.whl/pkg/tests/test_mod.py", crc, size) is None
    # Without pip's .pyc in the venv there is nothing to copy.
    (src.parent / "__pycache__" / f"mod.{TAG}.pyc").unlink()
    assert bc.for_entry(entry, crc, size) is None


def test_the_pyc_names_are_the_ones_the_inspected_interpreter_uses(tmp_path: Path) -> None:
    """The probe asks the interpreter for its cache tag; without one, nothing is shipped."""
    env = inspect_interpreter(sys.executable)
    assert env.cache_tag == TAG
    assert Bytecode.of(env) == Bytecode(tuple(Path(p) for p in env.site_packages), TAG)
    assert Bytecode.of(dataclasses.replace(env, cache_tag="")) is None
    assert Bytecode.of(dataclasses.replace(env, site_packages=())) is None
    # A record written before the probe reported it reads back as "no tag", not as a guess.
    legacy = env.to_json()
    del legacy["cache_tag"]
    assert Environment.from_json(legacy).cache_tag == ""
