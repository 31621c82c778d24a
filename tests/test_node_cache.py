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
from buildenv import offline
from venvs import VenvFactory, VenvSpec

from pexlab import nodecache as node_cache
from pexlab.build.cache import BuildRecord, Cache
from pexlab.build.options import BuildOptions
from pexlab.build.pex import build_pex
from pexlab.environment.interpreter import inspect_interpreter
from pexlab.nodecache import upkeep
from pexlab.spark import PexlabSparkError, validate_master
from pexlab.spark.executor_start import (
    failed_executor,
    first_starts,
    make_probe,
    misplaced,
    worker_stderr,
)

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
    root = home / ".cache" / "pexlab" / "node-cache"
    env_dir = root / "envs" / eid
    assert node_env == str(env_dir)
    # The venv is in the user's one PEX_ROOT, named by the PEX's hash, which the record keeps.
    pex_hash = (env_dir / upkeep.PEX_HASH_FILE).read_text().strip()
    assert upkeep.pex_dirs(str(root), pex_hash)
    assert prefix.startswith(str((root / upkeep.PEX_DIR / "venvs").resolve()) + os.sep), prefix
    assert pex_hash in prefix.split(os.sep)
    venv_inode = os.stat(prefix).st_ino
    used = (env_dir / upkeep.USED_FILE).stat().st_mtime_ns
    # A later "application" (another work dir) starts the same venv: no new extraction.
    time.sleep(0.01)
    prefix2, _ = _run(record.path, work2, HOME=str(home))
    assert prefix2 == prefix
    assert os.stat(prefix2).st_ino == venv_inode
    assert venvs_in(root) == [prefix], "one venv for one environment"
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
    assert prefix.startswith(str((root / upkeep.PEX_DIR).resolve()) + os.sep)
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


# ---- layers: one shared PEX_ROOT, pex's installed wheels shared by environments --------------


def _fake_layer(root: Path, name: str, mib: int, age: float = 3000) -> Path:
    layer = root / upkeep.PEX_DIR / "installed_wheels" / "3" / name
    pkg = layer / f"{name}-1.0-py3-none-any.whl" / name
    pkg.mkdir(parents=True)
    (pkg / "blob").write_bytes(os.urandom(mib << 20))
    when = time.time() - age
    os.utime(layer, (when, when))
    return layer


def _fake_shared_env(root: Path, eid: str, pex_hash: str, layers: list[Path], age: float) -> Path:
    """An environment as the launcher and pex leave it: a record in envs/, a venv of symlinks
    into the layers, pex's short-path link to the venv."""
    env = root / "envs" / eid
    env.mkdir(parents=True)
    (env / upkeep.PEX_HASH_FILE).write_text(pex_hash + "\n")
    venv = root / upkeep.PEX_DIR / "venvs" / "4" / pex_hash / "interp"
    site = venv / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    for layer in layers:
        (wheel,) = layer.iterdir()
        (site / layer.name).symlink_to(os.path.relpath(wheel / layer.name, site))
    short = root / upkeep.PEX_DIR / "venvs" / "4" / "s" / pex_hash[:8]
    short.mkdir(parents=True)
    (short / "venv").symlink_to(f"../../{pex_hash}/interp")
    used = env / upkeep.USED_FILE
    used.write_text("")
    when = time.time() - age
    os.utime(used, (when, when))
    return venv


def test_eviction_removes_a_layer_with_its_last_environment(tmp_path: Path) -> None:
    root = tmp_path / "nc"
    shared = _fake_layer(root, "shared", 1)
    only_a = _fake_layer(root, "onlya", 1)
    only_b = _fake_layer(root, "onlyb", 1)
    orphan = _fake_layer(root, "orphan", 1)  # left by an environment evicted earlier
    fresh = _fake_layer(root, "fresh", 1, age=1)  # just unpacked for a venv to come
    venv_a = _fake_shared_env(root, "aaaa", "a" * 40, [shared, only_a], age=3000)
    venv_b = _fake_shared_env(root, "bbbb", "b" * 40, [shared, only_b], age=2000)
    assert upkeep.linked_layers(str(root), str(venv_a)) == {str(shared), str(only_a)}
    sizes = upkeep.layers(str(root))
    assert all(v >= 1 << 20 for v in sizes.values()), sizes
    # Room for B and its layers (and the fresh one), not for A too.
    cap = sum(sizes[str(x)] for x in (shared, only_b, fresh)) + (256 << 10)
    report = upkeep.evict(str(root), cap, grace=60)
    assert report.evicted == ["aaaa"], report
    assert not orphan.exists()
    assert not only_a.exists()
    assert not venv_a.exists()
    assert not (root / "envs" / "aaaa").exists()
    assert not (root / upkeep.PEX_DIR / "venvs" / "4" / "s" / ("a" * 8)).exists()
    # B, and every layer it links, stay whole; so does a layer within its grace.
    for kept in (shared, only_b, fresh, venv_b, root / "envs" / "bbbb"):
        assert kept.exists(), kept
    assert all(
        p.resolve().exists() for p in (venv_b / "lib" / "python3.11" / "site-packages").iterdir()
    )
    assert report.total <= cap
    assert not [p for p in root.iterdir() if p.name.startswith(".trash-")]


