"""What a layered launcher (`pexlab.nodecache.launcher.layered_launcher`) runs on a node that
has no venv for its environment yet: standard library only, because the launcher carries this
file's source and runs it with the node's bare Python.

pexlab, not pex, turns the layers into the environment here, because pex's way costs a fresh
node and every `pip install` several seconds of Python per file: pex walks each of the
environment's ~10,000 files to build its venv, for every new environment.  This does what uv
and conda do:

1. under a per-environment lock (several executors of one node start at once), find the
   layers pex's `installed_wheels/<n>/<hash>/<wheel>` lacks on this node;
2. fetch those (from `$PEXLAB_LAYERS`, the folder named in `pexlab-layer-source`, or the work
   dir where Spark put them) and unpack them in parallel, each into a private folder that is
   renamed into place: a killed start leaves no half layer, and the next start clears what it
   left;
3. make the venv by hand (a `pyvenv.cfg`, `bin/python` linked to the node's Python) with a
   site-packages of symlinks to each layer's top-level entries, merging the folders that
   several layers share (namespace packages such as `nvidia/`), so assembling costs a few
   hundred links, not one per file.  The same layout as pex's own venvs, so the node cache's
   upkeep (`pexlab.nodecache.upkeep`) sizes, shares and evicts them alike.

While it unpacks and links it holds pex's cache lock (`access.lck`) shared, as pex does, so the
upkeep never deletes a layer under it.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import io
import json
import os
import shutil
import sys
import time
import urllib.request
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# The launcher's data lines, after its last `exit`.
MANIFEST_MARK = "#PEXLAB-MANIFEST "
HEAD_MARK = "#PEXLAB-HEAD "
# Where the layers a node lacks are read, before the work dir (where Spark or YARN put shipped
# files): a folder (a shared file system) or an http(s) URL.
LAYERS_VAR = "PEXLAB_LAYERS"
# The same, as a file shipped beside the launcher, for sessions that cannot set executors'
# environment (Spark Connect: executors start before the session exists).  The variable wins.
LAYER_SOURCE_FILE = "pexlab-layer-source"
TMP = ".tmp-"  # <name>.tmp-<pid>: a private folder, renamed into place when whole


class AssemblyError(Exception):
    """A layer is missing, partial or unreadable: the start fails with this message."""


def data_line(data: bytes, mark: str) -> bytes:
    """The rest of the launcher line that starts with `mark`."""
    return data.split(("\n" + mark).encode(), 1)[1].split(b"\n", 1)[0]


def layer_source() -> str:
    source = os.environ.get(LAYERS_VAR, "")
    if not source and os.path.isfile(LAYER_SOURCE_FILE):
        with open(LAYER_SOURCE_FILE) as f:
            source = f.read().strip()
    return source


def locate(layer: dict[str, Any], source: str, scratch: str) -> tuple[str, bool]:
    """The path of a layer's zip on this node, and whether it is a download to delete after."""
    if source.startswith(("http://", "https://")):
        url = source.rstrip("/") + "/" + layer["file"]
        path, temporary = os.path.join(scratch, layer["file"]), True
        try:
            with urllib.request.urlopen(url, timeout=60) as r, open(path, "wb") as f:
                shutil.copyfileobj(r, f, 1 << 20)
        except OSError as e:
            raise AssemblyError(
                f"pexlab: cannot fetch layer {layer['file']} from {url}: {e}"
            ) from None
    else:
        places = [source[7:] if source.startswith("file://") else source] if source else []
        places.append(os.getcwd())
        found = [p for p in (os.path.join(q, layer["file"]) for q in places) if os.path.isfile(p)]
        if not found:
            raise AssemblyError(
                f"pexlab: layer {layer['file']} is in none of {', '.join(places)}: ship it "
                f"(spark.files) or set {LAYERS_VAR} to the storage folder holding it"
            )
        path, temporary = found[0], False
    size = os.path.getsize(path)
    if size != layer["size"]:
        raise AssemblyError(
            f"pexlab: layer {layer['file']} has {size} bytes, not {layer['size']}: a partial "
            "or foreign file"
        )
    return path, temporary


