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
  are the server application's), so the PEX uses the executors' own PEX_ROOT: the server's
  `spark.executorEnv.PEX_ROOT` if its admin set one, else pex's default under the executor
  user's home (`~/.cache/pex`), which is node-level and shared by sessions and applications:
  a node unpacks a given PEX once (see README, "Spark Connect").
- Before returning, a tiny UDF runs on the executors: a worker whose Python has another
  major.minor than the kernel's is reported with both versions (`PythonVersionMismatch`).
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from .notebook_progress import NotebookProgress, format_size
from .progress import ProgressEvent

if TYPE_CHECKING:  # the client is imported lazily: `import pexlab` must not need it
    from pyspark.sql import SparkSession

    from .package import Artifacts

PYTHON_CONF = "spark.sql.execution.pyspark.python"
# The Connect client is the kernel's way to reach the server; executors import the server's
# pyspark, so neither client distribution goes into the PEX (nor do pyspark/py4j).
CLIENT_DISTRIBUTIONS = ("pyspark-client", "pyspark-connect")


class _Errors:
    """pexlab's Spark errors, imported lazily (pexlab.spark imports pyspark-free, but this
    module must not depend on how the Spark layer is split)."""

    @staticmethod
    def base() -> type[Exception]:
        from .spark import PexlabSparkError

        return PexlabSparkError

    @staticmethod
    def mismatch() -> type[Exception]:
        from .spark import PythonVersionMismatch

        return PythonVersionMismatch


def is_connect_url(url: str | None) -> bool:
    return bool(url) and str(url).strip().startswith("sc://")


def validate_remote(url: str) -> str:
    """`url` if it is a usable Spark Connect URL (sc://host[:port][/;params]), else a clear error."""
    text = str(url).strip()
    parsed = urlparse(text)
    if parsed.scheme != "sc" or not parsed.hostname:
        raise _Errors.base()(
            f"{url!r} is not a Spark Connect URL: expected sc://host:port (e.g. "
            "sc://localhost:15002, optionally followed by /;param=value)."
        )
    if parsed.path not in ("", "/") and not parsed.path.startswith("/;"):
        raise _Errors.base()(
            f"{url!r}: a Spark Connect URL has no path; parameters go after '/;' "
            "(e.g. sc://host:15002/;user_id=me)."
        )
    try:
        parsed.port  # noqa: B018 - raises for a non-numeric port
    except ValueError as exc:
        raise _Errors.base()(f"{url!r}: the port must be a number ({exc}).") from None
    return text


def _connect_session_class() -> Any:
    """The Connect SparkSession class, or a clear error saying which client to install."""
    try:
        from pyspark.sql.connect.session import SparkSession as RemoteSession
    except ImportError as exc:
        raise _Errors.base()(
            "Spark Connect needs a client in this kernel: `%pip install pyspark-client` (no "
            f"Java needed), or full pyspark with its connect extras ({exc})."
        ) from exc
    return RemoteSession


def connect_options(options: Any) -> Any:
    """`options` with the Connect client distributions excluded from the PEX too."""
    from .pex_build import BuildOptions

    if options is None:
        opts = BuildOptions()
    elif isinstance(options, Mapping):
        opts = BuildOptions.from_json(dict(options))
    else:
        opts = options
    missing = tuple(n for n in CLIENT_DISTRIBUTIONS if n not in opts.exclude)
    if not missing:
        return opts
    from dataclasses import replace

    return replace(opts, exclude=(*opts.exclude, *missing))


@dataclass
class ConnectShipment:
    """What pexlab put into one Connect session (kept on the session as `_pexlab`)."""

    remote: str
    session_id: str
    pex_name: str
    zip_names: tuple[str, ...]
    artifacts: Artifacts
    pex_upload: str  # "uploaded" | "cloned" (from the base session) | "present"
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


def shipment_of(session: Any) -> ConnectShipment | None:
    """What pexlab shipped to `session` (None for sessions pexlab did not make)."""
    return getattr(session, "_pexlab", None)


