"""Spark contexts and sessions whose executors run the kernel's environment.

This layer touches Spark: it starts (or reuses) the JVM and the SparkContext from the plan the
conf layer (`pexlab.spark_conf`) made, and checks the executors' Python.  Why it does what it
does:

- PySpark reads the executors' interpreter from `PYSPARK_PYTHON` once, when the SparkContext is
  created; we set the variable for the creation only and restore the kernel's value afterwards,
  also on error.
- PySpark starts its JVM once per process with the first context's conf as system properties,
  and every later `SparkConf(loadDefaults=True)` reads them back: a second context (after
  stop(), e.g. with edited editables or a local master) would inherit the first one's PEX and
  zips.  The keys pexlab put there are recorded in the JVM itself, beside them
  (`spark.pexlab.managed`), so they can be dropped later without any Python-side global.
- Spark allows one context per process: a running one is reused only if it ships the same
  artifacts to the same master; the plan a context was made from lives on the context.
- Session start never hangs the kernel (`pexlab.executor_start`): a standalone master that does
  not answer is reported before packaging; the constructor and the probe job are watched with
  `start_timeout` (the probe under its own job group, cancelled on a timeout or Ctrl-C), and a
  failure quotes Spark's own log lines, names the executor, and says what to do.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from . import executor_start, node_cache
from .notebook_progress import format_size, progress_for
from .options import BuildOptionsLike
from .progress import report
from .spark_conf import (
    LIST_KEYS,
    MANAGED_KEYS,
    PexlabSparkError,
    SparkPlan,
    is_local_master,
    master_kind,
    plan,
    shipped_names,
    validate_master,
)
from .spark_options import ProgressArg, SessionOptions

if TYPE_CHECKING:  # pyspark is imported lazily: `import pexlab` must not need it
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    from .cache import Cache
    from .package import Artifacts

# JVM system property listing the MANAGED_KEYS the JVM was started with by pexlab.
MANAGED_MARKER = "spark.pexlab.managed"
# Attribute of a SparkContext made by pexlab: the SparkPlan it was made from.
_PLAN_ATTR = "_pexlab_plan"


class ExecutorStartError(PexlabSparkError):
    """Executors did not come, or could not start the environment (see pexlab.executor_start)."""


class PythonVersionMismatch(PexlabSparkError):
    def __init__(self, driver: str, executors: str, detail: str = "") -> None:
        self.driver = driver
        self.executors = executors
        super().__init__(
            f"Executors run Python {executors} but this driver runs Python {driver}: PySpark "
            f"needs the same major.minor on both sides. "
            + (
                detail
                or "Use a kernel with the executors' Python version, or make "
                "executors run the driver's (e.g. spark.executorEnv.PEX_PYTHON=python"
                f"{driver} if it is installed there)."
            )
        )


def _major_minor(version: str) -> str:
    parts = str(version).strip().split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise PexlabSparkError(f"Not a Python version: {version!r} (expected e.g. '3.11').")
    return ".".join(parts[:2])


@contextmanager
def environ(**values: str | None) -> Iterator[None]:
    """Set (or unset, for None) environment variables for the block; restore them afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


# ---- the JVM and the contexts in it --------------------------------------------------------------


def _context_conf(p: SparkPlan) -> SparkConf:
    """The SparkConf for a new context from `p`, without what an earlier pexlab context left in
    the JVM's system properties (see module docstring)."""
    from pyspark import SparkConf

    conf = SparkConf(loadDefaults=True)
    jconf = conf._jconf
    # Read from the JVM: set at its start (the only time conf becomes system properties).
    for key in _split(conf.get(MANAGED_MARKER)):
        # Paths in the JVM were rewritten as URIs by spark-submit, so values cannot be compared;
        # removing the key from this SparkConf is not enough (the JVM context reads the system
        # property again), so list keys are set to empty.
        if key in p.conf or not conf.contains(key):
            continue
        if key in LIST_KEYS:
            conf.set(key, "")
        elif jconf is not None:
            jconf.remove(key)
    conf.setAll(list(p.conf.items()))
    conf.set(MANAGED_MARKER, ",".join(k for k in MANAGED_KEYS if k in p.conf))
    return conf


def plan_of(sc: SparkContext) -> SparkPlan | None:
    """The plan a context made by pexlab was made from (None for other contexts)."""
    p = getattr(sc, _PLAN_ATTR, None)
    return p if isinstance(p, SparkPlan) else None


def artifacts_of(sc: SparkContext) -> Artifacts | None:
    """The artifacts a context made by pexlab ships (None for local masters / other contexts)."""
    p = plan_of(sc)
    return p.artifacts if p is not None else None


