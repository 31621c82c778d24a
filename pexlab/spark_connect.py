"""Spark Connect sessions whose Python UDFs run the kernel's environment (PEX + editable zips).

The kernel needs only a Connect client (`pyspark-client`, `pyspark-connect`, or full `pyspark`
in remote mode): no JVM.  What a session gets, and why (checked against pyspark 4.2/4.3):

- The PEX goes in with `addArtifacts(pex, file=True)` and the session's Python is set to it with
  `spark.conf.set("spark.sql.execution.pyspark.python", "./<name>.pex")`.  Python workers start
  in the session's artifact folder, so the `./` matters: a bare name is looked up on PATH
  ("Cannot run program").  The conf covers UDFs, Arrow/pandas UDFs and UDTFs.
- Editable projects go in as zips with `addArtifacts(zip, pyfile=True)`: they land on the
  workers' `sys.path`.  Names are the content-hashed names pexlab already gives them, because the
  server refuses to re-add a name with other bytes (`ARTIFACT_ALREADY_EXISTS`).  The client also
  puts a pyfile zip at the kernel's `sys.path[1]`; pexlab takes it off again so the notebook keeps
  importing its live sources.
- The client uploads local files in 32 KiB chunks through gRPC, so `storage=` plays no part here.
  Artifacts belong to one server-side session.  To avoid uploading the PEX for every session,
  pexlab keeps one private "base" session per (server, PEX) that holds only the PEX and the
  Python conf, and makes each user session a server-side clone of it (`cloneSession`, which
  copies artifacts on the server) plus the editable zips.  A server or client without cloning
  gets a plain new session and the PEX uploaded again.
- The edit loop: calling `create_connect_session` again with the same environment returns the
  session it made last time; after an edit of an editable project the zip has a new name, so a
  NEW session is made (same server, same Spark application, PEX reused from the cache): Python
  workers are per session, so no worker keeps the old code.  Earlier sessions stay usable.
- `spark.executorEnv.PEX_ROOT` set by a client is accepted and ignored (executor environments
  are the server application's), so the PEX picks its root itself: the server's
  `spark.executorEnv.PEX_ROOT` if its admin set one, else the launcher's node cache
  (`pexlab.node_cache`, under the executor user's `~/.cache/pexlab`), which is node-level and
  shared by sessions and applications: a node unpacks a given PEX once (README, "Spark Connect").
- Before returning, a tiny UDF runs on the executors: a worker whose Python has another
  major.minor than the kernel's is reported with both versions (`PythonVersionMismatch`).
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlparse

from .connect_session import clone_full, close_at_exit
from .notebook_progress import format_size, progress_for
from .options import BuildOptionsLike
from .progress import ProgressCallback, report
from .spark_conf import CONNECT_PYTHON_CONF as PYTHON_CONF
from .spark_conf import PexlabSparkError, artifacts_conf, master_kind
from .spark_options import ProgressArg, SessionOptions
from .spark_session import PythonVersionMismatch, version_mismatch

if TYPE_CHECKING:  # the client is imported lazily: `import pexlab` must not need it
    from pyspark.sql import SparkSession

    from .cache import Cache
    from .package import Artifacts


def validate_remote(url: str) -> str:
    """`url` if it is a usable Spark Connect URL (sc://host[:port][/;params]), else a clear error."""
    text = str(url).strip()
    parsed = urlparse(text)
    if parsed.scheme != "sc" or not parsed.hostname:
        raise PexlabSparkError(
            f"{url!r} is not a Spark Connect URL: expected sc://host:port (e.g. "
            "sc://localhost:15002, optionally followed by /;param=value)."
        )
    if parsed.path not in ("", "/") and not parsed.path.startswith("/;"):
        raise PexlabSparkError(
            f"{url!r}: a Spark Connect URL has no path; parameters go after '/;' "
            "(e.g. sc://host:15002/;user_id=me)."
        )
    master_kind(text)  # the one parser of master URLs: a bad port etc. is refused there
    return text


DEFAULT_PORT = 15002  # Spark Connect's, when the URL names none


def check_reachable(remote: str, timeout: float = 5.0) -> None:
    """Fail in seconds, before any packaging, if nothing listens at the server's address."""
    parsed = urlparse(remote)
    host, port = parsed.hostname or "", parsed.port or DEFAULT_PORT
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise PexlabSparkError(
            f"The Spark Connect server at {host}:{port} is not reachable ({exc}). Is it "
            "running, and is the URL right (sc://host:port)?"
        ) from None


def remote_of(opts: SessionOptions) -> str:
    """The Connect URL `opts` names: `remote`, else an `sc://` master."""
    return validate_remote(opts.remote or opts.resolved_master)


def _connect_session_class() -> Any:
    """The Connect SparkSession class, or a clear error saying which client to install."""
    try:
        from pyspark.sql.connect.session import SparkSession as RemoteSession
    except ImportError as exc:
        raise PexlabSparkError(
            "Spark Connect needs a client in this kernel: `%pip install pyspark-client` (no "
            f"Java needed), or full pyspark with its connect extras ({exc})."
        ) from exc
    return RemoteSession


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

    @property
    def names(self) -> frozenset[str]:
        return frozenset((self.pex_name, *self.zip_names))


@dataclass
class _Registry:
    """Per kernel process: the base session per (server, PEX), what each session holds, and the
    last session made per server (returned again when nothing changed)."""

    bases: dict[tuple[str, str], Any] = field(default_factory=dict)
    held: dict[str, set[str]] = field(default_factory=dict)  # session id -> artifact names
    last: dict[str, Any] = field(default_factory=dict)  # remote -> user session
    lock: threading.Lock = field(default_factory=threading.Lock)


_REGISTRY = _Registry()
_SHIPMENT_ATTR = "_pexlab"


def shipment_of(session: Any) -> ConnectShipment | None:
    """What pexlab shipped to `session` (None for sessions pexlab did not make)."""
    shipment = getattr(session, _SHIPMENT_ATTR, None)
    return shipment if isinstance(shipment, ConnectShipment) else None


def _session_alive(session: Any) -> bool:
    try:
        if getattr(session._client, "is_closed", False):
            return False
        session.conf.get(PYTHON_CONF)  # one cheap RPC: the server still knows the session
        return True
    except Exception:
        return False


def _add(session: Any, path: str, name: str, *, pyfile: bool) -> None:
    """Add one artifact unless the session already holds it (re-sending costs a full upload;
    the server keeps a session's artifacts until the session ends)."""
    held = _REGISTRY.held.setdefault(session.session_id, set())
    if name in held:
        return
    if pyfile:
        session.addArtifacts(path, pyfile=True)
    else:
        session.addArtifacts(path, file=True)
    held.add(name)


def _unshadow_kernel(zip_paths: list[str]) -> None:
    # The client inserts each pyfile zip at sys.path[1] of the kernel too: the notebook would
    # then import its editable projects from a snapshot, and miss the next edit.
    drop = {os.path.abspath(p) for p in zip_paths}
    sys.path[:] = [e for e in sys.path if os.path.abspath(e) not in drop]


def _fill_with_pex(
    session: Any, artifacts: Artifacts, opts: SessionOptions, progress: ProgressCallback | None
) -> None:
    report(progress, "upload", 0.0, f"uploading {artifacts.pex.name} to the Connect server")
    _add(session, artifacts.pex.local_path, artifacts.pex.name, pyfile=False)
    report(progress, "upload", 1.0, f"{format_size(artifacts.pex.size)} uploaded")
    # The conf layer's Connect shape (opts may name the server in `remote` only).
    for key, value in artifacts_conf(artifacts, replace(opts, master=remote_of(opts))).items():
        session.conf.set(key, value)


def _base_session(
    remote: str, artifacts: Artifacts, opts: SessionOptions, progress: ProgressCallback | None
) -> tuple[Any, str]:
    """The private session holding only the PEX (made and filled once per server and PEX)."""
    key = (remote, artifacts.pex.name)
    base = _REGISTRY.bases.get(key)
    if base is not None and _session_alive(base):
        return base, "cloned"
    # Not through the builder: the base must not become the kernel's default session.
    base = _connect_session_class()(connection=remote)
    close_at_exit(base)
    _fill_with_pex(base, artifacts, opts, progress)
    _REGISTRY.bases[key] = base
    return base, "uploaded"


def _cannot_clone(exc: Exception) -> bool:
    text = str(exc)
    return isinstance(exc, (AttributeError, NotImplementedError)) or any(
        s in text for s in ("UNIMPLEMENTED", "CloneSession", "cloneSession")
    )


def _new_session(
    remote: str, artifacts: Artifacts, opts: SessionOptions, progress: ProgressCallback | None
) -> tuple[Any, str]:
    """A new server-side session with the PEX in it and the Python conf set."""
    base, how = _base_session(remote, artifacts, opts, progress)
    try:
        # The server copies the base session's artifacts and conf: no upload from here.  The
        # clone is attached through the public constructor: a full session (stop() & co).
        session = clone_full(base, remote, _connect_session_class())
    except Exception as exc:
        if not _cannot_clone(exc):
            raise
        # A client or server without cloning (before Spark 4.1): the PEX goes up again.
        session = _connect_session_class()(connection=remote)
        _fill_with_pex(session, artifacts, opts, progress)
        return session, "uploaded"
    _REGISTRY.held[session.session_id] = set(_REGISTRY.held.get(base.session_id, ()))
    return session, how


def _make_default(session: Any) -> None:
    # What `builder.create()` does: later `SparkSession.builder.getOrCreate()` and
    # `getActiveSession()` in the notebook give this session.
    setter = getattr(type(session), "_set_default_and_active_session", None)
    if setter is not None:
        setter(session)


def _major_minor(version: str) -> str:
    return ".".join(str(version).split(".")[:2])


def check_session_python(session: Any, driver_version: str | None = None) -> str:
    """Run a tiny UDF on the session's executors; return their Python version, or raise
    `PythonVersionMismatch` naming both versions (PexlabSparkError if workers cannot start)."""
    from pyspark.sql.functions import udf
    from pyspark.sql.types import StringType

    driver = driver_version or "{}.{}".format(*sys.version_info[:2])

    def probe(_: int) -> str:
        # Defined here: cloudpickle ships it by value, executors need no pexlab.
        import sys as _sys

        return "{}.{}.{}".format(*_sys.version_info[:3])

    # Two tasks: on a typical cluster the first Python workers of two cores start now, in
    # parallel, rather than in the user's first job.
    try:
        rows = session.range(0, 2, 1, 2).select(udf(probe, StringType())("id")).collect()
        version = str(rows[0][0])
    except Exception as exc:  # SparkConnectGrpcException, PythonException, ...
        text = str(exc)
        mismatch = version_mismatch(text)
        if mismatch is not None:
            raise mismatch from None
        python = _safe_conf(session, PYTHON_CONF)
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        interesting = [
            ln for ln in lines if any(s in ln for s in ("Error", "error", "Cannot run", "No such"))
        ][:3] or lines[:3]
        raise PexlabSparkError(
            f"The Connect session's executors could not run Python {python!r}: "
            + " | ".join(s[:300] for s in interesting)
        ) from exc
    if _major_minor(version) != driver:
        raise PythonVersionMismatch(driver, _major_minor(version))
    return version


def _safe_conf(session: Any, key: str) -> str | None:
    try:
        value = session.conf.get(key)
    except Exception:
        return None
    return None if value is None else str(value)


def _summary(s: ConnectShipment, ignored: list[str]) -> str:
    a = s.artifacts
    where = "uploaded" if s.pex_upload == "uploaded" else "copied on the server"
    head = (
        f"pexlab: Spark Connect {s.remote}: PEX {'reused' if a.reused else 'built'} "
        f"{s.pex_name} ({format_size(a.pex.size)}, {where})"
    )
    if s.zip_names:
        head += (
            f" + {len(s.zip_names)} editable zip(s) "
            f"({format_size(sum(z.size for z in a.editables))})"
        )
    head += f"; session {s.session_id[:8]}"
    if s.executors_python:
        head += f"; executors' Python {s.executors_python}"
    if ignored:
        head += f"; not used on Connect: {', '.join(ignored)}"
    return head + f"; ready in {s.seconds:.1f} s"


def connect_session(opts: SessionOptions) -> SparkSession:
    """A Spark Connect session for `opts.remote` (or an `sc://` master) whose Python UDFs run
    the kernel's environment; see the module docstring.

    `opts.conf` is set on the new session (runtime/SQL conf).  `storage`, `app_name` and
    `pex_root` have no effect on Connect (artifacts go through the session; the application and
    the executors' environment are the server's); the summary names them when given."""
    t0 = time.monotonic()
    remote = remote_of(opts)
    check_reachable(remote)  # fail before packaging if there is no server...
    _connect_session_class()  # ...or no client
    # What pyspark's own `builder.remote(...).create()` sets: with full pyspark as the client,
    # `pyspark.sql.functions` (udf, ...) then build Connect expressions, not classic ones.
    os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
    callback, shower = progress_for(opts.progress)
    driver = "{}.{}".format(*sys.version_info[:2])
    if opts.expected_python is not None and _major_minor(opts.expected_python) != driver:
        raise PythonVersionMismatch(driver, _major_minor(opts.expected_python))
    ignored = [
        name
        for name, value in (
            ("storage", opts.storage),
            ("app_name", opts.app_name),
            ("pex_root", opts.pex_root),
        )
        if value
    ]

    from .package import package_environment

    # No storage: the client uploads local files only (the server never reads a URL for it).
    artifacts = package_environment(
        python=opts.python,
        options=opts.build_options,
        include_editable=opts.include_editable,
        progress=callback,
        cache=opts.cache,
    )
    if _major_minor(artifacts.env.version) != driver:
        raise PythonVersionMismatch(
            driver,
            _major_minor(artifacts.env.version),
            f"The PEX was built from {artifacts.env.python}; package an interpreter with the "
            "kernel's version (python=...) or run the notebook in that interpreter.",
        )
    zip_names = tuple(z.name for z in artifacts.editables)
    wanted = frozenset((artifacts.pex.name, *zip_names))
    user_conf = opts.user_conf
    user_conf.pop("spark.master", None)  # static; the server's

    with _REGISTRY.lock:
        last = _REGISTRY.last.get(remote)
        shipped = shipment_of(last) if last is not None else None
        if (
            last is not None
            and shipped is not None
            and shipped.names == wanted
            and _session_alive(last)
        ):
            # Nothing changed since the last call: the same session (its workers already
            # run this code), with the caller's conf applied.
            for key, value in user_conf.items():
                last.conf.set(key, value)
            _make_default(last)
            if shower is not None:
                shower.done(
                    f"pexlab: Spark Connect {remote}: session {shipped.session_id[:8]} already "
                    f"has {shipped.pex_name}"
                    + (f" + {len(zip_names)} editable zip(s)" if zip_names else "")
                    + f"; ready in {time.monotonic() - t0:.1f} s"
                )
            return cast("SparkSession", last)  # Connect's, duck-typed like the classic one

        report(callback, "spark", None, f"new Spark Connect session on {remote}")
        session, how = _new_session(remote, artifacts, opts, callback)
        for i, z in enumerate(artifacts.editables):
            report(callback, "upload", i / len(artifacts.editables), f"adding {z.name}")
            _add(session, z.local_path, z.name, pyfile=True)
        _unshadow_kernel([z.local_path for z in artifacts.editables])
        if artifacts.editables:
            report(callback, "upload", 1.0, f"{len(artifacts.editables)} editable zip(s) added")
        for key, value in user_conf.items():
            session.conf.set(key, value)

        shipment = ConnectShipment(
            remote=remote,
            session_id=str(session.session_id),
            pex_name=artifacts.pex.name,
            zip_names=zip_names,
            artifacts=artifacts,
            pex_upload=how,
        )
        setattr(session, _SHIPMENT_ATTR, shipment)  # for the notebook and the next call
        if opts.check_python:
            report(callback, "check", None, "one tiny UDF")
            try:
                shipment.executors_python = check_session_python(session, driver)
            except Exception:
                _release(session)  # unusable, and the user holds no handle to stop it
                raise
        _make_default(session)
        _REGISTRY.last[remote] = session
    shipment.seconds = time.monotonic() - t0
    if shower is not None:
        shower.done(_summary(shipment, ignored))
    return cast("SparkSession", session)


def create_connect_session(
    remote: str,
    *,
    conf: Mapping[str, Any] | None = None,
    include_editable: bool = True,
    python: str | os.PathLike[str] | None = None,
    expected_python: str | None = None,
    progress: ProgressArg = True,
    check_python: bool = True,
    options: BuildOptionsLike = None,
    cache: Cache | None = None,
) -> SparkSession:
    """`create_spark_session(remote=...)` with only the arguments that matter on Connect."""
    return connect_session(
        SessionOptions(
            remote=remote,
            conf=conf,
            include_editable=include_editable,
            python=python,
            expected_python=expected_python,
            progress=progress,
            check_python=check_python,
            options=options,
            cache=cache,
        )
    )


def _release(session: Any) -> None:
    """Forget (and close on the server) a session the user never received."""
    _REGISTRY.held.pop(str(getattr(session, "session_id", "")), None)
    try:
        session.stop()
    except Exception:
        pass  # already gone: nothing to release


def reset() -> None:
    """Forget the base and last sessions (e.g. after the Connect server restarted)."""
    with _REGISTRY.lock:
        for base in _REGISTRY.bases.values():
            _release(base)
        _REGISTRY.bases.clear()
        _REGISTRY.last.clear()
        _REGISTRY.held.clear()


__all__ = [
    "PYTHON_CONF",
    "ConnectShipment",
    "check_session_python",
    "connect_session",
    "create_connect_session",
    "reset",
    "shipment_of",
    "validate_remote",
]