def _session_alive(session: Any) -> bool:
    try:
        client = session._client
        if getattr(client, "is_closed", False):
            return False
        session.conf.get(PYTHON_CONF)  # one cheap RPC: the server still knows the session
        return True
    except Exception:
        return False


def _add(session: Any, path: str, name: str, *, pyfile: bool) -> bool:
    """Add one artifact unless the session already holds it; True if it was uploaded."""
    held = _REGISTRY.held.setdefault(session.session_id, set())
    if name in held:
        return False
    if pyfile:
        session.addArtifacts(path, pyfile=True)
    else:
        session.addArtifacts(path, file=True)
    held.add(name)
    return True


def _unshadow_kernel(zip_paths: list[str]) -> None:
    # The client inserts each pyfile zip at sys.path[1] of the kernel too: the notebook would
    # then import its editable projects from a snapshot, and miss the next edit.
    drop = {os.path.abspath(p) for p in zip_paths}
    sys.path[:] = [e for e in sys.path if os.path.abspath(e) not in drop]


def _base_session(remote: str, artifacts: Artifacts, progress: Any) -> tuple[Any, str]:
    """The private session holding only the PEX (made and filled once per server and PEX)."""
    key = (remote, artifacts.pex.name)
    base = _REGISTRY.bases.get(key)
    if base is not None and _session_alive(base):
        return base, "cloned"
    RemoteSession = _connect_session_class()
    # Not through the builder: the base must not become the kernel's default session.
    base = RemoteSession(connection=remote)
    _emit(progress, "upload", 0.0, f"uploading {artifacts.pex.name} to {remote}")
    _add(base, artifacts.pex.local_path, artifacts.pex.name, pyfile=False)
    _emit(progress, "upload", 1.0, f"{format_size(artifacts.pex.size)} uploaded")
    base.conf.set(PYTHON_CONF, f"./{artifacts.pex.name}")
    _REGISTRY.bases[key] = base
    return base, "uploaded"


def _new_session(remote: str, artifacts: Artifacts, progress: Any) -> tuple[Any, str]:
    """A new server-side session with the PEX in it and the Python conf set."""
    base, how = _base_session(remote, artifacts, progress)
    try:
        session = base.cloneSession(str(uuid.uuid4()))
    except (AttributeError, NotImplementedError) as exc:
        # A client without cloning: a plain session, and the PEX uploaded into it.
        session = None
        reason = str(exc)
    except Exception as exc:  # the server cannot clone (older Spark): same fallback
        if "UNIMPLEMENTED" not in str(exc) and "CloneSession" not in str(exc):
            raise
        session, reason = None, str(exc)
    if session is not None:
        _REGISTRY.held[session.session_id] = set(_REGISTRY.held.get(base.session_id, ()))
        return session, how
    RemoteSession = _connect_session_class()
    session = RemoteSession(connection=remote)
    _emit(
        progress,
        "upload",
        0.0,
        f"uploading {artifacts.pex.name} (no session cloning: {reason[:80]})",
    )
    _add(session, artifacts.pex.local_path, artifacts.pex.name, pyfile=False)
    session.conf.set(PYTHON_CONF, f"./{artifacts.pex.name}")
    return session, "uploaded"


def _emit(progress: Any, phase: str, fraction: float | None, message: str) -> None:
    if progress is not None:
        progress(ProgressEvent(phase, fraction, message))


def _make_default(session: Any) -> None:
    # What `builder.create()` does: later `SparkSession.builder.getOrCreate()` and
    # `getActiveSession()` in the notebook give this session.
    setter = getattr(type(session), "_set_default_and_active_session", None)
    if setter is not None:
        setter(session)


# PySpark's worker refuses to run a UDF pickled by another major.minor; its message names both.
_MISMATCH = re.compile(
    r"Python in worker has different version:?\s*\(?([0-9]+)[.,\s]+([0-9]+)\)?\s*than that "
    r"in driver:?\s*\(?([0-9]+)[.,\s]+([0-9]+)",
    re.S,
)