def test_first_start_counts_the_layers_that_start_unpacked(tmp_path: Path) -> None:
    root = tmp_path / "nc"
    old = _fake_layer(root, "old", 0, age=3000)  # on the node before
    new = _fake_layer(root, "new", 0, age=0)
    _fake_shared_env(root, "aaaa", "a" * 40, [old, new], age=0)
    env = root / "envs" / "aaaa"
    work = tmp_path / "app-1" / "0"
    work.mkdir(parents=True)
    (env / upkeep.FIRST_START_FILE).write_text(f"{work}\n")
    os.utime(env / upkeep.FIRST_START_FILE, (time.time() - 5, time.time() - 5))
    assert upkeep.first_start(str(env), str(work)) == 1
    # Any other work dir is a later start (or another executor of the same start).
    assert upkeep.first_start(str(env), str(tmp_path)) is None
    rows = [
        {"host": "n1", "unpacked_layers": "1"},
        {"host": "n1"},
        {"host": "n2"},
    ]
    (note,) = first_starts(rows)
    assert note.startswith("first start on 1 of 2 node(s): 1 new layer(s)")
    assert first_starts([{"host": "n1"}]) == []


def test_records_sharing_one_venv_keep_it_until_the_last_goes(tmp_path: Path) -> None:
    """Two PEXes that differ only in what pexlab adds after pex (deflate level, bytecode) have
    one pex_hash, so one venv: evicting one record must not take the other's venv."""
    root = tmp_path / "nc"
    layer = _fake_layer(root, "x", 1)
    venv = _fake_shared_env(root, "aaaa", "c" * 40, [layer], age=3000)
    env_b = root / "envs" / "bbbb"
    env_b.mkdir()
    (env_b / upkeep.PEX_HASH_FILE).write_text("c" * 40)
    (env_b / upkeep.USED_FILE).write_text("")
    os.utime(env_b / upkeep.USED_FILE, (time.time() - 2000, time.time() - 2000))
    sizes = {e.eid: e.size for e in upkeep.scan(str(root))}
    cap = max(sizes.values()) + upkeep.layers(str(root))[str(layer)] + (64 << 10)
    report = upkeep.evict(str(root), cap, grace=60)
    assert report.evicted == [], "the venv is counted once: both records fit"
    report = upkeep.evict(str(root), 0, keep=("bbbb",), grace=60)
    assert report.evicted == ["aaaa"]
    assert venv.exists(), "bbbb still names it"
    assert layer.exists()
    assert upkeep.evict(str(root), 0, grace=60).evicted == ["bbbb"]
    assert not venv.exists()
    assert not layer.exists()


def test_eviction_keeps_the_layers_of_a_running_environment(tmp_path: Path) -> None:
    root = tmp_path / "nc"
    shared = _fake_layer(root, "shared", 1)
    mine = _fake_layer(root, "mine", 1)
    venv = _fake_shared_env(root, "aaaa", "a" * 40, [shared, mine], age=3000)
    _fake_shared_env(root, "bbbb", "b" * 40, [shared], age=2000)
    # A process running the venv's python (seen through its command line).
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", str(venv / "bin" / "python")]
    )
    try:
        assert upkeep.envs_in_use(str(root)) == {"aaaa"}
        report = upkeep.evict(str(root), 0, grace=0)
        assert report.evicted == ["bbbb"]
        assert "aaaa" in report.kept_in_use
        for kept in (shared, mine, venv):
            assert kept.exists(), kept
    finally:
        proc.kill()
        proc.wait()