def unpack(zip_path: str, into: str) -> None:
    """Extract a layer: zipfile's extractall without its per-member path rewriting, which
    these zips (pexlab's own, checked by size) do not need; names leaving `into` are refused."""
    made: set[str] = set()
    with zipfile.ZipFile(zip_path) as z:
        for info in z.infolist():
            name = info.filename
            if name.startswith("/") or ".." in name.split("/"):
                raise AssemblyError(f"pexlab: {zip_path} holds an unsafe name {name!r}")
            target = os.path.join(into, name)
            if name.endswith("/"):
                os.makedirs(target, exist_ok=True)
                continue
            parent = os.path.dirname(target)
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            with z.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            mode = info.external_attr >> 16
            if mode & 0o111:
                os.chmod(target, mode & 0o7777)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process
    return True


def clear_stale(folder: str) -> None:
    """Remove the private folders that killed starts left in `folder` (their pid is gone)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        pid = name.rpartition(TMP)[2]
        if TMP in name and pid.isdigit() and not alive(int(pid)):
            path = os.path.join(folder, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)


def link_tree(src: str, dst: str, final: str, top: bool = True) -> None:
    """Symlink each entry of `src` into the folder `dst` (to be renamed to `final`, so links
    are relative to that); an entry `dst` has already becomes a real folder holding both (the
    first layer wins a file both have, as in a pip install)."""
    for name in sorted(os.listdir(src)):
        if top and name.startswith("."):
            continue  # the layer's `.layout.json` and `.prefix` (scripts, data) are pex's
        here, there = os.path.join(dst, name), os.path.join(src, name)
        if not os.path.lexists(here):
            os.symlink(os.path.relpath(there, final), here)
        elif os.path.isdir(there) and os.path.isdir(here):
            inner = os.path.join(final, name)
            if os.path.islink(here):  # (a lexical path: `final` does not exist yet)
                first = os.path.normpath(os.path.join(final, os.readlink(here)))
                os.unlink(here)
                os.mkdir(here)
                link_tree(first, here, inner, top=False)
            link_tree(there, here, inner, top=False)


def make_venv(venv: str, folders: list[str], head: bytes) -> None:
    """The environment's venv at `venv`, made privately and renamed into place."""
    # Dot names: the launcher's glob for a venv (`venvs/*/<pex hash>/*`) never sees them.
    parent, name = os.path.split(venv)
    tmp = os.path.join(parent, f".{name}{TMP}{os.getpid()}")
    # The base interpreter, if the node's Python is itself a venv's (no packages of its own).
    python = os.path.realpath(getattr(sys, "_base_executable", "") or sys.executable)
    version = ".".join(map(str, sys.version_info[:3]))
    short = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    site = os.path.join("lib", short, "site-packages")
    os.makedirs(os.path.join(tmp, site))
    os.mkdir(os.path.join(tmp, "bin"))
    for command in ("python", f"python{sys.version_info[0]}", short):
        os.symlink(python, os.path.join(tmp, "bin", command))
    with open(os.path.join(tmp, "pyvenv.cfg"), "w") as f:
        f.write(
            f"home = {os.path.dirname(python)}\ninclude-system-site-packages = false\n"
            f"version = {version}\nexecutable = {python}\n"
        )
    with zipfile.ZipFile(io.BytesIO(head)) as z:  # user code (pex -D), the venv's own
        z.extractall(os.path.join(tmp, site))
    for folder in folders:
        link_tree(folder, os.path.join(tmp, site), os.path.join(venv, site))
    if os.path.exists(venv):  # a venv of evicted layers, or of an older pexlab
        old = os.path.join(parent, f".{name}.old{TMP}{os.getpid()}")
        os.rename(venv, old)
        shutil.rmtree(old, ignore_errors=True)
    os.rename(tmp, venv)


