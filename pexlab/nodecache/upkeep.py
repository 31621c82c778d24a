"""What runs on the nodes: the node cache's layout constants, its LRU eviction and its size
setting.  Shipped by value (cloudpickle) in the session probe, so it imports only the standard
library; see `pexlab.nodecache` for the design.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from typing import Any

ROOT_VAR = "PEXLAB_NODE_CACHE"  # node/admin override of <root>
ENV_VAR = "PEXLAB_NODE_ENV"  # set by the preamble: this interpreter's environment folder
MAX_SIZE_CONF = "spark.pexlab.nodeCache.maxSize"
DEFAULT_MAX_SIZE = "10g"
PEX_DIR = "pex"  # <root>/pex: the one PEX_ROOT of this user's environments on the node
UNZIPPED_DIR = "pexlab-unzipped"  # <PEX_ROOT>/pexlab-unzipped/<pex_hash>: a ZIP64 PEX, unpacked
PEX_HASH_FILE = ".pexlab-pex"
FIRST_START_FILE = ".pexlab-first-start"  # in envs/<id>: the work dir of the start that made it  # in envs/<id>: the PEX's pex_hash, which names its venv
SIZES_DIR = ".sizes"  # <root>/.sizes/<n>-<hash>: a layer's disk usage, measured once
USED_FILE = ".pexlab-used"
SIZE_FILE = ".pexlab-size"
LOCK_FILE = ".evict.lock"
# <root>/native/<zip stem>/: editable zips with compiled modules, unpacked by the path hook of
# pexlab.nodecache.native, which touches USED_FILE in the folder each time a process adopts it.
NATIVE_DIR = "native"
GRACE_SECONDS = 120.0
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


class NodeCacheError(ValueError):
    """A node-cache setting is malformed."""


def parse_size(text: str | int) -> int:
    """Bytes from `10g`, `512m`, `2048` (Spark's suffixes, powers of 1024)."""
    if isinstance(text, int):
        return text
    raw = str(text).strip().lower().removesuffix("ib").removesuffix("b") or "x"
    num, unit = (raw[:-1], raw[-1]) if raw[-1] in _UNITS else (raw, "")
    try:
        value = float(num)
    except ValueError:
        raise NodeCacheError(
            f"{MAX_SIZE_CONF}={text!r} is not a size: use e.g. 10g, 512m or a number of bytes."
        ) from None
    if value < 0:
        raise NodeCacheError(f"{MAX_SIZE_CONF}={text!r} must not be negative.")
    return int(value * _UNITS[unit])


# ---- on the node (shipped by value: standard library only) ------------------------------------


@dataclass
class CachedEnv:
    eid: str
    path: str
    last_used: float  # mtime of USED_FILE (0 if missing)
    size: int  # bytes on disk (recorded, or measured now), its layers not included
    # The PEX's pex_hash: its venv lives in the shared <root>/pex.  None: a folder that is its
    # own PEX_ROOT (PEXes built before layers were shared), evicted as a whole.
    pex_hash: str | None = None


def disk_usage(path: str) -> int:
    """Bytes on disk under `path` (st_blocks, symlinks not followed, hard links once)."""
    total = 0
    seen: set[tuple[int, int]] = set()
    stack = [path]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    if st.st_nlink > 1:
                        if (st.st_dev, st.st_ino) in seen:
                            continue
                        seen.add((st.st_dev, st.st_ino))
                    total += getattr(st, "st_blocks", 0) * 512 or st.st_size
        except OSError:
            continue
    return total


def _read_size(path: str) -> int | None:
    try:
        with open(os.path.join(path, SIZE_FILE)) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _last_used(path: str) -> float:
    try:
        return os.stat(os.path.join(path, USED_FILE)).st_mtime
    except OSError:
        try:
            return os.stat(path).st_mtime
        except OSError:
            return 0.0


def _read_hash(env_dir: str) -> str | None:
    try:
        with open(os.path.join(env_dir, PEX_HASH_FILE)) as f:
            value = f.read().strip()
    except OSError:
        return None
    return value if value.isalnum() else None


def _sharded(root: str, kind: str) -> list[tuple[str, str]]:
    """(name, path) of the real folders in pex's sharded layout `<PEX_ROOT>/<kind>/<n>/<name>`,
    leaving out pex's lock files, its atomic directories' work in progress (dot names) and the
    short-path links of `venvs/<n>/s`."""
    base = os.path.join(root, PEX_DIR, kind)
    out: list[tuple[str, str]] = []
    try:
        shards = sorted(os.listdir(base))
    except OSError:
        return out
    for shard in shards:
        try:
            names = sorted(os.listdir(os.path.join(base, shard)))
        except OSError:
            continue
        for name in names:
            path = os.path.join(base, shard, name)
            hidden = name == "s" or name.startswith(".")
            if not hidden and os.path.isdir(path) and not os.path.islink(path):
                out.append((name, path))
    return out


def pex_dirs(root: str, pex_hash: str) -> list[str]:
    """What pex made for one PEX in the shared PEX_ROOT: its venv and its unzipped copy (pex's
    layout: `venvs/<n>/<pex_hash>`, `unzipped_pexes/<n>/<pex_hash>`), and the launcher's
    unpacked copy of a ZIP64 PEX (`pexlab-unzipped/<pex_hash>`)."""
    out = []
    unpacked = os.path.join(root, PEX_DIR, UNZIPPED_DIR, pex_hash)
    if os.path.isdir(unpacked):
        out.append(unpacked)
    for kind in ("venvs", "unzipped_pexes"):
        out += [path for name, path in _sharded(root, kind) if name == pex_hash]
    return out


def _env_size(root: str, env_dir: str, pex_hash: str | None) -> tuple[int, bool]:
    """Bytes of one environment without its layers, and whether the number is final (its
    venv exists: pex is done with it)."""
    if pex_hash is None:
        return disk_usage(env_dir), True
    dirs = pex_dirs(root, pex_hash)
    return disk_usage(env_dir) + sum(disk_usage(d) for d in dirs), bool(dirs)


def record_env_size(root: str, env_dir: str) -> int:
    """Measure an environment and remember it in SIZE_FILE once its venv exists."""
    size, final = _env_size(root, env_dir, _read_hash(env_dir))
    if final:
        _write_number(os.path.join(env_dir, SIZE_FILE), size)
    return size


def _write_number(path: str, value: int) -> None:
    tmp = f"{path}.{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            f.write(str(value))
        os.replace(tmp, path)
    except OSError:
        pass


def scan(root: str) -> list[CachedEnv]:
    """Every environment under `root`, with its size (recorded, else measured)."""
    out = []
    envs = os.path.join(root, "envs")
    try:
        names = sorted(os.listdir(envs))
    except OSError:
        return []
    for name in names:
        path = os.path.join(envs, name)
        if not os.path.isdir(path) or os.path.islink(path):
            continue
        size = _read_size(path)
        if size is None:
            size = record_env_size(root, path)
        out.append(CachedEnv(name, path, _last_used(path), size, _read_hash(path)))
    return out


def scan_native(root: str) -> list[CachedEnv]:
    """Every unpacked editable zip under `root` (ids `native/<zip stem>`), sized likewise."""
    out = []
    parent = os.path.join(root, NATIVE_DIR)
    try:
        names = sorted(os.listdir(parent))
    except OSError:
        return []
    for name in names:
        path = os.path.join(parent, name)
        # Skip half-unpacked folders (`<name>.<pid>.tmp`): their writer renames them in place.
        if not os.path.isdir(path) or os.path.islink(path) or name.endswith(".tmp"):
            continue
        size = _read_size(path)
        if size is None:
            size = disk_usage(path)
            _write_number(os.path.join(path, SIZE_FILE), size)
        out.append(CachedEnv(f"{NATIVE_DIR}/{name}", path, _last_used(path), size))
    return out


# ---- layers: pex's installed wheels in the shared PEX_ROOT, one per distribution ------------


def layers(root: str) -> dict[str, int]:
    """Every layer (`<root>/pex/installed_wheels/<n>/<hash>`) and its bytes on disk, measured
    once per layer (its content never changes: the folder name is its hash)."""
    sizes = os.path.join(root, SIZES_DIR)
    out: dict[str, int] = {}
    for name, path in _sharded(root, "installed_wheels"):
        record = os.path.join(sizes, f"{os.path.basename(os.path.dirname(path))}-{name}")
        try:
            with open(record) as f:
                out[path] = int(f.read().strip())
            continue
        except (OSError, ValueError):
            pass
        out[path] = disk_usage(path)
        os.makedirs(sizes, exist_ok=True)
        _write_number(record, out[path])
    return out


def linked_layers(root: str, folder: str) -> set[str]:
    """The layers that the symlinks below `folder` (a venv pex assembled) point into."""
    wheels = os.path.realpath(os.path.join(root, PEX_DIR, "installed_wheels")) + os.sep
    base = os.path.join(root, PEX_DIR, "installed_wheels")
    out: set[str] = set()
    stack = [folder]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    if entry.is_symlink():
                        target = os.path.realpath(entry.path)
                        if target.startswith(wheels):
                            parts = target[len(wheels) :].split(os.sep)
                            if len(parts) >= 2:
                                out.add(os.path.join(base, parts[0], parts[1]))
                    elif entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue
    return out


def all_venvs(root: str) -> list[str]:
    """Every venv folder pex made in the shared PEX_ROOT (`venvs/<n>/<pex_hash>`)."""
    return [path for _, path in _sharded(root, "venvs")]


def _short_links_to(root: str, targets: list[str]) -> list[str]:
    """pex's short-path folders (`venvs/<n>/s/<short>/venv` -> a venv) that point into
    `targets`: left behind, they would dangle."""
    real = [os.path.realpath(t) + os.sep for t in targets]
    out: list[str] = []
    base = os.path.join(root, PEX_DIR, "venvs")
    try:
        shards = os.listdir(base)
    except OSError:
        return out
    for shard in shards:
        s_dir = os.path.join(base, shard, "s")
        try:
            shorts = os.listdir(s_dir)
        except OSError:
            continue
        for short in shorts:
            link = os.path.join(s_dir, short, "venv")
            target = os.path.realpath(link) + os.sep
            if any(target.startswith(r) for r in real) or not os.path.exists(link):
                out.append(os.path.join(s_dir, short))
    return out


def envs_in_use(
    root: str, proc: str = "/proc", envs: list[CachedEnv] | None = None
) -> set[str] | None:
    """Environment ids under `root` that a live process uses (None: no /proc to tell).

    A process uses an environment when its environment block names it in ENV_VAR (every
    interpreter the preamble starts, and the Python workers PySpark forks from it) or its
    command line runs something inside it.  Processes of other users are unreadable and
    cannot use this user's cache anyway.  `envs`: the caller's `scan(root)`, if it made one."""
    if not os.path.isdir(os.path.join(proc, "self")):
        return None
    prefix = os.path.join(os.path.realpath(root), "envs") + os.sep
    venvs = os.path.join(os.path.realpath(root), PEX_DIR, "venvs") + os.sep
    by_hash: dict[str, set[str]] = {}
    for e in scan(root) if envs is None else envs:
        if e.pex_hash:
            by_hash.setdefault(e.pex_hash, set()).add(e.eid)
    marker = f"{ENV_VAR}=".encode()
    used: set[str] = set()

    def note(path: str) -> None:
        real = os.path.realpath(path) if os.path.isabs(path) else path
        if real.startswith(prefix):
            used.add(real[len(prefix) :].split(os.sep, 1)[0])
        elif real.startswith(venvs):  # venvs/<n>/<pex_hash>/...: a shared-root environment
            parts = real[len(venvs) :].split(os.sep)
            if len(parts) >= 2:
                used.update(by_hash.get(parts[1], ()))

    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        for name in ("environ", "cmdline"):
            try:
                with open(os.path.join(proc, pid, name), "rb") as f:
                    blob = f.read()
            except OSError:
                continue
            for item in blob.split(b"\0"):
                if name == "environ":
                    if item.startswith(marker):
                        note(item[len(marker) :].decode(errors="replace"))
                elif item.startswith(b"/"):
                    note(item.decode(errors="replace"))
    return used


def _boot_time(proc: str) -> float | None:
    try:
        with open(os.path.join(proc, "stat")) as f:
            for line in f:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _started(proc: str, pid: str, boot: float) -> float | None:
    """When process `pid` started (epoch seconds), from field 22 of /proc/<pid>/stat."""
    try:
        with open(os.path.join(proc, pid, "stat")) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def native_in_use(root: str, proc: str = "/proc") -> float | None:
    """The start time of the oldest live process running from this node cache (None: no such
    process; `float("-inf")` when there is /proc but a start time could not be read).

    An unpacked zip is adopted by a process when its path hook runs, which touches the folder's
    USED_FILE; a process that adopted it has started before that touch.  So every folder last
    touched before the oldest live process of this cache started is used by none of them (a
    process that adopts it later unpacks it again from the zip in its work dir); one touched
    since may be in use.  Which processes run from this cache is told as for environments (see
    `envs_in_use`).  /proc's boot time is whole seconds, so start times may read up to a second
    early: that only keeps more folders."""
    boot = _boot_time(proc)
    prefix = os.path.join(os.path.realpath(root), "envs") + os.sep
    marker = f"{ENV_VAR}=".encode()
    oldest: float | None = None
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        try:
            with open(os.path.join(proc, pid, "environ"), "rb") as f:
                blob = f.read()
        except OSError:
            continue
        for item in blob.split(b"\0"):
            if not item.startswith(marker):
                continue
            path = item[len(marker) :].decode(errors="replace")
            if not os.path.isabs(path) or not os.path.realpath(path).startswith(prefix):
                continue
            start = _started(proc, pid, boot) if boot is not None else None
            start = float("-inf") if start is None else start
            oldest = start if oldest is None else min(oldest, start)
    return oldest


@dataclass
class Maintenance:
    """What one `maintain` call found and did (returned by the session probe for the report)."""

    root: str | None
    env: str | None  # this interpreter's environment folder
    total: int = 0  # bytes in the cache after eviction
    max_bytes: int = 0
    evicted: list[str] = field(default_factory=list)
    kept_in_use: list[str] = field(default_factory=list)
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def root_of(env_dir: str) -> str | None:
    """The cache root an environment folder belongs to (None if it is not a node-cache one)."""
    parent = os.path.dirname(os.path.normpath(env_dir))
    if not os.path.isabs(env_dir) or os.path.basename(parent) != "envs":
        return None
    return os.path.dirname(parent)


def _pex_delete_lock(root: str) -> Any:
    """pex's own cache lock (`<PEX_ROOT>/access.lck`), taken exclusively without waiting: every
    pex process holds it shared while it installs or assembles a venv, so holding it makes
    deleting from the shared PEX_ROOT safe.  None when pex is busy on this node."""
    import fcntl

    path = os.path.join(root, PEX_DIR, "access.lck")
    try:
        f = open(path, "a")  # noqa: SIM115 (the caller closes it)
    except OSError:
        return None
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return None
    return f


def _trash(root: str, path: str, tag: str) -> str | None:
    """Move `path` out of sight (same filesystem, atomic) before deleting it."""
    trash = os.path.join(root, f".trash-{tag}-{os.getpid()}-{len(os.listdir(root))}")
    try:
        os.rename(path, trash)
    except OSError:
        return None
    return trash


def evict(
    root: str,
    max_bytes: int,
    keep: tuple[str, ...] = (),
    grace: float = GRACE_SECONDS,
    proc: str = "/proc",
    now: float | None = None,
) -> Maintenance:
    """Remove least recently used environments and unpacked editable zips under `root` until
    it fits in `max_bytes`, never one in `keep`, in use (see `envs_in_use`, `native_in_use`),
    or touched within `grace` seconds; with each environment, the layers no remaining one
    links (see `pexlab.nodecache`)."""
    import fcntl

    report = Maintenance(root=root, env=None, max_bytes=max_bytes, evicted=[], kept_in_use=[])
    try:
        lock = open(os.path.join(root, LOCK_FILE), "a")  # noqa: SIM115 (closed below)
    except OSError as exc:
        report.note = f"cannot lock {root}: {exc}"
        return report
    pex_lock = None
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                report.note = "another executor is evicting"
                return report
            raise
        for stale in os.listdir(root):  # left by an evictor that died mid-delete
            if stale.startswith(".trash-"):
                shutil.rmtree(os.path.join(root, stale), ignore_errors=True)
        envs = scan(root) + scan_native(root)
        layer_sizes = layers(root)
        # Records of PEXes that differ only in what pexlab adds after pex (deflate level,
        # bytecode, launcher) share one pex_hash, so one venv: count it once per hash.
        venv_size: dict[str, int] = {}
        for e in envs:
            if e.pex_hash:
                venv_size[e.pex_hash] = max(venv_size.get(e.pex_hash, 0), e.size)
        report.total = (
            sum(e.size for e in envs if not e.pex_hash)
            + sum(venv_size.values())
            + sum(layer_sizes.values())
        )
        if report.total <= max_bytes:
            return report
        busy = envs_in_use(root, proc, envs)
        if busy is None:
            report.note = "no /proc: cannot tell which environments are in use, none evicted"
            return report
        if layer_sizes or os.path.isdir(os.path.join(root, PEX_DIR)):
            pex_lock = _pex_delete_lock(root)
            if pex_lock is None:
                report.note = "pex is installing an environment on this node: none evicted"
                return report
        oldest = native_in_use(root, proc)
        now = time.time() if now is None else now
        owned = {d for e in envs if e.pex_hash for d in pex_dirs(root, e.pex_hash)}
        links = {e.eid: _links_of(root, e) for e in envs if e.pex_hash}
        left = {e.eid: e.pex_hash for e in envs if e.pex_hash}
        # A venv no record names (its record evicted by hand, a PEX without the launcher
        # pointed here): its layers stay.
        strays: set[str] = set()
        for venv in all_venvs(root):
            if venv not in owned:
                strays |= linked_layers(root, venv)

        def drop_unlinked() -> None:
            linked = strays.union(*links.values())
            for layer, size in sorted(layer_sizes.items()):
                if layer in linked or now - _mtime(layer) < grace:
                    continue  # the grace: a layer pex just unpacked for a venv to come
                trash = _trash(root, layer, "layer")
                if trash is not None:
                    shutil.rmtree(trash, ignore_errors=True)
                    del layer_sizes[layer]
                    report.total -= size

        drop_unlinked()  # left by environments evicted earlier or by interrupted installs
        for env in sorted(envs, key=lambda e: e.last_used):
            if report.total <= max_bytes:
                break
            native = env.eid.startswith(NATIVE_DIR + "/")
            adopted = native and oldest is not None and env.last_used >= oldest
            if env.eid in keep or env.eid in busy or adopted or now - env.last_used < grace:
                report.kept_in_use.append(env.eid)
                continue
            trash = _trash(root, env.path, env.eid.replace("/", "-"))
            if trash is None:
                continue
            if _last_used(trash) != env.last_used and not os.path.exists(env.path):
                # An executor started it between our scan and the rename: give it back.
                os.rename(trash, env.path)
                report.kept_in_use.append(env.eid)
                continue
            freed = env.size
            if env.pex_hash:
                left.pop(env.eid, None)
                if env.pex_hash in left.values():
                    freed = 0  # another record's venv too: it stays
                else:
                    freed = venv_size.get(env.pex_hash, env.size)
                    dirs = pex_dirs(root, env.pex_hash)
                    for d in [*_short_links_to(root, dirs), *dirs]:
                        moved = _trash(root, d, env.eid)
                        if moved is not None:
                            shutil.rmtree(moved, ignore_errors=True)
            shutil.rmtree(trash, ignore_errors=True)
            report.total -= freed
            report.evicted.append(env.eid)
            links.pop(env.eid, None)
            drop_unlinked()
        return report
    finally:
        if pex_lock is not None:
            pex_lock.close()
        lock.close()


def _links_of(root: str, env: CachedEnv) -> set[str]:
    assert env.pex_hash is not None
    return set().union(*(linked_layers(root, d) for d in pex_dirs(root, env.pex_hash)))


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def first_start(env_dir: str, cwd: str) -> int | None:
    """When the process in work dir `cwd` belongs to the start that made this environment's
    venv (the launcher records that start's work dir): how many layers it unpacked, i.e. the
    venv's layers not older than that start.  None for any later start."""
    record = os.path.join(env_dir, FIRST_START_FILE)
    try:
        with open(record) as f:
            made_in = f.read().strip()
        since = os.stat(record).st_mtime
    except OSError:
        return None
    if os.path.realpath(made_in) != os.path.realpath(cwd):
        return None
    root = root_of(env_dir)
    pex_hash = _read_hash(env_dir)
    if root is None or pex_hash is None:
        return None
    linked = set().union(*(linked_layers(root, d) for d in pex_dirs(root, pex_hash)))
    return sum(1 for layer in linked if _mtime(layer) >= since - 1)


def drop_unpacked(root: str, grace: float = GRACE_SECONDS) -> list[str]:
    """Delete the launcher's unpacked copies of ZIP64 PEXes whose venv exists (pex built the
    venv from the copy, which nothing needs after that), unless unpacked within `grace`
    seconds (a first start may still be reading it).  The hashes dropped."""
    base = os.path.join(root, PEX_DIR, UNZIPPED_DIR)
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return []
    dropped = []
    now = time.time()
    for name in names:
        path = os.path.join(base, name)
        venvs = [d for d in pex_dirs(root, name) if os.sep + "venvs" + os.sep in d]
        if not venvs or ".tmp-" in name or now - _mtime(path) < grace:
            continue
        trash = _trash(root, path, "unpacked")
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
            dropped.append(name)
    return dropped


def maintain(max_bytes: int, grace: float = GRACE_SECONDS) -> Maintenance:
    """Run on an executor, inside the environment's interpreter: record this environment's size
    (once) and evict others above `max_bytes`.  A no-op unless the preamble chose a node-cache
    folder (the user's own pex_root=, or the `./.pex` fallback, are left alone)."""
    env_dir = os.environ.get(ENV_VAR, "")
    root = root_of(env_dir)
    if root is None:
        return Maintenance(root=None, env=env_dir or None, note="not in a node cache")
    drop_unpacked(root, grace)
    if _read_size(env_dir) is None:
        record_env_size(root, env_dir)
    report = evict(root, max_bytes, keep=(os.path.basename(env_dir),), grace=grace)
    report.env = env_dir
    return report


def maintain_detached(max_bytes: int, grace: float = GRACE_SECONDS) -> bool:
    """`maintain` in a detached grandchild process, so the calling task returns at once.
    False where fork is unavailable (then nothing runs)."""
    if not hasattr(os, "fork"):
        return False
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)  # the child exits right after forking the worker: no zombie
        return True
    try:
        os.setsid()
        if os.fork() == 0:
            try:
                maintain(max_bytes, grace)
            finally:
                os._exit(0)
    finally:
        os._exit(0)
    return True  # pragma: no cover (unreachable: both children _exit)