def _check_active(active: SparkContext, p: SparkPlan) -> None:
    """Reuse a running context only if it ships the same things; else say what to do."""
    running = active.getConf()
    active_master = active.master or ""
    python_exec = getattr(active, "pythonExec", None)
    problems = []
    if is_local_master(active_master) != is_local_master(p.master) or (
        not is_local_master(p.master) and active_master != p.master
    ):
        problems.append(f"master {active_master!r} instead of {p.master!r}")
    if not p.local:
        previous = plan_of(active)
        if previous is not None and previous.artifacts is not None:
            # Made by pexlab: exactly the same PEX and editable zips, no more, no less.
            have_names = shipped_names(previous.artifacts)
            want_names = shipped_names(p.artifacts)
            if have_names != want_names:
                problems.append(
                    "it ships "
                    + ", ".join(sorted(have_names))
                    + " instead of "
                    + ", ".join(sorted(want_names))
                )
        else:
            for key in LIST_KEYS:
                want = {PurePosixPath(e).name for e in _split(p.conf.get(key))}
                have = {PurePosixPath(e).name for e in _split(running.get(key))}
                if not want <= have:
                    problems.append(f"{key} lacks {', '.join(sorted(want - have))}")
        if python_exec != p.executor_python:
            problems.append(f"executors run {python_exec or '?'!r}")
    elif python_exec not in (p.executor_python, None):
        problems.append(f"workers run {python_exec!r}, not {p.executor_python!r}")
    if problems:
        raise PexlabSparkError(
            "A SparkContext is already running with different settings ("
            + "; ".join(problems)
            + "). Stop it first (spark.stop() or sc.stop()), then call pexlab again: Spark "
            "allows one context per process and executors keep code they already imported."
        )


def _unshadow_driver(p: SparkPlan) -> None:
    # PySpark puts every pyFile at sys.path[1] on the driver too.  In a kernel that would make
    # the editable projects import from a snapshot zip instead of their live sources (and the
    # next edit would not be seen): keep the zips for executors only.
    if not p.py_files:
        return
    names = set(p.py_files)
    sys.path[:] = [e for e in sys.path if not (e.endswith(".zip") and os.path.basename(e) in names)]


# ---- the executors' Python ------------------------------------------------------------------------

_MISMATCH = re.compile(
    r"Python in worker has different version:?\s*\(?([0-9]+)[.,\s]+([0-9]+)\)?\s*than that in driver:?\s*\(?([0-9]+)[.,\s]+([0-9]+)",
    re.S,
)


def version_mismatch(text: str) -> PythonVersionMismatch | None:
    """PySpark's refusal of a worker with another major.minor, found in an error's text (classic
    and Connect sessions word it the same way), as a PythonVersionMismatch naming both."""
    m = _MISMATCH.search(text)
    if m is None:
        return None
    return PythonVersionMismatch(f"{m.group(3)}.{m.group(4)}", f"{m.group(1)}.{m.group(2)}")


