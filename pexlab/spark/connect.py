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
- The client uploads local files in 32 KiB chunks through gRPC, so `storage=` plays no part here,
  except as a shared folder from which a layered environment's executors read their layers.
  Artifacts belong to one server-side session.  To avoid uploading the PEX for every session,
  pexlab keeps one private "base" session per (server, PEX) that holds only the PEX and the
  Python conf, and makes each user session a server-side clone of it (`cloneSession`, which
  copies artifacts on the server) plus the editable zips.  A server or client without cloning
  gets a plain new session and the PEX uploaded again.
- The edit loop: calling `create_spark_session(remote=...)` again with the same environment returns the
  session it made last time; after an edit of an editable project the zip has a new name, so a
  NEW session is made (same server, same Spark application, PEX reused from the cache): Python
  workers are per session, so no worker keeps the old code.  Earlier sessions stay usable.
- `spark.executorEnv.PEX_ROOT` set by a client is accepted and ignored (executor environments
  are the server application's), so the PEX picks its root itself: the server's
  `spark.executorEnv.PEX_ROOT` if its admin set one, else the launcher's node cache
  (`pexlab.nodecache.upkeep`, under the executor user's `~/.cache/pexlab`), which is node-level and
  shared by sessions and applications: a node unpacks a given PEX once (README, "Spark Connect").
- Before returning, a tiny UDF runs on the executors: a worker whose Python has another
  major.minor than the kernel's is reported with both versions (`PythonVersionMismatch`).
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import TYPE_CHECKING, Any, cast

from pexlab.core.progress import ProgressCallback, report
from pexlab.spark import job_progress
from pexlab.spark.conf import CONNECT_PYTHON_CONF as PYTHON_CONF
from pexlab.spark.connect_base import (
    REGISTRY,
    SHIPMENT_ATTR,
    ConnectShipment,
    add_artifact,
    make_default,
    new_session,
    session_alive,
    shipment_of,
    unshadow_kernel,
)
from pexlab.spark.connect_url import (
    check_reachable,
    connect_session_class,
    remote_of,
    validate_remote,
)
from pexlab.spark.errors import (
    PexlabSparkError,
    PythonVersionMismatch,
    check_expected,
    check_packaged,
    driver_python,
    major_minor,
    telling_lines,
    version_mismatch,
)
from pexlab.spark.notebook_progress import NotebookProgress, failing, progress_for
from pexlab.spark.options import SessionOptions
from pexlab.storage.upload import shared_folder

if TYPE_CHECKING:  # the client is imported lazily: `import pexlab` must not need it
    from pyspark.sql import SparkSession


def check_session_python(session: Any, driver_version: str | None = None) -> str:
    """Run a tiny UDF on the session's executors; return their Python version, or raise
    `PythonVersionMismatch` naming both versions (PexlabSparkError if workers cannot start)."""
    from pyspark.sql.functions import udf
    from pyspark.sql.types import StringType

    driver = driver_version or driver_python()

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
        raise PexlabSparkError(
            f"The Connect session's executors could not run Python {python!r}: "
            + " | ".join(telling_lines(text))
        ) from exc
    if major_minor(version) != major_minor(driver):
        raise PythonVersionMismatch(driver, major_minor(version))
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
    head = f"pexlab: Spark Connect {s.remote}: {a.describe()}, PEX {where}"
    head += f"; session {s.session_id[:8]}"
    if s.executors_python:
        head += f"; executors' Python {s.executors_python}"
    if ignored:
        head += f"; not used on Connect: {', '.join(ignored)}"
    return head + f"; ready in {s.seconds:.1f} s"


def connect_session(opts: SessionOptions) -> SparkSession:
    """A Spark Connect session for `opts.remote` (or an `sc://` master) whose Python UDFs run
    the kernel's environment; see the module docstring.

    `opts.conf` is set on the new session (runtime/SQL conf).  `storage` serves only a layered
    environment, and only as a shared folder the executors read; it, `app_name` and
    `pex_root` have no other effect on Connect (artifacts go through the session; the application and
    the executors' environment are the server's); the summary names them when given."""
    t0 = time.monotonic()
    remote = remote_of(opts)
    check_reachable(remote)  # fail before packaging if there is no server...
    connect_session_class()  # ...or no client
    # What pyspark's own `builder.remote(...).create()` sets: with full pyspark as the client,
    # `pyspark.sql.functions` (udf, ...) then build Connect expressions, not classic ones.
    os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
    callback, shower = progress_for(opts.progress)
    with failing(shower):
        return _connect(opts, remote, t0, callback, shower)


def _connect(
    opts: SessionOptions,
    remote: str,
    t0: float,
    callback: ProgressCallback | None,
    shower: NotebookProgress | None,
) -> SparkSession:
    driver = driver_python()
    if opts.expected_python is not None:
        check_expected(opts.expected_python, driver)
    # A layered environment's layers may stay in a shared storage folder the executors read
    # (named to them by a file beside the launcher); any other storage has no use here.
    layer_storage = (
        opts.storage
        if opts.storage
        and opts.build_options.layout == "layers"
        and shared_folder(opts.storage) is not None
        else None
    )
    ignored = [
        name
        for name, value in (
            ("storage", opts.storage if layer_storage is None else None),
            ("app_name", opts.app_name),
            ("pex_root", opts.pex_root),
        )
        if value
    ]

    from pexlab.package import package_environment

    # Otherwise no storage: the client uploads local files only (the server never reads a URL).
    artifacts = package_environment(
        python=opts.python,
        storage=layer_storage,
        storage_options=dict(opts.storage_options or {}),
        options=opts.build_options,
        include_editable=opts.include_editable,
        progress=callback,
        cache=opts.cache,
    )
    check_packaged(artifacts.env, driver)
    zip_names = tuple(z.name for z in artifacts.editables)
    user_conf = opts.user_conf
    user_conf.pop("spark.master", None)  # static; the server's

    with REGISTRY.lock:
        last = REGISTRY.last.get(remote)
        shipped = shipment_of(last) if last is not None else None
        if (
            last is not None
            and shipped is not None
            and shipped.holds(artifacts)
            and session_alive(last)
        ):
            # Nothing changed since the last call: the same session (its workers already
            # run this code), with the caller's conf applied.
            for key, value in user_conf.items():
                last.conf.set(key, value)
            make_default(last)
            if shower is not None:
                shower.done(
                    f"pexlab: Spark Connect {remote}: session {shipped.session_id[:8]} already "
                    f"has {shipped.pex_name}"
                    + (f" + {len(zip_names)} editable zip(s)" if zip_names else "")
                    + f"; ready in {time.monotonic() - t0:.1f} s"
                )
            return cast("SparkSession", last)  # Connect's, duck-typed like the classic one

        report(callback, "spark", None, f"new Spark Connect session on {remote}")
        session, how = new_session(remote, artifacts, opts, callback)
        for i, z in enumerate(artifacts.editables):
            report(callback, "upload", i / len(artifacts.editables), f"adding {z.name}")
            add_artifact(session, z.local_path, z.name, pyfile=True)
        unshadow_kernel([z.local_path for z in artifacts.editables])
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
        setattr(session, SHIPMENT_ATTR, shipment)  # for the notebook and the next call
        if opts.check_python:
            report(callback, "check", None, "one tiny UDF")
            try:
                shipment.executors_python = check_session_python(session, driver)
            except Exception:
                _release(session)  # unusable, and the user holds no handle to stop it
                raise
        make_default(session)
        job_progress.watch_connect(session)  # a live line per query under the cell (kernel only)
        REGISTRY.last[remote] = session
    shipment.seconds = time.monotonic() - t0
    if shower is not None:
        shower.done(_summary(shipment, ignored))
    return cast("SparkSession", session)


def _release(session: Any) -> None:
    """Forget (and close on the server) a session the user never received."""
    REGISTRY.held.pop(str(getattr(session, "session_id", "")), None)
    with contextlib.suppress(Exception):  # already gone: nothing to release
        session.stop()


def reset() -> None:
    """Forget the base and last sessions (e.g. after the Connect server restarted)."""
    with REGISTRY.lock:
        for base in REGISTRY.bases.values():
            _release(base)
        REGISTRY.bases.clear()
        REGISTRY.last.clear()
        REGISTRY.held.clear()


__all__ = [
    "PYTHON_CONF",
    "ConnectShipment",
    "check_session_python",
    "connect_session",
    "reset",
    "shipment_of",
    "validate_remote",
]