def check_session_python(session: Any, driver_version: str | None = None) -> str:
    """Run a tiny UDF on the session's executors; return their Python version, or raise
    `PythonVersionMismatch` naming both versions (or PexlabSparkError if workers cannot start)."""
    from pyspark.sql.functions import udf
    from pyspark.sql.types import StringType

    driver = driver_version or "{}.{}".format(*sys.version_info[:2])

    def probe(_: int) -> str:
        import sys as _sys

        return "{}.{}.{}".format(*_sys.version_info[:3])

    # Two tasks: on a typical cluster both first Python workers start now, in parallel.
    try:
        rows = session.range(0, 2, 1, 2).select(udf(probe, StringType())("id")).collect()
        version = str(rows[0][0])
    except Exception as exc:  # SparkConnectGrpcException, PythonException, ...
        text = str(exc)
        m = _MISMATCH.search(text)
        if m:
            raise _Errors.mismatch()(
                f"{m.group(3)}.{m.group(4)}", f"{m.group(1)}.{m.group(2)}"
            ) from None
        python = _safe_conf(session, PYTHON_CONF)
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        interesting = [
            ln for ln in lines if any(s in ln for s in ("Error", "error", "Cannot run", "No such"))
        ][:3] or lines[:3]
        raise _Errors.base()(
            f"The Connect session's executors could not run Python {python!r}: "
            + " | ".join(s[:300] for s in interesting)
        ) from exc
    if ".".join(version.split(".")[:2]) != driver:
        raise _Errors.mismatch()(driver, ".".join(version.split(".")[:2]))
    return version


def _safe_conf(session: Any, key: str) -> str | None:
    try:
        return session.conf.get(key)
    except Exception:
        return None


def _progress_pair(progress: Any) -> tuple[Any, NotebookProgress | None]:
    if progress is True:
        shower = NotebookProgress()
        return shower, shower
    if progress in (False, None):
        return None, None
    if isinstance(progress, NotebookProgress):
        return progress, progress
    return progress, None


def _major_minor(version: str) -> str:
    return ".".join(str(version).split(".")[:2])


def _summary(s: ConnectShipment, ignored: list[str]) -> str:
    a = s.artifacts
    head = (
        f"pexlab: Spark Connect {s.remote}: PEX {'reused' if a.reused else 'built'} "
        f"{s.pex_name} ({format_size(a.pex.size)}"
    )
    head += {
        "uploaded": ", uploaded",
        "cloned": ", already on the server",
        "present": ", already in the session",
    }[s.pex_upload] + ")"
    if s.zip_names:
        head += (
            f" + {len(s.zip_names)} editable zip(s) "
            f"({format_size(sum(z.size for z in a.editables))})"
        )
    head += f"; session {s.session_id[:8]}"
    if s.executors_python:
        head += f"; executors' Python {s.executors_python}"
    if ignored:
        head += f"; ignored on Connect: {', '.join(ignored)}"
    return head + f"; ready in {s.seconds:.1f} s"


