"""Compiled modules of editable projects, imported on the executors from their zip.

Python cannot import an extension module (.so/.pyd) from a zip.  An editable project with
code compiled in place (setuptools' `build_ext --inplace` during `pip install -e`) has its .so
in the project folder, so it goes into the project's zip with the Python files.  On the node,
a path hook installed at interpreter start by a `.pth` in the PEX (`SOURCE` below, shipped as
`_pexlab_zip_native.py`; standard library only) takes over every pexlab editable zip
(`<name>-<12 hex>.zip`) that holds an extension module: it unpacks the zip once per node into a
content-keyed folder (the zip's name is its content hash) next to the node cache and imports
from there through the normal file finder, so the package and its compiled submodules load
together.  Zips without compiled code stay with zipimport.  A pure-Python edit gives a new zip
(new name, new folder) and no new PEX.

Eviction: each folder is an entry of the node cache (`native/<zip stem>`), evicted by
`pexlab.nodecache.upkeep.evict` under the same size cap and LRU clock as environments; the hook
touches the folder's `.pexlab-used` each time a process adopts it, which is how the evictor
tells a folder a live process may use (see `upkeep.native_in_use`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

MODULE = "_pexlab_zip_native"

SOURCE = '''\
"""pexlab: import compiled modules of editable zips (pexlab/nodecache/native.py). Stdlib only."""
import os
import re
import sys
import zipfile
from importlib import machinery

_NAME = re.compile(r"-[0-9a-f]{12}\\.zip$")
_NATIVE = (".so", ".pyd")


def _root():
    env = os.environ.get("PEXLAB_NODE_ENV")  # <node cache>/envs/<id>, set by the launcher
    if env and os.path.isabs(env):
        return os.path.join(os.path.dirname(os.path.dirname(env)), "native")
    return os.path.join(os.environ.get("TMPDIR") or "/tmp", "pexlab-native-%d" % os.getuid())


def _touch(folder):
    # The LRU clock of the node cache's eviction (pexlab/nodecache/upkeep.py), set each time
    # a process adopts the folder: one touched after a live process started may be in its use.
    try:
        with open(os.path.join(folder, ".pexlab-used"), "a"):
            pass
        os.utime(os.path.join(folder, ".pexlab-used"))
    except OSError:
        pass


def _unpack(path, zf):
    target = os.path.join(_root(), os.path.basename(path)[: -len(".zip")])
    if os.path.isdir(target):
        _touch(target)
        return target
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = "%s.%d.tmp" % (target, os.getpid())
    zf.extractall(tmp)
    for info in zf.infolist():  # keep exec bits (zipfile drops modes)
        mode = (info.external_attr >> 16) & 0o777
        if mode and not info.is_dir():
            os.chmod(os.path.join(tmp, info.filename), mode)
    try:
        os.rename(tmp, target)
    except OSError:  # another worker of this node got there first: same content
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    _touch(target)
    return target


def _hook(path):
    if not isinstance(path, str) or not _NAME.search(path) or not os.path.isfile(path):
        raise ImportError("not a pexlab editable zip")
    try:
        with zipfile.ZipFile(path) as zf:
            if not any(n.endswith(_NATIVE) for n in zf.namelist()):
                raise ImportError("no compiled modules: zipimport serves it")
            folder = _unpack(path, zf)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ImportError(str(exc)) from None
    loaders = [
        (machinery.ExtensionFileLoader, machinery.EXTENSION_SUFFIXES),
        (machinery.SourceFileLoader, machinery.SOURCE_SUFFIXES),
        (machinery.SourcelessFileLoader, machinery.BYTECODE_SUFFIXES),
    ]
    return machinery.FileFinder(folder, *loaders)


def install():
    if _hook not in sys.path_hooks:
        sys.path_hooks.insert(0, _hook)
        sys.path_importer_cache.clear()
'''

PTH = f"import {MODULE}; {MODULE}.install()\n"


def digest() -> str:
    """What the PEX's recipe fingerprint covers of this loader."""
    return hashlib.sha256((SOURCE + PTH).encode()).hexdigest()[:16]


def write_sources(folder: Path) -> Path:
    """The loader and its .pth in `folder` (for `pex -D folder`); returns `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{MODULE}.py").write_text(SOURCE)
    (folder / f"{MODULE}.pth").write_text(PTH)
    return folder


__all__ = ["MODULE", "PTH", "SOURCE", "digest", "write_sources"]
