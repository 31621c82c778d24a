"""Spark contexts and sessions whose executors run the kernel's environment.

This layer touches Spark: it starts (or reuses) the JVM and the SparkContext from the plan the
conf layer (`pexlab.spark.conf`) made, and checks the executors' Python.  Why it does what it
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
  artifacts to the same master; the plan a context was made from lives on the context.  A
  context pexlab made that ships something else (the edit loop: a `pip install` or an edit
  since) is stopped and a new one made; a context pexlab did not make is never stopped.
- Session start never hangs the kernel (`pexlab.spark.executor_start`): a standalone master that does
  not answer is reported before packaging; the constructor and the probe job are watched with
  `start_timeout` (the probe under its own job group, cancelled on a timeout or Ctrl-C), and a
  failure quotes Spark's own log lines, names the executor, and says what to do.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pexlab.core.errors import add_detail
from pexlab.core.progress import ProgressCallback, report
from pexlab.nodecache import upkeep as node_cache
from pexlab.spark import executor_start, job_progress, jvm_stderr, layer_server
from pexlab.spark.conf import (
    SparkPlan,
    master_kind,
    plan,
    validate_master,
)
from pexlab.spark.contexts import context_conf, remember_plan, reuse_or_stop, unshadow_driver
from pexlab.spark.errors import (
    ExecutorStartError,
    PexlabSparkError,
    check_expected,
    check_packaged,
    driver_python,
    major_minor,
    telling_lines,
    version_mismatch,
)
from pexlab.spark.notebook_progress import NotebookProgress, failing, progress_for
from pexlab.spark.options import SessionOptions

if TYPE_CHECKING:  # pyspark is imported lazily: `import pexlab` must not need it
    from pyspark import SparkConf, SparkContext


@contextmanager
def _pyspark_python(value: str) -> Iterator[None]:
    """PYSPARK_PYTHON for the block (PySpark reads it when a context is created), then the
    kernel's own value again, also on error."""
    saved = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PYSPARK_PYTHON", None)
        else:
            os.environ["PYSPARK_PYTHON"] = saved


# ---- the executors' Python ------------------------------------------------------------------------


def check_executor_python(
    sc: SparkContext | None,
    expected: str | None = None,
    driver_version: str | None = None,
    *,
    start_timeout: float | None = None,
    log: executor_start.StartLog | None = None,
    pex_root: str | None = None,
    notes: list[str] | None = None,
    facts: list[str] | None = None,
) -> str:
    """Fail early, naming both versions, if executors cannot run this driver's Python.

    With `expected` (the executors' known major.minor) no job is run and `sc` may be None.
    Otherwise a tiny job runs, one task per core, under a job group that is cancelled (with
    Spark's reason) when no executor comes within `start_timeout`
    (`pexlab.spark.executor_start.run_probe`).  PySpark's worker refuses a different major.minor
    before running it, and that refusal is turned into `PythonVersionMismatch`; an executor that
    cannot start the PEX is named, with what the PEX printed.  The probe also starts the node
    cache's upkeep (`pexlab.nodecache.upkeep`).  `notes` collects what the user should know (an
    environment pex had to put in a temporary folder), `facts` what the summary line says (the
    nodes where this was the environment's first start).  Returns the executors' version.
    """
    driver = driver_version or driver_python()
    if expected is not None:
        check_expected(expected, driver)
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
    )
    if outcome.error is None:
        results = outcome.results or []
        if notes is not None:
            notes.extend(executor_start.misplaced(results, pex_root))
        if facts is not None:
            facts.extend(executor_start.first_starts(results))
        return str(results[0]["version"])
    failure = outcome.error
    text = str(failure)
    mismatch = version_mismatch(text)
    if mismatch is not None:
        raise mismatch from None
    who = executor_start.failed_executor(text)
    said = executor_start.worker_stderr(text)
    if not said:
        said = telling_lines(text)
    where = f"executor {who[1]} on {who[0]}" if who else "Executors"
    reason = " | ".join(said)
    raise ExecutorStartError(
        f"{where} could not start Python with interpreter "
        f"{getattr(sc, 'pythonExec', '?')!r}: {reason}. "
        + executor_start.start_hint(reason, pex_root, major_minor(driver))
    ) from failure


def _summary(
    p: SparkPlan, seconds: float, executors_python: str | None, facts: list[str] | None = None
) -> str:
    if p.artifacts is None:
        head = f"pexlab: local master {p.master}, nothing shipped; workers use {p.executor_python}"
    else:
        a = p.artifacts
        head = f"pexlab: {a.describe()} in {a.seconds:.1f} s"
        where = a.storage or "local files served by the driver"
        head += f"; shipped from {where}"
    if executors_python:
        head += f"; executors' Python {executors_python}"
    for fact in facts or ():
        head += f"; {fact}"
    return head + f"; ready in {seconds:.1f} s"