def create_connect_session(
    remote: str,
    *,
    conf: Mapping[str, Any] | None = None,
    include_editable: bool = True,
    python: str | os.PathLike[str] | None = None,
    expected_python: str | None = None,
    progress: Any = True,
    check_python: bool = True,
    options: Any = None,
    cache: Any = None,
    storage: str | None = None,
    storage_options: dict[str, Any] | None = None,
    app_name: str | None = None,
    pex_root: str | None = None,
) -> SparkSession:
    """A Spark Connect session on `remote` whose Python UDFs run this kernel's environment.

    `conf`: session (SQL) conf set on the new session.  `storage`, `app_name` and `pex_root`
    have no effect on Connect (artifacts go through the session, the application and executor
    environment are the server's) and are named in the summary if given.
    """
    t0 = time.monotonic()
    remote = validate_remote(remote)
    _connect_session_class()  # fail before packaging if there is no client
    callback, shower = _progress_pair(progress)
    driver = "{}.{}".format(*sys.version_info[:2])
    if expected_python is not None and _major_minor(expected_python) != driver:
        raise _Errors.mismatch()(driver, _major_minor(expected_python))
    ignored = [
        name
        for name, value in (("storage", storage), ("app_name", app_name), ("pex_root", pex_root))
        if value
    ]

    from .package import package_environment

    artifacts = package_environment(
        python=python,
        options=connect_options(options),
        include_editable=include_editable,
        progress=callback,
        cache=cache,
    )
    if _major_minor(artifacts.env.version) != driver:
        raise _Errors.mismatch()(
            driver,
            _major_minor(artifacts.env.version),
            f"The PEX was built from {artifacts.env.python}; package an interpreter with the "
            "kernel's version (python=...) or run the notebook in that interpreter.",
        )
    zip_names = tuple(z.name for z in artifacts.editables)
    wanted = frozenset((artifacts.pex.name, *zip_names))

    with _REGISTRY.lock:
        last = _REGISTRY.last.get(remote)
        shipped = shipment_of(last) if last is not None else None
        if shipped is not None and shipped.names == wanted and not conf and _session_alive(last):
            # Nothing changed since the last call: the same session (its workers already run
            # this code).  Still the current one for the notebook.
            _make_default(last)
            if shower is not None:
                shower.done(
                    f"pexlab: Spark Connect {remote}: session {shipped.session_id[:8]} already "
                    f"has {shipped.pex_name}"
                    + (f" + {len(zip_names)} editable zip(s)" if zip_names else "")
                    + f"; ready in {time.monotonic() - t0:.1f} s"
                )
            return last  # type: ignore[no-any-return]

        if shower is not None:
            shower.status("Starting Spark", f"new Spark Connect session on {remote}")
        session, how = _new_session(remote, artifacts, callback)
        for i, z in enumerate(artifacts.editables):
            _emit(callback, "upload", i / len(artifacts.editables), f"adding {z.name}")
            _add(session, z.local_path, z.name, pyfile=True)
        _unshadow_kernel([z.local_path for z in artifacts.editables])
        if artifacts.editables:
            _emit(callback, "upload", 1.0, f"{len(artifacts.editables)} editable zip(s) added")
        for k, v in (conf or {}).items():
            session.conf.set(str(k), str(v))

        shipment = ConnectShipment(
            remote=remote,
            session_id=session.session_id,
            pex_name=artifacts.pex.name,
            zip_names=zip_names,
            artifacts=artifacts,
            pex_upload=how,
        )
        session._pexlab = shipment  # so the notebook (and the next call) see what it holds
        if check_python:
            if shower is not None:
                shower.status("Checking executors' Python", "one tiny UDF")
            try:
                shipment.executors_python = check_session_python(session, driver)
            except Exception:
                _release(session)
                raise
        _make_default(session)
        _REGISTRY.last[remote] = session
    shipment.seconds = time.monotonic() - t0
    summary = _summary(shipment, ignored)
    if shower is not None:
        shower.done(summary)
    return session  # type: ignore[no-any-return]


def _release(session: Any) -> None:
    """Forget (and release on the server) a session the user never received."""
    _REGISTRY.held.pop(getattr(session, "session_id", ""), None)
    try:
        session.stop()
    except Exception:
        pass


def reset() -> None:
    """Forget the base sessions and last sessions (e.g. after the server restarted)."""
    with _REGISTRY.lock:
        for base in _REGISTRY.bases.values():
            _release(base)
        _REGISTRY.bases.clear()
        _REGISTRY.last.clear()
        _REGISTRY.held.clear()


__all__ = [
    "CLIENT_DISTRIBUTIONS",
    "ConnectShipment",
    "check_session_python",
    "connect_options",
    "create_connect_session",
    "is_connect_url",
    "reset",
    "shipment_of",
    "validate_remote",
]
