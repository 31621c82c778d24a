"""The private base session per (Connect server, PEX), and the user sessions cloned from it.

The PEX is uploaded once per server into a base session that the user never sees; each user
session is a server-side `cloneSession` of it (the server copies the artifacts), so a new
session after an edit costs only its editable zips.  See `pexlab.spark.connect`.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pexlab.core.progress import ProgressCallback, report
from pexlab.core.sizes import format_size
from pexlab.nodecache.launcher import LAYER_SOURCE_FILE
from pexlab.spark.conf import CONNECT_PYTHON_CONF as PYTHON_CONF
from pexlab.spark.conf import artifacts_conf
from pexlab.spark.connect_session import clone_full, close_at_exit
from pexlab.spark.connect_url import connect_session_class, remote_of
from pexlab.spark.options import SessionOptions

if TYPE_CHECKING:
    from pexlab.package import Artifacts


@dataclass
class ConnectShipment:
    """What pexlab put into one Connect session (kept on the session as `_pexlab`)."""

    remote: str
    session_id: str
    pex_name: str
    zip_names: tuple[str, ...]
    artifacts: Artifacts
    pex_upload: str  # "uploaded" | "cloned" (server-side copy from the base session)
    seconds: float = 0.0
    executors_python: str | None = None

    def holds(self, artifacts: Artifacts) -> bool:
        """The session already carries exactly `artifacts`: the same files, and executors
        that read the layers from the same place (the launcher's `pexlab-layer-source`)."""
        wanted = frozenset((artifacts.pex.name, *(z.name for z in artifacts.editables)))
        mine = frozenset((self.pex_name, *self.zip_names))
        return mine == wanted and self.artifacts.layer_source == artifacts.layer_source


@dataclass
class _Registry:
    """Per kernel process: the base session per (server, PEX), what each session holds, and the
    last session made per server (returned again when nothing changed)."""

    # (server, PEX, where executors read its layers) -> the base session holding them
    bases: dict[tuple[str, str, str | None], Any] = field(default_factory=dict)
    held: dict[str, set[str]] = field(default_factory=dict)  # session id -> artifact names
    last: dict[str, Any] = field(default_factory=dict)  # remote -> user session
    lock: threading.Lock = field(default_factory=threading.Lock)


REGISTRY = _Registry()
SHIPMENT_ATTR = "_pexlab"


def shipment_of(session: Any) -> ConnectShipment | None:
    """What pexlab shipped to `session` (None for sessions pexlab did not make)."""
    shipment = getattr(session, SHIPMENT_ATTR, None)
    return shipment if isinstance(shipment, ConnectShipment) else None


def session_alive(session: Any) -> bool:
    try:
        if getattr(session._client, "is_closed", False):
            return False
        session.conf.get(PYTHON_CONF)  # one cheap RPC: the server still knows the session
        return True
    except Exception:
        return False


def add_artifact(session: Any, path: str, name: str, *, pyfile: bool) -> None:
    """Add one artifact unless the session already holds it (re-sending costs a full upload;
    the server keeps a session's artifacts until the session ends)."""
    held = REGISTRY.held.setdefault(session.session_id, set())
    if name in held:
        return
    if pyfile:
        session.addArtifacts(path, pyfile=True)
    else:
        session.addArtifacts(path, file=True)
    held.add(name)


def unshadow_kernel(zip_paths: list[str]) -> None:
    # The client inserts each pyfile zip at sys.path[1] of the kernel too: the notebook would
    # then import its editable projects from a snapshot, and miss the next edit.
    drop = {os.path.abspath(p) for p in zip_paths}
    sys.path[:] = [e for e in sys.path if os.path.abspath(e) not in drop]


def _fill_with_pex(
    session: Any, artifacts: Artifacts, opts: SessionOptions, progress: ProgressCallback | None
) -> None:
    # A layered environment's layers go in beside its launcher, which finds them in the
    # session's artifact folder (its working directory on the executors), unless they stay in
    # a shared storage folder: then a one-line file names it, since a session cannot set the
    # executors' environment, and each node reads only the layers it lacks.
    files = artifacts.env_files()
    for i, art in enumerate(files):
        report(progress, "upload", i / len(files), f"uploading {art.name} to the Connect server")
        add_artifact(session, art.local_path, art.name, pyfile=False)
    if artifacts.layer_source is not None:
        with tempfile.TemporaryDirectory(prefix="pexlab-") as tmp:
            source = Path(tmp) / LAYER_SOURCE_FILE
            source.write_text(artifacts.layer_source + "\n")
            add_artifact(session, str(source), LAYER_SOURCE_FILE, pyfile=False)
    report(progress, "upload", 1.0, f"{format_size(sum(a.size for a in files))} uploaded")
    # The conf layer's Connect shape (opts may name the server in `remote` only).
    for key, value in artifacts_conf(artifacts, replace(opts, master=remote_of(opts))).items():
        session.conf.set(key, value)


def _base_session(
    remote: str, artifacts: Artifacts, opts: SessionOptions, progress: ProgressCallback | None
) -> tuple[Any, str]:
    """The private session holding only the PEX (made and filled once per server and PEX)."""
    key = (remote, artifacts.pex.name, artifacts.layer_source)
    base = REGISTRY.bases.get(key)
    if base is not None and session_alive(base):
        return base, "cloned"
    # Not through the builder: the base must not become the kernel's default session.
    base = connect_session_class()(connection=remote)
    close_at_exit(base)
    _fill_with_pex(base, artifacts, opts, progress)
    REGISTRY.bases[key] = base
    return base, "uploaded"


def _cannot_clone(exc: Exception) -> bool:
    text = str(exc)
    return isinstance(exc, (AttributeError, NotImplementedError)) or any(
        s in text for s in ("UNIMPLEMENTED", "CloneSession", "cloneSession")
    )


def new_session(
    remote: str, artifacts: Artifacts, opts: SessionOptions, progress: ProgressCallback | None
) -> tuple[Any, str]:
    """A new server-side session with the PEX in it and the Python conf set."""
    base, how = _base_session(remote, artifacts, opts, progress)
    try:
        # The server copies the base session's artifacts and conf: no upload from here.  The
        # clone is attached through the public constructor: a full session (stop() & co).
        session = clone_full(base, remote, connect_session_class())
    except Exception as exc:
        if not _cannot_clone(exc):
            raise
        # A client or server without cloning (before Spark 4.1): the PEX goes up again.
        session = connect_session_class()(connection=remote)
        _fill_with_pex(session, artifacts, opts, progress)
        return session, "uploaded"
    REGISTRY.held[session.session_id] = set(REGISTRY.held.get(base.session_id, ()))
    return session, how


def make_default(session: Any) -> None:
    # What `builder.create()` does: later `SparkSession.builder.getOrCreate()` and
    # `getActiveSession()` in the notebook give this session.
    setter = getattr(type(session), "_set_default_and_active_session", None)
    if setter is not None:
        setter(session)