def install(job: tuple[dict[str, Any], str, str, str]) -> None:
    """Fetch one layer and unpack it into `installed_wheels/<n>/<hash>`."""
    layer, source, scratch, wheels = job
    path, temporary = locate(layer, source, scratch)
    home = os.path.join(wheels, layer["hash"])
    tmp = f"{home}{TMP}{os.getpid()}"
    try:
        unpack(path, os.path.join(tmp, layer["wheel"]))
        # An OSError: another environment's start unpacked it meanwhile.
        with contextlib.suppress(OSError):
            os.rename(tmp, home)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if temporary:
            os.unlink(path)


def in_parallel(work: Callable[[Any], None], jobs: list[Any]) -> None:
    """Run `work` on each job, one process per core (unpacking is CPU-bound Python: measured
    on 2 cores, processes unpacked 490 MB of layers in 2.0 s, threads in 2.7 s, one at a
    time in 4.0 s), largest first; threads where this node cannot make a process pool."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    n = max(1, min(len(jobs), cores or 1))
    if n == 1:
        for job in jobs:
            work(job)
        return
    try:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork"))
    except (ImportError, OSError, ValueError):  # no fork, or no semaphores (/dev/shm)
        with ThreadPoolExecutor(n) as threads:
            list(threads.map(work, jobs))
        return
    # On a failure, `with` waits for the other jobs: a killed one would leave a half layer.
    with pool:
        try:
            list(pool.map(work, jobs))
        except BrokenProcessPool as e:
            raise AssemblyError(
                f"pexlab: a process unpacking layers died ({e}); is the node out of memory?"
            ) from None


def assemble(launcher: str, venv: str) -> str | None:
    """Make `venv` for the launcher's environment unless it exists; a line saying what it did."""
    started = time.monotonic()
    with open(launcher, "rb") as f:
        data = f.read()
    manifest = json.loads(data_line(data, MANIFEST_MARK))
    head = base64.b64decode(data_line(data, HEAD_MARK))
    root = os.environ["PEX_ROOT"]
    wheels = os.path.join(root, manifest["wheels_dir"])
    dists = manifest["layers"]

    def home(x: dict[str, Any]) -> str:
        return os.path.join(wheels, x["hash"])

    def whole() -> bool:
        return os.path.isfile(os.path.join(venv, "pyvenv.cfg")) and all(
            os.path.isdir(os.path.join(home(x), x["wheel"])) for x in dists
        )

    os.makedirs(os.path.dirname(venv), exist_ok=True)
    with open(venv + ".lck", "a") as lock, open(os.path.join(root, "access.lck"), "a") as pex:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if whole():
            return None  # another executor of this node made it meanwhile
        fcntl.flock(pex, fcntl.LOCK_SH)  # see the module docstring
        os.makedirs(wheels, exist_ok=True)
        clear_stale(wheels)
        clear_stale(os.path.dirname(venv))
        todo = sorted(
            (x for x in dists if not os.path.isdir(os.path.join(home(x), x["wheel"]))),
            key=lambda x: -x["size"],  # the largest first: the pool finishes together
        )
        source = layer_source()
        scratch = os.path.join(wheels, f".fetch{TMP}{os.getpid()}")
        os.makedirs(scratch, exist_ok=True)
        try:
            in_parallel(install, [(x, source, scratch, wheels) for x in todo])
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        make_venv(venv, [os.path.join(home(x), x["wheel"]) for x in dists], head)
    took = time.monotonic() - started
    return (
        f"pexlab: {len(todo)} of {len(dists)} layers fetched and unpacked, venv made for "
        f"{manifest['pex_hash'][:12]} in {took:.1f} s"
    )


def main(argv: list[str]) -> int:
    try:
        said = assemble(argv[0], argv[1])
    except AssemblyError as e:
        sys.stderr.write(f"{e}\n")
        return 1
    if said:
        sys.stderr.write(said + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
