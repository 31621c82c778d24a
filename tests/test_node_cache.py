"""pexlab.nodecache.upkeep without Spark: the PEX's own launcher picks the node cache (a real PEX run
by a real interpreter, as an executor would), and eviction on a real filesystem with real
processes in /proc."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pexlab import nodecache as node_cache
from pexlab.build.cache import BuildRecord, Cache
from pexlab.nodecache import upkeep
from pexlab.spark import PexlabSparkError, validate_master
from pexlab.spark.executor_start import failed_executor, misplaced, worker_stderr

WHERE = "import os, sys; print(sys.prefix); print(os.environ.get('PEXLAB_NODE_ENV', ''))"


def venvs_in(folder: Path) -> list[str]:
    """Every venv (a folder with pyvenv.cfg) below `folder`, symlinks not followed."""
    return sorted(os.path.realpath(d) for d, _, files in os.walk(folder) if "pyvenv.cfg" in files)


def _run(pex: Path, cwd: Path, **env: str) -> tuple[str, str]:
    """Start the PEX through its launcher with no PEX_ROOT set (unless given), like Spark."""
    full = {"PATH": os.environ["PATH"], **env}
    proc = subprocess.run(
        [str(pex), "-c", WHERE], capture_output=True, text=True, env=full, cwd=cwd, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    prefix, node_env = proc.stdout.splitlines()[-2:]
    return os.path.realpath(prefix), node_env


def test_launcher_uses_a_per_user_node_cache_reused_by_later_runs(
    built: tuple[BuildRecord, Cache], tmp_path: Path
) -> None:
    record, _ = built
    eid = node_cache.env_id(record.fingerprint)
    home = tmp_path / "home"
    home.mkdir()
    work1, work2 = tmp_path / "app-1", tmp_path / "app-2"
    work1.mkdir()
    work2.mkdir()
    prefix, node_env = _run(record.path, work1, HOME=str(home))
    env_dir = home / ".cache" / "pexlab" / "node-cache" / "envs" / eid
    assert node_env == str(env_dir)
    assert prefix.startswith(str(env_dir.resolve()) + os.sep), prefix
    venv_inode = os.stat(prefix).st_ino
    used = (env_dir / upkeep.USED_FILE).stat().st_mtime_ns
    # A later "application" (another work dir) starts the same venv: no new extraction.
    time.sleep(0.01)
    prefix2, _ = _run(record.path, work2, HOME=str(home))
    assert prefix2 == prefix
    assert os.stat(prefix2).st_ino == venv_inode
    assert venvs_in(env_dir) == [prefix], "one venv for one environment"
    assert (env_dir / upkeep.USED_FILE).stat().st_mtime_ns >= used
    assert not (work1 / ".pex").exists()
    assert not (work2 / ".pex").exists()


def test_launcher_falls_back_when_home_and_tmp_are_not_writable(
    built: tuple[BuildRecord, Cache], tmp_path: Path
) -> None:
    record, _ = built
    eid = node_cache.env_id(record.fingerprint)
    # A regular file as HOME / TMPDIR: nothing can be created below it, not even by root.
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    prefix, node_env = _run(record.path, work, HOME=str(blocker), TMPDIR=str(tmpdir))
    root = tmpdir / f"pexlab-{os.getuid()}"
    assert node_env == str(root / "envs" / eid)
    assert prefix.startswith(str(root.resolve()) + os.sep)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700, "per-user folder in a shared tmp"

    # Neither home nor tmp: the executor's work dir, as before the node cache.
    prefix, node_env = _run(record.path, work, HOME=str(blocker), TMPDIR=str(blocker))
    assert node_env == "./.pex"
    assert prefix.startswith(str((work / ".pex").resolve()) + os.sep)

    # The user's PEX_ROOT always wins; the launcher then leaves everything to pex.
    mine = tmp_path / "my-pex-root"
    home = tmp_path / "home"
    prefix, node_env = _run(record.path, work, HOME=str(home), PEX_ROOT=str(mine))
    assert node_env == ""
    assert prefix.startswith(str(mine.resolve()) + os.sep)
    assert not (home / ".cache" / "pexlab").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a folder owned by another user")
def test_launcher_skips_a_tmp_folder_owned_by_someone_else(
    built: tuple[BuildRecord, Cache], tmp_path: Path
) -> None:
    record, _ = built
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    tmpdir = tmp_path / "tmp"
    planted = tmpdir / f"pexlab-{os.getuid()}"
    planted.mkdir(parents=True)
    planted.chmod(0o777)
    os.chown(planted, 65534, 65534)  # another user made "our" folder first
    work = tmp_path / "work"
    work.mkdir()
    prefix, node_env = _run(record.path, work, HOME=str(blocker), TMPDIR=str(tmpdir))
    assert node_env == "./.pex"
    assert prefix.startswith(str((work / ".pex").resolve()))


# ---- eviction ----------------------------------------------------------------------------------


def _fake_env(root: Path, eid: str, mib: int, age: float) -> Path:
    d = root / "envs" / eid
    (d / "venvs").mkdir(parents=True)
    (d / "venvs" / "blob").write_bytes(os.urandom(mib << 20))
    used = d / upkeep.USED_FILE
    used.write_text("")
    when = time.time() - age
    os.utime(used, (when, when))
    return d


def test_evicts_least_recently_used_until_under_the_cap(tmp_path: Path) -> None:
    root = tmp_path / "node-cache"
    old = _fake_env(root, "aaaa", 1, age=3000)
    mid = _fake_env(root, "bbbb", 1, age=2000)
    new = _fake_env(root, "cccc", 1, age=1000)
    sizes = {e.eid: e.size for e in upkeep.scan(str(root))}
    assert all(s >= 1 << 20 for s in sizes.values())
    cap = sizes["bbbb"] + sizes["cccc"] + 1000
    report = upkeep.evict(str(root), cap, grace=60)
    assert report.evicted == ["aaaa"]
    assert report.total <= cap
    assert not old.exists()
    assert mid.exists()
    assert new.exists()
    assert not [p for p in root.iterdir() if p.name.startswith(".trash-")]
    # Under the cap now: nothing more goes.
    assert upkeep.evict(str(root), cap, grace=60).evicted == []


def test_never_evicts_an_environment_a_running_process_uses(tmp_path: Path) -> None:
    root = tmp_path / "node-cache"
    busy = _fake_env(root, "aaaa", 1, age=3000)
    idle = _fake_env(root, "bbbb", 1, age=2000)
    recent = _fake_env(root, "cccc", 1, age=5)  # an executor between sh and python
    # A live interpreter started by the launcher carries its environment in its environ block.
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        env={**os.environ, node_cache.ENV_VAR: str(busy)},
    )
    try:
        assert upkeep.envs_in_use(str(root)) == {"aaaa"}
        report = upkeep.evict(str(root), 0, grace=60)
        assert report.evicted == ["bbbb"]
        assert set(report.kept_in_use or []) == {"aaaa", "cccc"}
        assert busy.exists()
        assert recent.exists()
        assert not idle.exists()
    finally:
        proc.kill()
        proc.wait()
    # Once the process is gone, the same call evicts it (the recent one still has its grace).
    assert upkeep.evict(str(root), 0, grace=60).evicted == ["aaaa"]


def test_without_proc_nothing_is_evicted(tmp_path: Path) -> None:
    root = tmp_path / "node-cache"
    env = _fake_env(root, "aaaa", 1, age=3000)
    report = upkeep.evict(str(root), 0, grace=0, proc=str(tmp_path / "no-proc"))
    assert report.evicted == []
    assert "no /proc" in report.note
    assert env.exists()


def test_maintain_only_acts_inside_a_node_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(node_cache.ENV_VAR, "./.pex")
    assert upkeep.maintain(0).root is None
    root = tmp_path / "nc"
    mine = _fake_env(root, "mine", 1, age=9000)
    other = _fake_env(root, "othr", 1, age=10)
    monkeypatch.setenv(node_cache.ENV_VAR, str(mine))
    report = upkeep.maintain(0, grace=0)
    assert report.evicted == ["othr"]
    assert mine.exists()
    assert not other.exists()
    assert (mine / upkeep.SIZE_FILE).read_text().isdigit()


def test_sizes_and_master_urls() -> None:
    assert node_cache.parse_size("10g") == 10 << 30
    assert node_cache.parse_size("512m") == 512 << 20
    assert node_cache.parse_size("2048") == 2048
    assert node_cache.parse_size("1.5GiB") == 3 << 29
    with pytest.raises(node_cache.NodeCacheError, match="not a size"):
        node_cache.parse_size("lots")
    for ok in ("local[*]", "spark://h:7077", "spark://a:1,b:2", "yarn", "k8s://https://a:6443"):
        assert validate_master(ok) == ok
    with pytest.raises(PexlabSparkError, match=r"Did you mean spark://127\.0\.0\.1:7077"):
        validate_master("sprak://127.0.0.1:7077")
    with pytest.raises(PexlabSparkError, match="is not a Spark master URL"):
        validate_master("127.0.0.1:7077")


def test_preamble_refuses_odd_ids_and_needs_an_sh_launcher() -> None:
    with pytest.raises(node_cache.LauncherError):
        node_cache.sh_preamble("../x")
    with pytest.raises(node_cache.LauncherError, match="--sh-boot"):
        node_cache.with_preamble(b"#!/usr/bin/env python3.11\n", "abcd")


def test_spark_failure_text_names_the_executor() -> None:
    # The shape of a real failure (abridged from a standalone run whose PEX found no python).
    text = (
        "Job aborted due to stage failure: Task 0 in stage 0.0 failed 4 times, most recent "
        "failure: Lost task 0.3 in stage 0.0 (TID 3) (127.0.0.1 executor 1): "
        "org.apache.spark.SparkException: Error from python worker:\n"
        "  Failed to find any of these python binaries on the PATH:\n  python3.11\n"
        "PYTHONPATH was:\n  /x/pyspark.zip\n"
    )
    assert failed_executor(text) == ("127.0.0.1", "1")
    assert worker_stderr(text)[:2] == [
        "Failed to find any of these python binaries on the PATH:",
        "python3.11",
    ]
    rows = [
        {"host": "n1", "cwd": "/w/app-1/0", "prefix": "/tmp/pex-root.x/venvs/a", "node_env": ""},
        {"host": "n2", "cwd": "/w/app-1/1", "prefix": "/mine/venvs/a", "node_env": ""},
    ]
    notes = misplaced(rows, "/mine")
    assert len(notes) == 1
    assert "n1" in notes[0]
    assert "not writable" in notes[0]