# ---- the JVM's stderr ---------------------------------------------------------------------------


def _start_jvm(conf: SparkConf) -> jvm_stderr.JvmStderr | None:
    """Start PySpark's JVM (if none runs yet) with its stderr held back while a context starts
    (`pexlab.spark.jvm_stderr`); the reader of that stderr when pexlab started the JVM."""
    from pyspark import SparkContext

    if SparkContext._gateway is not None:
        reader = jvm_stderr.reader_for(SparkContext._gateway)
        if reader is not None:
            reader.start_buffering()
        SparkContext._ensure_initialized(conf=conf)
        return reader
    with jvm_stderr.launching() as reader:
        try:
            SparkContext._ensure_initialized(conf=conf)
        except BaseException as exc:
            _jvm_said(reader, exc)
            raise
    reader.gateway = SparkContext._gateway
    return reader


def _jvm_said(reader: jvm_stderr.JvmStderr | None, exc: BaseException) -> None:
    """A failed start: what the JVM printed meanwhile goes into the error, not the cell."""
    if reader is None:
        return
    lines = jvm_stderr.quiet_lines(reader.finish())[-jvm_stderr.ERROR_LINES :]
    if lines:
        add_detail(exc, "The Spark driver printed while starting:\n" + "\n".join(lines))


# ---- entry points -------------------------------------------------------------------------------


def context_for(opts: SessionOptions) -> SparkContext:
    """A SparkContext for `opts` (see `create_spark_context`)."""
    callback, shower = progress_for(opts.progress)
    with failing(shower):
        return _context_for(opts, callback, shower)


def _context_for(
    opts: SessionOptions, callback: ProgressCallback | None, shower: NotebookProgress | None
) -> SparkContext:
    t0 = time.monotonic()
    from pyspark import SparkContext

    driver = driver_python()
    if opts.expected_python is not None:
        # Known up front: fail before packaging anything.
        check_executor_python(None, opts.expected_python, driver)
    # Before packaging: a typo or a master that does not answer must not cost a build.
    target = validate_master(opts.resolved_master)
    if master_kind(opts.resolved_master) == "yarn":
        from pexlab.spark.yarn import check_resource_manager

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
    p = plan(opts, callback, serve_layers=layer_server.serve)
    if p.artifacts is not None:
        check_packaged(p.artifacts.env, driver)
    if opts.app_name:
        p.conf.setdefault("spark.app.name", opts.app_name)
    p.conf.setdefault("spark.app.name", "pexlab")
    # Spark's console progress bar garbles a cell's output and leaves a blank line behind.
    p.conf.setdefault("spark.ui.showConsoleProgress", "false")

    active = SparkContext._active_spark_context
    log: executor_start.StartLog | None = None
    jvm_err: jvm_stderr.JvmStderr | None = None
    if active is not None and getattr(active, "_jsc", None) is None:
        raise ExecutorStartError(
            "An earlier session start is still being given up by Spark (its master did not "
            "answer); try again in a minute."
        )
    if active is not None and reuse_or_stop(active, p):
        sc = active
        created = False
    else:
        report(callback, "spark", None, p.master)
        with _pyspark_python(p.executor_python):
            # Start the JVM with this plan's conf (driver JVM options apply at launch only),
            # then listen to Spark's log before the context exists: its reasons are only there.
            conf = context_conf(p)
            jvm_err = _start_jvm(conf)
            try:
                log = executor_start.StartLog.install(SparkContext._jvm)
                try:
                    sc = executor_start.create_context(
                        lambda: SparkContext(conf=conf),
                        master=p.master,
                        log=log,
                        timeout=opts.start_timeout,
                    )
                except BaseException:
                    log.remove()
                    raise
            except BaseException as exc:
                _jvm_said(jvm_err, exc)
                raise
        created = True
        unshadow_driver(p)
        # So the notebook (and a later reuse check) can see what this context ships.
        remember_plan(sc, p)

    executors_python = None
    notes: list[str] = []  # warnings
    facts: list[str] = []  # for the summary line
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
                    facts=facts,
                )
            except (PexlabSparkError, KeyboardInterrupt):
                if created:
                    sc.stop()  # unusable, and the user holds no handle to stop it
                raise
    except BaseException as exc:
        _jvm_said(jvm_err, exc)
        raise
    finally:
        if log is not None:
            log.remove()
    if jvm_err is not None:
        jvm_err.finish()  # a good start: its chatter is dropped, later lines pass through
    if created:
        job_progress.watch(sc)  # a live line per job under the cell that runs it (kernel only)
    for note in notes:
        print(f"pexlab: warning: {note}", file=sys.stderr)
    summary = _summary(p, time.monotonic() - t0, executors_python, facts)
    if shower is not None:
        shower.done(summary)
    return sc