def check_executor_python(
    sc: SparkContext | None,
    expected: str | None = None,
    driver_version: str | None = None,
    *,
    start_timeout: float | None = None,
    log: executor_start.StartLog | None = None,
    pex_root: str | None = None,
    notes: list[str] | None = None,
) -> str:
    """Fail early, naming both versions, if executors cannot run this driver's Python.

    With `expected` (the executors' known major.minor) no job is run and `sc` may be None.
    Otherwise a tiny job runs, one task per core, under a job group that is cancelled (with
    Spark's reason) when no executor comes within `start_timeout`
    (`pexlab.executor_start.run_probe`).  PySpark's worker refuses a different major.minor
    before running it, and that refusal is turned into `PythonVersionMismatch`; an executor that
    cannot start the PEX is named, with what the PEX printed.  The probe also starts the node
    cache's upkeep (`pexlab.node_cache`).  `notes` collects what the user should know (an
    environment pex had to put in a temporary folder).  Returns the executors' version.
    """
    driver = driver_version or "{}.{}".format(*sys.version_info[:2])
    if expected is not None:
        if _major_minor(expected) != _major_minor(driver):
            raise PythonVersionMismatch(driver, _major_minor(expected))
        return expected
    if sc is None:
        raise PexlabSparkError("check_executor_python needs a SparkContext or `expected`.")
    try:
        cap = node_cache.parse_size(
            sc.getConf().get(node_cache.MAX_SIZE_CONF, node_cache.DEFAULT_MAX_SIZE)
            or node_cache.DEFAULT_MAX_SIZE
        )
    except node_cache.NodeCacheError as exc:
        raise PexlabSparkError(str(exc)) from None
    # One task per core (capped): every executor starts its Python now, in parallel, so a first
    # run's PEX extraction happens here rather than one executor after the other in the
    # user's first job.
    slices = max(1, min(int(sc.defaultParallelism or 1), 64))
    outcome = executor_start.run_probe(
        sc,
        executor_start.make_probe(cap),
        slices,
        master=str(sc.master),
        log=log,
        start_timeout=start_timeout,
        error=ExecutorStartError,
    )
    if outcome.error is None:
        results = outcome.results or []
        if notes is not None:
            notes.extend(executor_start.misplaced(results, pex_root))
        return str(results[0]["version"])
    failure = outcome.error
    text = str(failure)
    mismatch = version_mismatch(text)
    if mismatch is not None:
        raise mismatch from None
    who = executor_start.failed_executor(text)
    said = executor_start.worker_stderr(text)
    if not said:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        said = [
            ln.strip()[:300]
            for ln in lines
            if any(s in ln for s in ("Error", "error", "No such file", "Cannot run program"))
        ][:3] or [ln.strip()[:300] for ln in lines[:3]]
    where = f"executor {who[1]} on {who[0]}" if who else "Executors"
    reason = " | ".join(said)
    raise ExecutorStartError(
        f"{where} could not start Python with interpreter "
        f"{getattr(sc, 'pythonExec', '?')!r}: {reason}. "
        + executor_start.start_hint(reason, pex_root, _major_minor(driver))
    ) from failure


def _summary(p: SparkPlan, seconds: float, executors_python: str | None) -> str:
    if p.artifacts is None:
        head = f"pexlab: local master {p.master}, nothing shipped; workers use {p.executor_python}"
    else:
        a = p.artifacts
        head = (
            f"pexlab: PEX {'reused' if a.reused else 'built'} {a.pex.name} "
            f"({format_size(a.pex.size)})"
        )
        if a.editables:
            head += (
                f" + {len(a.editables)} editable zip(s) "
                f"({format_size(sum(z.size for z in a.editables))})"
            )
        head += f" in {a.seconds:.1f} s"
        where = a.storage or "local files served by the driver"
        head += f"; shipped from {where}"
    if executors_python:
        head += f"; executors' Python {executors_python}"
    return head + f"; ready in {seconds:.1f} s"


# ---- entry points -------------------------------------------------------------------------------


def context_for(opts: SessionOptions) -> SparkContext:
    """A SparkContext for `opts` (see `create_spark_context`)."""
    t0 = time.monotonic()
    from pyspark import SparkContext

    callback, shower = progress_for(opts.progress)
    driver = "{}.{}".format(*sys.version_info[:2])
    if opts.expected_python is not None:
        # Known up front: fail before packaging anything.
        check_executor_python(None, opts.expected_python, driver)
    # Before packaging: a typo or a master that does not answer must not cost a build.
    target = validate_master(opts.resolved_master)
    if master_kind(opts.resolved_master) == "yarn":
        from .yarn import check_resource_manager

        # Seconds instead of the YARN client's 15 minutes of retries, and before packaging.
        check_resource_manager()
    if SparkContext._active_spark_context is None:
        down = executor_start.master_unreachable(target)
        if down:
            raise ExecutorStartError(
                f"Cannot reach the Spark master {target} ({down}); Spark would retry for a "
                "minute and then report 'All masters are unresponsive'. Check the host and "
                "port (a standalone master listens on 7077 by default; 8080 is its web UI) and "
                "that the master is running."
            )
    p = plan(opts, callback)
    if p.artifacts is not None and _major_minor(p.artifacts.env.version) != driver:
        raise PythonVersionMismatch(
            driver,
            _major_minor(p.artifacts.env.version),
            f"The PEX was built from {p.artifacts.env.python}; package an interpreter with the "
            "driver's version (python=...) or run the notebook in that interpreter.",
        )
    if opts.app_name:
        p.conf.setdefault("spark.app.name", opts.app_name)
    p.conf.setdefault("spark.app.name", "pexlab")

    active = SparkContext._active_spark_context
    log: executor_start.StartLog | None = None
    if active is not None and getattr(active, "_jsc", None) is None:
        raise ExecutorStartError(
            "An earlier session start is still being given up by Spark (its master did not "
            "answer); try again in a minute."
        )
    if active is not None:
        _check_active(active, p)
        sc = active
        created = False
    else:
        report(callback, "spark", None, p.master)
        with environ(PYSPARK_PYTHON=p.executor_python):
            # Start the JVM with this plan's conf (driver JVM options apply at launch only),
            # then listen to Spark's log before the context exists: its reasons are only there.
            conf = _context_conf(p)
            SparkContext._ensure_initialized(conf=conf)
            log = executor_start.StartLog.install(SparkContext._jvm)
            try:
                sc = executor_start.create_context(
                    lambda: SparkContext(conf=conf),
                    master=p.master,
                    log=log,
                    timeout=opts.start_timeout,
                    error=ExecutorStartError,
                )
            except BaseException:
                log.remove()
                raise
        created = True
        _unshadow_driver(p)
        # So the notebook (and a later reuse check) can see what this context ships.
        setattr(sc, _PLAN_ATTR, p)

    executors_python = None
    notes: list[str] = []
    try:
        if opts.check_python and not p.local:
            report(callback, "check", None, "one probe task")
            try:
                executors_python = check_executor_python(
                    sc,
                    opts.expected_python,
                    driver,
                    start_timeout=opts.start_timeout,
                    log=log,
                    pex_root=p.conf.get("spark.executorEnv.PEX_ROOT"),
                    notes=notes,
                )
            except (PexlabSparkError, KeyboardInterrupt):
                if created:
                    sc.stop()  # unusable, and the user holds no handle to stop it
                raise
    finally:
        if log is not None:
            log.remove()
    for note in notes:
        print(f"pexlab: warning: {note}", file=sys.stderr)
    summary = _summary(p, time.monotonic() - t0, executors_python)
    if shower is not None:
        shower.done(summary)
    return sc


