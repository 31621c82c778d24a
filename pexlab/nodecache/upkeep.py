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
USED_FILE = ".pexlab-used"
SIZE_FILE = ".pexlab-size"
LOCK_FILE = ".evict.lock"
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
    size: int  # bytes on disk (recorded, or measured now)


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


def record_size(path: str) -> int:
    """Measure an environment folder once and remember it in SIZE_FILE (written atomically)."""
    size = disk_usage(path)
    tmp = os.path.join(path, f"{SIZE_FILE}.{os.getpid()}")
    try:
        with open(tmp, "w") as f:
            f.write(str(size))
        os.replace(tmp, os.path.join(path, SIZE_FILE))
    except OSError:
        pass
    return size


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


def scan(root: str) -> list[CachedEnv]:
    """Every environment under `root`, with its size (recorded, else measured and recorded)."""
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
            size = record_size(path)
        out.append(CachedEnv(name, path, _last_used(path), size))
    return out


def envs_in_use(root: str, proc: str = "/proc") -> set[str] | None:
    """Environment ids under `root` that a live process uses (None: no /proc to tell).

    A process uses an environment when its environment block names it in ENV_VAR (every
    interpreter the preamble starts, and the Python workers PySpark forks from it) or its
    command line runs something inside it.  Processes of other users are unreadable and
    cannot use this user's cache anyway."""
    if not os.path.isdir(os.path.join(proc, "self")):
        return None
    prefix = os.path.join(os.path.realpath(root), "envs") + os.sep
    marker = f"{ENV_VAR}=".encode()
    used: set[str] = set()

    def note(path: str) -> None:
        real = os.path.realpath(path) if os.path.isabs(path) else path
        if real.startswith(prefix):
            used.add(real[len(prefix) :].split(os.sep, 1)[0])

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


def evict(
    root: str,
    max_bytes: int,
    keep: tuple[str, ...] = (),
    grace: float = GRACE_SECONDS,
    proc: str = "/proc",
    now: float | None = None,
) -> Maintenance:
    """Remove least recently used environments under `root` until it fits in `max_bytes`,
    never one in `keep`, in use (see `envs_in_use`), or touched within `grace` seconds."""
    import fcntl

    report = Maintenance(root=root, env=None, max_bytes=max_bytes, evicted=[], kept_in_use=[])
    try:
        lock = open(os.path.join(root, LOCK_FILE), "a")  # noqa: SIM115 (closed below)
    except OSError as exc:
        report.note = f"cannot lock {root}: {exc}"
        return report
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
        envs = scan(root)
        report.total = sum(e.size for e in envs)
        if report.total <= max_bytes:
            return report
        busy = envs_in_use(root, proc)
        if busy is None:
            report.note = "no /proc: cannot tell which environments are in use, none evicted"
            return report
        now = time.time() if now is None else now
        for env in sorted(envs, key=lambda e: e.last_used):
            if report.total <= max_bytes:
                break
            if env.eid in keep or env.eid in busy or now - env.last_used < grace:
                report.kept_in_use.append(env.eid)
                continue
            trash = os.path.join(root, f".trash-{env.eid}-{os.getpid()}")
            try:
                os.rename(env.path, trash)
            except OSError:
                continue
            if _last_used(trash) != env.last_used and not os.path.exists(env.path):
                # An executor started it between our scan and the rename: give it back.
                os.rename(trash, env.path)
                report.kept_in_use.append(env.eid)
                continue
            shutil.rmtree(trash, ignore_errors=True)
            report.total -= env.size
            report.evicted.append(env.eid)
        return report
    finally:
        lock.close()


def maintain(max_bytes: int, grace: float = GRACE_SECONDS) -> Maintenance:
    """Run on an executor, inside the environment's interpreter: record this environment's size
    (once) and evict others above `max_bytes`.  A no-op unless the preamble chose a node-cache
    folder (the user's own pex_root=, or the `./.pex` fallback, are left alone)."""
    env_dir = os.environ.get(ENV_VAR, "")
    root = root_of(env_dir)
    if root is None:
        return Maintenance(root=None, env=env_dir or None, note="not in a node cache")
    if _read_size(env_dir) is None:
        record_size(env_dir)
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
