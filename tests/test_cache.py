"""The PEX cache: hits without running pex, invalidation, one build under concurrency, killed
builds leave nothing valid, integrity checks, listing and pruning."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from buildenv import calls, counting_pex, offline, pex_wrapper, plain_project
from venvs import Project, Venv, VenvFactory, VenvSpec

from pexlab.build.cache import BuildRecord, Cache
from pexlab.build.pex import BuildOptions, build_pex
from pexlab.environment.interpreter import inspect_interpreter

REPO = Path(__file__).resolve().parents[1]
PROJECTS = REPO / ".cache" / "test-projects" / "cache"


@pytest.fixture(scope="module")
def small_venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A venv with one small local project: builds in a second or two, no index needed."""
    tiny = plain_project(PROJECTS, "tinylib", "tinylib", "1.0.0")
    return VenvFactory(tmp_path_factory.mktemp("venvs")).get(VenvSpec(projects=(Project(tiny),)))


@pytest.fixture
def counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Route every pex run of this test through a wrapper that counts them."""
    cmd, log = counting_pex(tmp_path / "wrap")
    monkeypatch.setenv("PEXLAB_PEX", cmd)
    return log


def test_unchanged_environment_is_not_rebuilt(
    small_venv: Venv, tmp_path: Path, counted: Path
) -> None:
    cache = Cache(tmp_path / "cache")
    env = inspect_interpreter(small_venv.python)
    with offline():
        first, reused1 = build_pex(env, BuildOptions(), cache)
        mtime = first.path.stat().st_mtime_ns
        # A new inspection (as a new process would do) finds the same build.
        second, reused2 = build_pex(inspect_interpreter(small_venv.python), BuildOptions(), cache)
    assert (reused1, reused2) == (False, True)
    assert calls(counted) == 1
    assert second.fingerprint == first.fingerprint
    assert second.pex_path == first.pex_path
    assert first.path.stat().st_mtime_ns == mtime
    meta = json.loads((first.path.parent / "build.json").read_text())
    for key in (
        "fingerprint",
        "distributions",
        "python",
        "platform",
        "pex_version",
        "size",
        "sha256",
        "built_at",
    ):
        assert meta[key] == getattr(first, key)
    assert {"name": "tinylib", "version": "1.0.0"} in meta["distributions"]


def test_version_change_invalidates(tmp_path: Path, counted: Path) -> None:
    v1 = plain_project(tmp_path / "p1", "tinylib", "tinylib", "1.0.0")
    v2 = plain_project(tmp_path / "p2", "tinylib", "tinylib", "2.0.0")
    venv = VenvFactory(tmp_path).get(VenvSpec(projects=(Project(v1),)), fresh=True)
    cache = Cache(tmp_path / "cache")
    with offline():
        old, _ = build_pex(inspect_interpreter(venv.python), BuildOptions(), cache)
    venv.pip("install", str(v2))  # test set-up: may fetch setuptools for the build
    events = []
    with offline():
        new, reused = build_pex(
            inspect_interpreter(venv.python), BuildOptions(), cache, events.append
        )
        # The same build with nothing to reuse from: byte-identical to the incremental one.
        scratch = build_pex(
            inspect_interpreter(venv.python), BuildOptions(), Cache(tmp_path / "c2")
        ).record
    assert not reused
    assert new.fingerprint != old.fingerprint
    assert calls(counted) == 3
    assert any("unchanged files reused" in e.message for e in events)
    assert scratch.fingerprint == new.fingerprint
    assert scratch.sha256 == new.sha256
    assert {"name": "tinylib", "version": "2.0.0"} in new.distributions
    assert cache.latest_for(str(venv.python)).fingerprint == new.fingerprint
    assert cache.get(old.fingerprint) is not None  # the old build stays until pruned


def _pexlab(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.Popen[str]:
    full = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    return subprocess.Popen(
        [sys.executable, "-m", "pexlab", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full,
        cwd=REPO,
        **kw,
    )


def test_two_processes_build_once(small_venv: Venv, tmp_path: Path, counted: Path) -> None:
    cache_dir = tmp_path / "cache"
    args = ("build", "--python", str(small_venv.python), "--cache-dir", str(cache_dir), "--json")
    with offline():
        procs = [_pexlab(*args) for _ in range(2)]
        outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    results = [json.loads(out) for out, _ in outs]
    assert calls(counted) == 1
    assert results[0]["fingerprint"] == results[1]["fingerprint"]
    assert sorted(r["reused"] for r in results) == [False, True]
    assert len(Cache(cache_dir).list()) == 1


def test_killed_build_leaves_nothing_valid(small_venv: Venv, tmp_path: Path) -> None:
    # A pex that finishes writing its output, then hangs: we kill pexlab at the worst moment,
    # with a complete-looking PEX in the build folder but the build not yet published.
    mark = tmp_path / "pex-finished"
    hang = pex_wrapper(
        tmp_path / "hanging-pex",
        f'[ "$1" = "--version" ] && exec $PEX --version\n'
        f'$PEX "$@" || exit 1\ntouch "{mark}"\nsleep 300\n',
    )
    cache = Cache(tmp_path / "cache")
    args = ("build", "--python", str(small_venv.python), "--cache-dir", str(cache.root), "--json")
    with offline():
        proc = _pexlab(*args, env={"PEXLAB_PEX": str(hang)}, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not mark.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "pex did not finish"
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # pexlab, the wrapper and its sleep: its own group
        proc.communicate()
    leftovers = list((cache.tmp_dir).glob("*/*.pex"))
    assert leftovers, "the kill should have hit after pex wrote its file"
    assert cache.list() == []
    assert not cache.builds_dir.exists() or not any(cache.builds_dir.iterdir())
    env = inspect_interpreter(small_venv.python)
    with offline():
        record, reused = build_pex(env, BuildOptions(), cache)
    assert not reused
    assert cache.get(record.fingerprint, verify=True) is not None
    assert not any(p.exists() for p in leftovers)  # cleaned by the next build of that fingerprint


# -- integrity, listing, pruning (records made through the cache API, no pex needed) ---------


def _fake_build(
    cache: Cache, fp: str, python: str, built_at: float, payload: bytes = b"pex"
) -> BuildRecord:
    from pexlab.build.cache import sha256_file

    with cache.lock(fp):
        tmp = cache.new_tmp(fp)
        (tmp / "a.pex").write_bytes(payload)
        record = BuildRecord(
            fingerprint=fp,
            pex_path=str(cache.entry_dir(fp) / "a.pex"),
            python=python,
            prefix=str(Path(python).parent.parent),
            python_version="3.11.7",
            platform="linux_x86_64",
            distributions=[{"name": "six", "version": "1.17.0"}],
            editables=[],
            options={},
            pex_version="2.0",
            size=len(payload),
            sha256=sha256_file(tmp / "a.pex"),
            built_at=built_at,
        )
        return cache.publish(fp, tmp, record)


def test_get_rejects_missing_truncated_and_corrupt_artifacts(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    rec = _fake_build(cache, "f" * 64, "/v/bin/python", 1.0, b"0123456789")
    assert cache.get(rec.fingerprint) == rec
    rec.path.write_bytes(b"9123456789")  # same size, other bytes: only the sha256 notices
    assert cache.get(rec.fingerprint) is not None
    assert cache.get(rec.fingerprint, verify=True) is None
    rec.path.write_bytes(b"01234")  # truncated
    assert cache.get(rec.fingerprint) is None
    rec.path.unlink()
    assert cache.get(rec.fingerprint) is None
    (rec.path.parent / "build.json").write_text("{not json")
    assert cache.get(rec.fingerprint) is None
    assert cache.list() == []
    assert cache.get("0" * 64) is None


def test_latest_for_list_remove_and_prune(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    a_old = _fake_build(cache, "a" * 64, "/venvs/a/bin/python", 100.0)
    a_new = _fake_build(cache, "b" * 64, "/venvs/a/bin/python", 200.0)
    b = _fake_build(cache, "c" * 64, "/venvs/b/bin/python", 150.0)
    assert [r.fingerprint for r in cache.list()] == [
        a_new.fingerprint,
        b.fingerprint,
        a_old.fingerprint,
    ]
    assert cache.latest_for("/venvs/a/bin/python").fingerprint == a_new.fingerprint
    assert cache.latest_for("/venvs/a").fingerprint == a_new.fingerprint  # by prefix
    assert cache.latest_for("/venvs/zzz/bin/python") is None
    # An abandoned temporary folder (its lock is free) is swept by prune.
    (cache.tmp_dir / ("d" * 64 + ".123.abc")).mkdir(parents=True)
    removed = cache.prune(keep=1)
    assert removed == [a_old.fingerprint]
    assert {r.fingerprint for r in cache.list()} == {a_new.fingerprint, b.fingerprint}
    assert list(cache.tmp_dir.iterdir()) == []
    assert cache.remove(b.fingerprint)
    assert not cache.remove(b.fingerprint)
    assert cache.prune(keep=0) == [a_new.fingerprint]
    assert cache.list() == []


def test_default_root_follows_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PEXLAB_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert Cache().root == tmp_path / "xdg" / "pexlab"
    monkeypatch.setenv("PEXLAB_CACHE_DIR", str(tmp_path / "explicit"))
    assert Cache().root == tmp_path / "explicit"