def _connect_session(opts: SessionOptions) -> SparkSession:
    """A Spark Connect session for `opts.remote` (or an `sc://` master)."""
    # Imported here: pexlab.spark_connect imports this module (errors, version check).
    from .spark_connect import connect_session

    return connect_session(opts)


def session_for(opts: SessionOptions) -> SparkSession:
    """A SparkSession for `opts` (see `create_spark_session`)."""
    if opts.remote or master_kind(opts.resolved_master) == "connect":
        return _connect_session(opts)
    from pyspark.sql import SparkSession

    context_for(opts)
    # The builder finds the context we just made (SQL confs come from its SparkConf).
    return SparkSession.builder.getOrCreate()


def create_spark_context(
    master: str | None = None,
    app_name: str | None = None,
    storage: str | None = None,
    conf: Mapping[str, Any] | None = None,
    include_editable: bool = True,
    python: str | os.PathLike[str] | None = None,
    expected_python: str | None = None,
    progress: ProgressArg = True,
    check_python: bool = True,
    pex_root: str | None = None,
    options: BuildOptionsLike = None,
    cache: Cache | None = None,
    storage_options: Mapping[str, Any] | None = None,
    start_timeout: float | None = None,
) -> SparkContext:
    """A SparkContext whose executors run this kernel's environment (see pexlab.spark_conf).

    `master`: Spark master URL (default: conf's spark.master, else `local[*]`); `storage`: where
    executors fetch artifacts (fsspec URL; default: served from the driver); `conf`: extra
    Spark conf, winning over pexlab's; `python`: interpreter to package (default: this one);
    `expected_python`: executors' major.minor if known (skips the probe task); `progress`: True
    for notebook/stderr feedback, False for none, or a ProgressCallback; `options`: build
    options (a BuildOptions or a dict of the fields to change); `pex_root`: executors'
    PEX_ROOT (default: the per-user node cache, see pexlab.node_cache); `start_timeout`:
    seconds the cluster may take to start the context and grant the first executor (default
    60; the error then quotes Spark's reason).
    """
    # The parameters are SessionOptions' fields, by name.
    return context_for(SessionOptions(**locals()))


def create_spark_session(
    master: str | None = None,
    app_name: str | None = None,
    storage: str | None = None,
    conf: Mapping[str, Any] | None = None,
    include_editable: bool = True,
    python: str | os.PathLike[str] | None = None,
    expected_python: str | None = None,
    progress: ProgressArg = True,
    check_python: bool = True,
    pex_root: str | None = None,
    options: BuildOptionsLike = None,
    cache: Cache | None = None,
    storage_options: Mapping[str, Any] | None = None,
    remote: str | None = None,
    start_timeout: float | None = None,
) -> SparkSession:
    """A SparkSession on top of `create_spark_context(...)` (same arguments).

    `remote` (or a `master` of `sc://host:port`): a Spark Connect server instead."""
    return session_for(SessionOptions(**locals()))
