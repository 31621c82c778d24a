"""The layered launcher's node-side pieces (`pexlab.nodecache.assemble`) on real folders: how a
venv's site-packages is linked from layers, and what a killed start leaves behind.  The whole
path, with real pex layers and a bare Python, is in test_layered_env.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pexlab.nodecache.assemble import TMP, clear_stale, link_tree, make_venv


def _files(root: Path, *names: str) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"{root.name}:{name}")
    return root


def test_layers_are_linked_by_their_top_level_entries_and_shared_folders_merge(
    tmp_path: Path,
) -> None:
    a = _files(
        tmp_path / "wheels" / "a",
        "ns/one/__init__.py",
        "nvidia/cu/lib/libx.so",
        "pkg/__init__.py",
        "only_a/__init__.py",
        "a.pth",
        ".layout.json",
    )
    b = _files(
        tmp_path / "wheels" / "b",
        "ns/two/__init__.py",
        "nvidia/cu/include/x.h",
        "pkg/__init__.py",  # the same file in two layers: the first layer's wins
        ".prefix/bin/tool",
    )
    final = tmp_path / "venv" / "site-packages"
    work = tmp_path / "venv.tmp" / "site-packages"  # made beside it, renamed into place
    work.mkdir(parents=True)
    link_tree(str(a), str(work), str(final))
    link_tree(str(b), str(work), str(final))
    (tmp_path / "venv.tmp").rename(tmp_path / "venv")

    assert sorted(os.listdir(final)) == ["a.pth", "ns", "nvidia", "only_a", "pkg"]  # no pex's
    assert (final / "only_a").is_symlink()  # one layer's folder: one link
    assert (final / "pkg" / "__init__.py").read_text() == "a:pkg/__init__.py"  # the first wins
    # Folders of several layers are real folders of links, as deep as they are shared.
    for shared in ("ns", "nvidia", "nvidia/cu", "pkg"):
        assert (final / shared).is_dir()
        assert not (final / shared).is_symlink(), shared
    for linked in ("ns/one", "ns/two", "nvidia/cu/lib", "nvidia/cu/include"):
        assert (final / linked).is_symlink(), linked
        assert not os.path.isabs(os.readlink(final / linked))  # relative: survives the rename
    assert (final / "nvidia/cu/lib/libx.so").read_text() == "a:nvidia/cu/lib/libx.so"
    assert (final / "nvidia/cu/include/x.h").read_text() == "b:nvidia/cu/include/x.h"


def test_the_venv_runs_its_layers_and_nothing_of_the_python_it_came_from(tmp_path: Path) -> None:
    layer = _files(tmp_path / "wheels" / "mod", "layered_mod.py")
    (layer / "layered_mod.py").write_text("WHERE = __file__\n")
    venv = tmp_path / "venvs" / "venv"
    venv.parent.mkdir()
    make_venv(str(venv), [str(layer)], _empty_zip())
    code = "import layered_mod, sys; print(layered_mod.WHERE); print(sys.prefix)"
    out = subprocess.run(
        [venv / "bin" / "python", "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == str(
        venv
        / "lib"
        / f"python{sys.version_info[0]}.{sys.version_info[1]}"
        / "site-packages"
        / "layered_mod.py"
    )
    assert out[1] == str(venv)
    # Negative control: pytest, installed where the tests run, is not in the venv.
    missing = subprocess.run(
        [venv / "bin" / "python", "-c", "import pytest"], capture_output=True, text=True
    )
    assert "No module named 'pytest'" in missing.stderr
    assert not [p for p in venv.parent.iterdir() if TMP in p.name]


def _empty_zip() -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("user_code.py", "")
    return buf.getvalue()


def _dead_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except OSError:
            pass
        pid += 1


def test_only_the_leftovers_of_dead_starts_are_cleared(tmp_path: Path) -> None:
    dead, alive = _dead_pid(), os.getpid()
    (tmp_path / f"abc{TMP}{dead}" / "wheel").mkdir(parents=True)
    (tmp_path / f".venv{TMP}{dead}").mkdir()
    (tmp_path / f".fetch{TMP}{dead}").write_text("partial download")
    (tmp_path / f"def{TMP}{alive}").mkdir()  # a start still at work
    (tmp_path / "abc").mkdir()  # a whole layer
    clear_stale(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["abc", f"def{TMP}{alive}"]


def _layer(tmp_path: Path) -> Path:
    """A layer as the build writes it (`zip_rewrite.rewrite` of a stored zip): a deflated source,
    a stored incompressible blob, an executable, a ZIP64 entry, a folder and a non-ASCII name."""
    import zipfile

    from pexlab.build.zip_rewrite import rewrite

    src = tmp_path / "src.zip"
    with zipfile.ZipFile(src, "w") as zf:
        tool = zipfile.ZipInfo("pkg/bin/tool")
        tool.external_attr = 0o100755 << 16
        zf.writestr(tool, "#!/bin/sh\necho hi\n")
        zf.writestr("pkg/__init__.py", "VALUE = 1\n" * 5000)
        zf.writestr("pkg/données.txt", "é" * 3000)
        zf.writestr("pkg/data/", "")
        zf.writestr("pkg/blob.bin", os.urandom(3 << 20))  # stored: deflate saves nothing
        with zf.open("pkg/z64.bin", "w", force_zip64=True) as w:
            w.write(b"z" * 70000)
    out = tmp_path / "layer.whl"
    rewrite(src, out, 6)
    return out


@pytest.mark.parametrize("uncached", [False, True], ids=["cached", "dropped"])
def test_a_layer_unpacks_from_a_stream_as_the_build_wrote_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uncached: bool
) -> None:
    import io
    import stat
    import zipfile

    from pexlab.nodecache import assemble
    from pexlab.nodecache.assemble import unpack

    # "dropped": the 3 MB blob takes the large-file path (writeback on close, fdatasync and
    # the page-cache drop at the layer's end), which a start over 1 GB of layers takes.
    monkeypatch.setattr(assemble, "_UNCACHE_ABOVE", 1 << 20)
    synced: list[str] = []
    real_uncache = assemble.uncache

    def uncache(paths: list[str]) -> None:  # the real one, recording what it was given
        synced.extend(paths)
        real_uncache(paths)

    monkeypatch.setattr(assemble, "uncache", uncache)
    layer = _layer(tmp_path)
    data = layer.read_bytes()
    with zipfile.ZipFile(layer) as zf:
        kinds = {i.compress_type for i in zf.infolist() if i.file_size}
        assert kinds == {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}  # both paths are exercised
        into = tmp_path / "into"

        class Trickle(io.BytesIO):  # a socket: short reads
            def read(self, n: int | None = -1) -> bytes:
                return super().read(min(n if n is not None and n >= 0 else 1 << 30, 7000))

        unpack(Trickle(data), str(into), layer.name, len(data), uncached)
        dropped = [os.path.relpath(x, into) for x in synced]
        assert dropped == (["pkg/blob.bin"] if uncached and hasattr(os, "posix_fadvise") else [])
        for info in zf.infolist():
            path = into / info.filename
            if info.is_dir():
                assert path.is_dir()
                continue
            assert path.read_bytes() == zf.read(info), info.filename
            assert stat.S_IMODE(path.stat().st_mode) & 0o111 == (
                (info.external_attr >> 16) & 0o111
            ), info.filename
    assert (into / "pkg/bin/tool").stat().st_mode & 0o100  # the executable bit survives


def test_a_cut_corrupt_or_unsafe_layer_is_refused_by_name(tmp_path: Path) -> None:
    import io
    import zipfile

    from pexlab.nodecache.assemble import AssemblyError, unpack

    layer = _layer(tmp_path)
    data = layer.read_bytes()

    def refused(blob: bytes, size: int = len(data)) -> str:
        with pytest.raises(AssemblyError) as err:
            unpack(io.BytesIO(blob), str(tmp_path / "out"), layer.name, size)
        return str(err.value)

    assert "ends after" in refused(data[: len(data) // 2])  # a cut download
    assert "longer than" in refused(data + b"extra")
    with zipfile.ZipFile(layer) as zf:
        blob = zf.getinfo("pkg/blob.bin")
    at = blob.header_offset + 30 + len(blob.filename) + 1000  # inside its stored bytes
    flipped = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
    assert "corrupt entry 'blob.bin'" in refused(flipped)

    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../outside.py", "x")
    assert "unsafe name '../outside.py'" in refused(evil.getvalue(), len(evil.getvalue()))
    assert not (tmp_path / "outside.py").exists()