def test_eviction_waits_while_pex_installs(tmp_path: Path) -> None:
    import fcntl

    root = tmp_path / "nc"
    layer = _fake_layer(root, "x", 1)
    _fake_shared_env(root, "aaaa", "a" * 40, [layer], age=3000)
    # pex holds its cache lock shared while it unpacks or assembles (pex.cache.access).
    with open(root / upkeep.PEX_DIR / "access.lck", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
        report = upkeep.evict(str(root), 0, grace=0)
        assert report.evicted == []
        assert "pex is installing" in report.note
    assert upkeep.evict(str(root), 0, grace=0).evicted == ["aaaa"]
    assert not layer.exists()


@pytest.fixture(scope="module")
def two_pexes(
    venv_factory: VenvFactory, tmp_path_factory: pytest.TempPathFactory
) -> tuple[BuildRecord, BuildRecord]:
    """Real PEXes of two real venvs one package apart: six; six and tabulate."""
    cache = Cache(tmp_path_factory.mktemp("two-pexes"))
    small = venv_factory.get(VenvSpec(requirements=("six",)))
    big = venv_factory.get(VenvSpec(requirements=("six", "tabulate")))
    with offline():
        pex_a = build_pex(inspect_interpreter(small.python), BuildOptions(), cache).record
        pex_b = build_pex(inspect_interpreter(big.python), BuildOptions(), cache).record
    return pex_a, pex_b


def test_two_real_environments_share_layers_on_a_node(
    two_pexes: tuple[BuildRecord, BuildRecord], tmp_path: Path
) -> None:
    """Both started by their launchers with one HOME (one node): the second unpacks only the
    package the first lacks, and evicting the first leaves the second whole."""
    pex_a, pex_b = two_pexes
    home = tmp_path / "home"
    home.mkdir()
    root = home / ".cache" / "pexlab" / "node-cache"
    _run(pex_a.path, tmp_path, HOME=str(home))
    first = {p: p.stat().st_ino for p in map(Path, upkeep.layers(str(root)))}
    prefix_b, env_b = _run(pex_b.path, tmp_path, HOME=str(home))
    second = {p: p.stat().st_ino for p in map(Path, upkeep.layers(str(root)))}
    added = set(second) - set(first)
    # The layers the first environment unpacked are used as they are; one is new.
    assert all(second[p] == ino for p, ino in first.items())
    (new_layer,) = added
    assert any("tabulate" in w.name for w in new_layer.iterdir()), "only tabulate is new"
    # A's venv goes; B's stays whole and starts as before.
    report = upkeep.evict(str(root), 0, keep=(Path(env_b).name,), grace=0)
    assert report.evicted == [node_cache.env_id(pex_a.fingerprint)]
    assert set(upkeep.layers(str(root))) == upkeep.linked_layers(str(root), prefix_b)
    assert set(map(Path, upkeep.layers(str(root)))) == set(second), "A shared all it had with B"
    out = subprocess.run(
        [str(pex_b.path), "-c", "import six, tabulate; print(tabulate.__file__)"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "HOME": str(home)},
        cwd=tmp_path,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert str(new_layer.name) in os.path.realpath(out.stdout.strip())


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
        node_cache.sh_preamble("../x", "ab12")
    with pytest.raises(node_cache.LauncherError):
        node_cache.sh_preamble("ab12", "$(reboot)")
    with pytest.raises(node_cache.LauncherError, match="--sh-boot"):
        node_cache.with_preamble(b"#!/usr/bin/env python3.11\n", "abcd", "ef01")


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
    # In the node cache: the venv belongs under the shared PEX_ROOT the launcher chose.
    nc = "/h/.cache/pexlab/node-cache"
    rows = [
        {"host": "n1", "cwd": "/w/0", "prefix": f"{nc}/pex/venvs/4/x/y", "node_env": f"{nc}/envs/e"}
    ]
    assert misplaced([{**rows[0], "node_pex_root": f"{nc}/pex"}], None) == []
    moved = {**rows[0], "node_pex_root": f"{nc}/pex", "prefix": "/tmp/tmpx/venvs/4/x/y"}
    assert len(misplaced([moved], None)) == 1


def test_the_probe_without_pex_root_is_not_misplaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pex runs the venv with PEX_* scrubbed: no PEX_ROOT must not mean "the work dir"."""
    root = tmp_path / "node-cache"
    (root / "pex" / "venvs").mkdir(parents=True)
    (root / "envs" / "e").mkdir(parents=True)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv(node_cache.ENV_VAR, str(root / "envs" / "e"))
    monkeypatch.delenv("PEX_ROOT", raising=False)
    monkeypatch.chdir(work)
    row = make_probe(None)(0)
    # The launcher's PEX_ROOT: <root>/pex beside <root>/envs/<id>.
    assert row["node_pex_root"] == os.path.realpath(root / "pex")
    in_cache = {**row, "prefix": os.path.realpath(root / "pex" / "venvs" / "4" / "x" / "y")}
    assert misplaced([in_cache], None) == []
    elsewhere = {**row, "prefix": "/tmp/tmpx/venvs/4/x/y"}
    assert len(misplaced([elsewhere], None)) == 1
    monkeypatch.setenv("PEX_ROOT", str(root / "pex"))
    assert make_probe(None)(0)["node_pex_root"] == os.path.realpath(root / "pex")


def test_a_killed_first_start_leaves_no_half_layer(
    two_pexes: tuple[BuildRecord, BuildRecord], tmp_path: Path
) -> None:
    """An executor killed while pex unpacks (at several moments of its first start): the next
    start on that node succeeds and imports from whole layers."""
    _, pex_b = two_pexes
    for i, delay in enumerate((0.05, 0.15, 0.3, 0.6)):
        home = tmp_path / f"home-{i}"
        home.mkdir()
        env = {"PATH": os.environ["PATH"], "HOME": str(home)}
        proc = subprocess.Popen(
            [str(pex_b.path), "-c", "import tabulate"],
            env=env,
            cwd=tmp_path,
            start_new_session=True,
        )
        time.sleep(delay)
        os.killpg(proc.pid, 9)
        proc.wait()
        prefix, _ = _run(pex_b.path, tmp_path, HOME=str(home))
        root = home / ".cache" / "pexlab" / "node-cache"
        linked = upkeep.linked_layers(str(root), prefix)
        wheels = {w.name.split("-")[0] for layer in map(Path, linked) for w in layer.iterdir()}
        assert {"six", "tabulate"} <= wheels, wheels
        assert set(upkeep.layers(str(root))) == linked, "no stray half layer left behind"


def _many_files_venv(venv: Path, count: int) -> None:
    """A venv whose one distribution has `count` data files, installed as pip would (RECORD)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = venv.glob("lib/python*/site-packages")
    data = site / "manyfiles" / "data"
    data.mkdir(parents=True)
    (site / "manyfiles" / "__init__.py").write_text("")
    for i in range(count):
        (data / f"{i}.txt").write_text("x")
    info = site / "manyfiles-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: manyfiles\nVersion: 1.0\n")
    (info / "WHEEL").write_text(
        "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    (info / "INSTALLER").write_text("pip\n")
    files = [f"manyfiles/data/{i}.txt,," for i in range(count)]
    files += ["manyfiles/__init__.py,,", *(f"{info.name}/{n},," for n in ("METADATA", "WHEEL"))]
    (info / "RECORD").write_text("\n".join([*files, f"{info.name}/RECORD,,", ""]))


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="zipimport reads ZIP64 from Python 3.13")
def test_a_zip64_pex_starts_although_zipimport_cannot_open_it(tmp_path: Path) -> None:
    """A PEX of more than 65,535 files is ZIP64, like any PEX over 4 GiB (PyTorch's): the
    launcher unpacks it with zipfile on the first start, and pex builds the venv from that."""
    venv = tmp_path / "venv"
    _many_files_venv(venv, 66_000)
    with offline():
        record = build_pex(
            inspect_interpreter(str(venv / "bin" / "python")), None, Cache(tmp_path / "c")
        ).record
    # Negative control: the PEX as Python itself would start it, without the launcher.
    plain = subprocess.run(
        [sys.executable, str(record.path), "-c", "pass"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert plain.returncode != 0
    assert "__main__" in plain.stderr
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    count = "import importlib.resources as r, sys; print(sys.prefix); print(len(list(r.files('manyfiles').joinpath('data').iterdir())))"

    def start() -> tuple[str, str, str]:
        proc = subprocess.run(
            [str(record.path), "-c", count],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        prefix, n = proc.stdout.split()[-2:]
        return prefix, n, proc.stderr

    prefix, n, said = start()
    assert n == "66000"
    assert "pexlab: unpacking" in said
    root = home / ".cache" / "pexlab" / "node-cache"
    pex_hash = next((root / "envs").iterdir()).joinpath(upkeep.PEX_HASH_FILE).read_text().strip()
    assert (root / upkeep.PEX_DIR / upkeep.UNZIPPED_DIR / pex_hash / "__main__.py").is_file()
    # The next start takes pex's fast path to the venv; the unpacked copy can go.
    prefix2, _, said = start()
    assert prefix2 == prefix
    assert "unpacking" not in said
    assert upkeep.drop_unpacked(str(root), grace=0) == [pex_hash]
    assert not (root / upkeep.PEX_DIR / upkeep.UNZIPPED_DIR / pex_hash).exists()
    prefix3, n, _ = start()
    assert (prefix3, n) == (prefix, "66000"), "the venv does not depend on the unpacked copy"


def _fake_native(root: Path, stem: str, age: float) -> Path:
    d = root / upkeep.NATIVE_DIR / stem
    (d / "pkg").mkdir(parents=True)
    (d / "pkg" / "_speed.so").write_bytes(os.urandom(1 << 20))
    used = d / upkeep.USED_FILE
    used.write_text("")
    when = time.time() - age
    os.utime(used, (when, when))
    return d


def test_unpacked_editable_zips_are_evicted_like_environments(tmp_path: Path) -> None:
    """`native/<zip stem>` folders (nodecache/native.py) share the cap and the LRU clock with
    environments, and one adopted after a live process of this cache started is never removed."""
    root = tmp_path / "node-cache"
    env = _fake_env(root, "aaaa", 1, age=4000)
    stale = _fake_native(root, "proj-0123456789ab", age=3000)  # older than every live process
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        env={**os.environ, node_cache.ENV_VAR: str(env)},
    )
    try:
        time.sleep(0.1)
        adopted = _fake_native(root, "proj-ba9876543210", age=0)  # touched by the live process
        oldest = upkeep.native_in_use(str(root))
        assert oldest is not None
        assert (stale / upkeep.USED_FILE).stat().st_mtime < oldest
        assert oldest <= (adopted / upkeep.USED_FILE).stat().st_mtime
        report = upkeep.evict(str(root), 0, grace=0)  # no grace: only the /proc rule keeps it
        assert report.evicted == ["native/proj-0123456789ab"], report
        assert set(report.kept_in_use) == {"aaaa", "native/proj-ba9876543210"}, report
        assert not stale.exists()
        assert adopted.exists()
        assert env.exists()
        assert not [p for p in root.iterdir() if p.name.startswith(".trash-")]
    finally:
        proc.kill()
        proc.wait()
    # No live process of this cache any more: both go, LRU first.
    assert upkeep.evict(str(root), 0, grace=0).evicted == ["aaaa", "native/proj-ba9876543210"]


def test_the_native_path_hook_touches_the_lru_clock(tmp_path: Path) -> None:
    """The path hook in the PEX marks each adoption, so eviction can tell recent use."""
    import zipfile

    from pexlab.nodecache import native

    src = native.write_sources(tmp_path / "hook")
    z = tmp_path / "proj-0123456789ab.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("proj/__init__.py", "X = 1\n")
        zf.writestr("proj/_speed.cpython-311-x86_64-linux-gnu.so", b"not really")
    env = tmp_path / "nc" / "envs" / "abcd"
    env.mkdir(parents=True)
    code = (
        f"import sys; sys.path.insert(0, {str(src)!r}); import {native.MODULE} as m; m.install();"
        f" sys.path.insert(0, {str(z)!r}); import proj; print(proj.__file__)"
    )
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-I", "-c", code],
            env={**os.environ, node_cache.ENV_VAR: str(env)},
            capture_output=True,
            text=True,
            check=True,
        )
    folder = tmp_path / "nc" / upkeep.NATIVE_DIR / "proj-0123456789ab"
    assert out.stdout.strip() == str(folder / "proj" / "__init__.py")
    assert time.time() - (folder / upkeep.USED_FILE).stat().st_mtime < 60
    assert [e.eid for e in upkeep.scan_native(str(tmp_path / "nc"))] == ["native/proj-0123456789ab"]
