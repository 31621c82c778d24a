"""Spark sessions whose executors run the kernel's environment: the PEX + editable zips.

What goes into the Spark configuration, and why (see DESIGN.md, section Spark):

- `spark.files` carries the PEX (local path, or the URL it was uploaded to): Spark puts it in
  every executor's working directory and makes it executable, on standalone, YARN and Kubernetes
  alike, so executors run `./<pex name>`.
- PySpark reads the executors' interpreter from `PYSPARK_PYTHON` once, when the SparkContext is
  created (`spark.pyspark.python` is honoured only by spark-submit's launcher).  We set the
  variable for the creation only and restore the kernel's value afterwards, also on error.
  `spark.pyspark.python` is set too, for `spark-submit` and so the choice is visible in the conf.
- PEX_ROOT: by default none is set; the PEX's own launcher picks a per-user, content-keyed
  folder on each node that later applications reuse (`pexlab.node_cache`).  `pex_root=` sets
  `spark.executorEnv.PEX_ROOT` and wins (e.g. `./.pex`: the executor's work dir, per application).
- Session start never hangs the kernel (`pexlab.executor_start`): the master URL's form is
  checked before packaging, a standalone master that does not answer is reported at once, and
  the probe job runs under a job group that is cancelled when no executor comes within
  `start_timeout`, with Spark's own reason and what to do.
- Editable projects ship as zips with content-hashed names in `spark.files` +
  `spark.submit.pyFiles`; PySpark puts pyFiles at `sys.path[1]` on executors, ahead of the PEX.
  Spark refuses to overwrite an added path, hence a new name for new content.
- pyspark/py4j are left out of the PEX: the executor's PYTHONPATH has Spark's own
  `python/lib/pyspark.zip` and py4j, which the PEX (`--inherit-path=fallback`) keeps.
- `local[*]`: workers run on this machine, so nothing is shipped; the executors' interpreter is
  the one being packaged (default: this one), not whatever `python3` is on PATH.
- Kubernetes in cluster mode cannot serve local files from the driver: give `storage=` (an
  object store URL) or set `spark.kubernetes.file.upload.path`.  YARN and standalone fetch local
  paths from the driver.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from .notebook_progress import NotebookProgress, format_size

if TYPE_CHECKING:  # pyspark is imported lazily: `import pexlab` must not need it
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    from .package import Artifacts

# Conf keys holding comma-separated lists: the user's entries are kept and ours added.
LIST_KEYS = ("spark.files", "spark.submit.pyFiles")
# PEX_ROOT of PEXes without the node-cache launcher (BuildOptions(sh_boot=False)).
LEGACY_PEX_ROOT = "./.pex"
_LOCAL_MASTER = re.compile(r"^local(\[[^\]]*\])?$|^local-cluster\[")
# Master URL forms Spark accepts (SparkContext.createTaskScheduler + SparkSubmit).
_MASTER_FORMS = re.compile(
    r"^(local(\[[^\]]*\])?|local-cluster\[[^\]]+\]|yarn|spark://[^/\s]+|k8s://\S+|mesos://\S+"
    r"|sc://\S+)$"
)


class PexlabSparkError(RuntimeError):
    """A Spark session could not be set up with the kernel's environment."""


class ExecutorStartError(PexlabSparkError):
    """Executors did not come, or could not start the environment (see pexlab.executor_start)."""


def validate_master(master: str) -> str:
    """`master` if Spark accepts its form; else a PexlabSparkError naming the forms (checked
    before anything is packaged: a typo must not cost a build)."""
    url = master.strip()
    if _MASTER_FORMS.match(url):
        return url
    scheme = url.split("://", 1)[0] if "://" in url else ""
    hint = ""
    for known in ("spark", "k8s", "mesos", "sc"):
        if scheme and scheme != known and sorted(scheme) == sorted(known):
            hint = f" Did you mean {known}://{url.split('://', 1)[1]}?"
    raise PexlabSparkError(
        f"Not a Spark master URL: {master!r}.{hint} Use local[*], spark://HOST:PORT (standalone), "
        "yarn, k8s://https://HOST:PORT, or sc://HOST:PORT (Spark Connect)."
    )


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


def is_local_master(master: str) -> bool:
    return bool(_LOCAL_MASTER.match(master.strip()))


def _major_minor(version: str) -> str:
    parts = str(version).strip().split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise PexlabSparkError(f"Not a Python version: {version!r} (expected e.g. '3.11').")
    return ".".join(parts[:2])


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _location(art: Any) -> str:
    """Where executors fetch an artifact: its uploaded URL, else the local file."""
    return str(art.url or art.local_path)


def artifacts_conf(artifacts: Artifacts, pex_root: str | None = None) -> dict[str, str]:
    """Spark conf that ships `artifacts` (PEX + editable zips); no user conf merged in.

    `pex_root=None`: the PEX's launcher chooses the node cache itself (no PEX_ROOT set), or
    `./.pex` for a PEX built without it."""
    pex_name = PurePosixPath(_location(artifacts.pex)).name
    zips = [_location(z) for z in artifacts.editables]
    conf = {
        "spark.files": ",".join([_location(artifacts.pex), *zips]),
        "spark.pyspark.python": f"./{pex_name}",
    }
    if pex_root is None and not getattr(artifacts, "node_cache", False):
        pex_root = LEGACY_PEX_ROOT
    if pex_root is not None:
        conf["spark.executorEnv.PEX_ROOT"] = pex_root
    if zips:
        conf["spark.submit.pyFiles"] = ",".join(zips)
    return conf


def merge_conf(defaults: Mapping[str, str], user: Mapping[str, Any] | None) -> dict[str, str]:
    """`user` wins over `defaults`, except list keys where both sets of entries are kept."""
    merged = dict(defaults)
    for key, value in (user or {}).items():
        value = str(value)
        if key in LIST_KEYS and key in defaults:
            entries = _split(value) + [e for e in _split(defaults[key]) if e not in _split(value)]
            merged[key] = ",".join(entries)
        else:
            merged[key] = value
    return merged


@dataclass
class SparkPlan:
    """Everything needed to create the context, decided before touching Spark."""

    master: str
    conf: dict[str, str]
    executor_python: str  # what PYSPARK_PYTHON is set to while the context is created
    artifacts: Artifacts | None = None
    py_files: list[str] = field(default_factory=list)  # editable zip file names

    @property
    def local(self) -> bool:
        return self.artifacts is None


def _resolve_master(master: str | None, conf: Mapping[str, Any] | None) -> str:
    return str(master or (conf or {}).get("spark.master") or "local[*]")


def _progress_callback(progress: Any) -> tuple[Any, NotebookProgress | None]:
    if progress is True:
        np = NotebookProgress()
        return np, np
    if progress in (False, None):
        return None, None
    if isinstance(progress, NotebookProgress):
        return progress, progress
    return progress, None


def plan(
    master: str | None = None,
    storage: str | None = None,
    conf: Mapping[str, Any] | None = None,
    include_editable: bool = True,
    python: str | os.PathLike[str] | None = None,
    options: Any = None,
    cache: Any = None,
    pex_root: str | None = None,
    progress: Any = None,
    storage_options: dict[str, Any] | None = None,
) -> SparkPlan:
    """Package (or reuse) the environment unless the master is local, and compute the conf."""
    resolved = validate_master(_resolve_master(master, conf))
    if resolved.startswith("sc://"):
        # The executors' interpreter of a Spark Connect server is chosen by the server, not by
        # a client: a PEX cannot be made the interpreter from here.
        raise PexlabSparkError(
            f"{resolved} is a Spark Connect server: its Python workers use the server's "
            "interpreter. Give pexlab the cluster's master URL instead (spark://, yarn, k8s://), "
            "or ship the conf from `pexlab spark-args` when starting the Connect server."
        )
    user = {str(k): str(v) for k, v in (conf or {}).items()}
    if is_local_master(resolved):
        local_conf = merge_conf(
            {"spark.master": resolved, "spark.pyspark.python": str(python or sys.executable)},
            user,
        )
        return SparkPlan(
            master=resolved,
            conf=local_conf,
            executor_python=local_conf["spark.pyspark.python"],
        )
    from .package import package_environment

    artifacts = package_environment(
        python=python,
        storage=storage,
        options=options,
        include_editable=include_editable,
        progress=progress,
        cache=cache,
        storage_options=storage_options,
    )
    defaults = {"spark.master": resolved, **artifacts_conf(artifacts, pex_root)}
    merged = merge_conf(defaults, user)
    return SparkPlan(
        master=resolved,
        conf=merged,
        executor_python=merged["spark.pyspark.python"],
        artifacts=artifacts,
        py_files=[PurePosixPath(_location(z)).name for z in artifacts.editables],
    )


def spark_conf(
    master: str | None = None,
    storage: str | None = None,
    conf: Mapping[str, Any] | None = None,
    include_editable: bool = True,
    python: str | os.PathLike[str] | None = None,
    progress: Any = False,
    **kwargs: Any,
) -> dict[str, str]:
    """The Spark configuration (as a dict) that ships this environment to `master`'s executors.

    For `spark-submit` or any launcher that honours `spark.pyspark.python`.  With a local master
    it is just the user's conf: nothing is shipped.
    """
    callback, _ = _progress_callback(progress)
    return plan(master, storage, conf, include_editable, python, progress=callback, **kwargs).conf


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


def _shipped_names(p: SparkPlan) -> set[str]:
    a = p.artifacts
    if a is None:
        return set()
    return {PurePosixPath(_location(a.pex)).name} | {
        PurePosixPath(_location(z)).name for z in a.editables
    }


# Keys pexlab sets.  PySpark starts its JVM once per process with the first context's conf as
# system properties, and every later SparkConf(loadDefaults=True) reads them back: a second
# context (after stop(), e.g. with edited editables or a local master) would inherit the first
# one's PEX and zips unless we drop what an earlier pexlab call put there.
MANAGED_KEYS = (
    "spark.files",
    "spark.submit.pyFiles",
    "spark.pyspark.python",
    "spark.executorEnv.PEX_ROOT",
)
_applied: dict[str, set[str]] = {}


def _build_conf(p: SparkPlan) -> Any:
    from pyspark import SparkConf

    conf = SparkConf(loadDefaults=True)
    jconf = getattr(conf, "_jconf", None)
    for key, values in _applied.items():
        # The JVM keeps the conf of the context that started it (with paths rewritten as URIs
        # by spark-submit, so values cannot be compared): pexlab set the key before.  Removing
        # it from this SparkConf is not enough (the JVM context reads the system property
        # again), so list keys are set to empty.
        if key in p.conf or not values or not conf.contains(key):
            continue
        if key in LIST_KEYS:
            conf.set(key, "")
        elif jconf is not None:
            jconf.remove(key)
    conf.setAll(list(p.conf.items()))
    for k, v in p.conf.items():
        if k in MANAGED_KEYS:
            _applied.setdefault(k, set()).add(v)
    return conf


def _check_active(active: SparkContext, p: SparkPlan) -> None:
    """Reuse a running context only if it ships the same things; else say what to do."""
    running = active.getConf()
    active_master = active.master
    problems = []
    if is_local_master(active_master) != is_local_master(p.master) or (
        not is_local_master(p.master) and active_master != p.master
    ):
        problems.append(f"master {active_master!r} instead of {p.master!r}")
    if not p.local:
        previous = getattr(active, "_pexlab_plan", None)
        if previous is not None and previous.artifacts is not None:
            # Made by pexlab: exactly the same PEX and editable zips, no more, no less.
            assert p.artifacts is not None
            have_names = _shipped_names(previous)
            want_names = _shipped_names(p)
            if have_names != want_names:
                problems.append(
                    "it ships "
                    + ", ".join(sorted(have_names))
                    + " instead of "
                    + ", ".join(sorted(want_names))
                )
        else:
            for key in ("spark.files", "spark.submit.pyFiles"):
                want = {PurePosixPath(e).name for e in _split(p.conf.get(key))}
                have = {PurePosixPath(e).name for e in _split(running.get(key))}
                if not want <= have:
                    problems.append(f"{key} lacks {', '.join(sorted(want - have))}")
        if getattr(active, "pythonExec", None) != p.executor_python:
            problems.append(f"executors run {getattr(active, 'pythonExec', '?')!r}")
    elif getattr(active, "pythonExec", None) not in (p.executor_python, None):
        problems.append(f"workers run {active.pythonExec!r}, not {p.executor_python!r}")
    if problems:
        raise PexlabSparkError(
            "A SparkContext is already running with different settings ("
            + "; ".join(problems)
            + "). Stop it first (spark.stop() or sc.stop()), then call pexlab again: Spark "
            "allows one context per process and executors keep code they already imported."
        )


def artifacts_of(sc: SparkContext) -> Artifacts | None:
    """The artifacts a context made by pexlab ships (None for local masters / other contexts)."""
    p = getattr(sc, "_pexlab_plan", None)
    return p.artifacts if p is not None else None


def _unshadow_driver(p: SparkPlan) -> None:
    # PySpark puts every pyFile at sys.path[1] on the driver too.  In a kernel that would make
    # the editable projects import from a snapshot zip instead of their live sources (and the
    # next edit would not be seen): keep the zips for executors only.
    if not p.py_files:
        return
    names = set(p.py_files)
    sys.path[:] = [e for e in sys.path if not (e.endswith(".zip") and os.path.basename(e) in names)]


_MISMATCH = re.compile(
    r"Python in worker has different version:?\s*\(?([0-9]+)[.,\s]+([0-9]+)\)?\s*than that in driver:?\s*\(?([0-9]+)[.,\s]+([0-9]+)",
    re.S,
)


def check_executor_python(
    sc: SparkContext,
    expected: str | None = None,
    driver_version: str | None = None,
    *,
    start_timeout: float | None = None,
    log: Any = None,
    pex_root: str | None = None,
    notes: list[str] | None = None,
) -> str:
    """Fail early, naming both versions, if executors cannot run this driver's Python.

    With `expected` (the executors' known major.minor) no job is run.  Otherwise a tiny job
    runs, one task per core, under a job group that is cancelled (with Spark's reason) when no
    executor comes within `start_timeout` (`pexlab.executor_start.run_probe`).  PySpark's
    worker refuses a different major.minor before running it, and that refusal is turned into
    `PythonVersionMismatch`; an executor that cannot start the PEX is named with what the PEX
    printed.  The probe also starts the node cache's upkeep (`pexlab.node_cache`).  `notes`
    collects what the user should know (an unwritable PEX_ROOT).  Returns the executors'
    version."""
    from . import executor_start, node_cache

    driver = driver_version or "{}.{}".format(*sys.version_info[:2])
    if expected is not None:
        if _major_minor(expected) != _major_minor(driver):
            raise PythonVersionMismatch(driver, _major_minor(expected))
        return expected

    try:
        cap = node_cache.parse_size(
            sc.getConf().get(node_cache.MAX_SIZE_CONF, node_cache.DEFAULT_MAX_SIZE)
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
    exc = outcome.error
    text = str(exc)
    m = _MISMATCH.search(text)
    if m:
        raise PythonVersionMismatch(
            f"{m.group(3)}.{m.group(4)}", f"{m.group(1)}.{m.group(2)}"
        ) from None
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
    ) from exc


def _summary(p: SparkPlan, seconds: float, executors_python: str | None) -> str:
    if p.local:
        head = f"pexlab: local master {p.master}, nothing shipped; workers use {p.executor_python}"
    else:
        a = p.artifacts
        assert a is not None
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


def create_spark_context(
    master: str | None = None,
    app_name: str | None = None,
    storage: str | None = None,
    conf: Mapping[str, Any] | None = None,
    include_editable: bool = True,
    python: str | os.PathLike[str] | None = None,
    expected_python: str | None = None,
    progress: Any = True,
    check_python: bool = True,
    pex_root: str | None = None,
    options: Any = None,
    cache: Any = None,
    storage_options: dict[str, Any] | None = None,
    start_timeout: float | None = None,
) -> SparkContext:
    """A SparkContext whose executors run this kernel's environment (see module docstring).

    `master`: Spark master URL (default: conf's spark.master, else `local[*]`); `storage`: where
    executors fetch artifacts (fsspec URL; default: served from the driver); `conf`: extra
    Spark conf, winning over pexlab's; `python`: interpreter to package (default: this one);
    `expected_python`: executors' major.minor if known (skips the probe task); `progress`: True
    for notebook/stderr feedback, False for none, or a ProgressCallback; `pex_root`: PEX_ROOT
    on executors (default: the node cache, see pexlab.node_cache); `start_timeout`: seconds
    the cluster may take to grant the first executor (default 60).
    """
    t0 = time.monotonic()
    from pyspark import SparkContext

    from . import executor_start

    callback, shower = _progress_callback(progress)
    driver = "{}.{}".format(*sys.version_info[:2])
    if expected_python is not None:
        # Known up front: fail before packaging anything.
        check_executor_python(None, expected_python, driver)  # type: ignore[arg-type]
    # Before packaging: a typo or a master that does not answer must not cost a build.
    target = validate_master(_resolve_master(master, conf))
    if SparkContext._active_spark_context is None:
        down = executor_start.master_unreachable(target)
        if down:
            raise ExecutorStartError(
                f"Cannot reach the Spark master {target} ({down}); Spark would retry for a "
                "minute and then report 'All masters are unresponsive'. Check the host and "
                "port (a standalone master listens on 7077 by default; 8080 is its web UI) and "
                "that the master is running."
            )
    p = plan(
        master,
        storage,
        conf,
        include_editable,
        python,
        options=options,
        cache=cache,
        pex_root=pex_root,
        progress=callback,
        storage_options=storage_options,
    )
    if p.artifacts is not None and _major_minor(p.artifacts.env.version) != driver:
        raise PythonVersionMismatch(
            driver,
            _major_minor(p.artifacts.env.version),
            f"The PEX was built from {p.artifacts.env.python}; package an interpreter with the "
            "driver's version (python=...) or run the notebook in that interpreter.",
        )
    if app_name:
        p.conf.setdefault("spark.app.name", app_name)
    p.conf.setdefault("spark.app.name", "pexlab")

    active = SparkContext._active_spark_context
    log = None
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
        if shower is not None:
            shower.status("Starting Spark", p.master)
        with environ(PYSPARK_PYTHON=p.executor_python):
            conf_obj = _build_conf(p)
            # Start the JVM with this conf (driver JVM options apply only at launch), then
            # listen to Spark's log before the context exists: its reasons are only there.
            SparkContext._ensure_initialized(conf=conf_obj)
            log = executor_start.StartLog.install(SparkContext._jvm)
            try:
                sc = executor_start.create_context(
                    lambda: SparkContext(conf=conf_obj),
                    master=p.master,
                    log=log,
                    timeout=start_timeout,
                    error=ExecutorStartError,
                )
            except BaseException:
                log.remove()
                raise
        created = True
        _unshadow_driver(p)
        # So the notebook (and a later reuse check) can see what this context ships.
        sc._pexlab_plan = p  # type: ignore[attr-defined]

    executors_python = None
    notes: list[str] = []
    try:
        if check_python and not p.local:
            if shower is not None:
                shower.status("Checking executors' Python", "one probe task")
            try:
                executors_python = check_executor_python(
                    sc,
                    expected_python,
                    driver,
                    start_timeout=start_timeout,
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


def create_spark_session(
    master: str | None = None,
    app_name: str | None = None,
    storage: str | None = None,
    conf: Mapping[str, Any] | None = None,
    include_editable: bool = True,
    python: str | os.PathLike[str] | None = None,
    expected_python: str | None = None,
    progress: Any = True,
    check_python: bool = True,
    pex_root: str | None = None,
    options: Any = None,
    cache: Any = None,
    storage_options: dict[str, Any] | None = None,
    start_timeout: float | None = None,
) -> SparkSession:
    """A SparkSession on top of `create_spark_context(...)` (same arguments)."""
    from pyspark.sql import SparkSession

    sc = create_spark_context(
        master=master,
        app_name=app_name,
        storage=storage,
        conf=conf,
        include_editable=include_editable,
        python=python,
        expected_python=expected_python,
        progress=progress,
        check_python=check_python,
        pex_root=pex_root,
        options=options,
        cache=cache,
        storage_options=storage_options,
        start_timeout=start_timeout,
    )
    # The builder finds the context we just made (SQL confs come from its SparkConf).
    return SparkSession.builder.getOrCreate() if sc is not None else None  # type: ignore[return-value]


# ---- CLI: `pexlab spark-args` -------------------------------------------------------------------


def _parse_conf_items(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise PexlabSparkError(f"--conf expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def format_submit_args(conf: Mapping[str, str], fmt: str = "args") -> str:
    if fmt == "json":
        return json.dumps(dict(conf), indent=2, sort_keys=True)
    if fmt == "properties":  # spark-defaults.conf
        return "\n".join(f"{k} {v}" for k, v in sorted(conf.items()))
    return " \\\n".join(f"--conf {shlex.quote(f'{k}={v}')}" for k, v in sorted(conf.items()))


def cmd_spark_args(args: argparse.Namespace) -> int:
    options = None
    if getattr(args, "exclude", None) is not None:
        from .pex_build import BuildOptions

        options = BuildOptions(exclude=tuple(args.exclude))
    user = _parse_conf_items(args.conf)
    if args.driver_python:
        # Client mode: spark-submit would otherwise start the driver with ./<pex> too.
        user.setdefault("spark.pyspark.driver.python", args.driver_python)
    if args.master and is_local_master(args.master):
        print("pexlab: local master, nothing to ship", file=sys.stderr)
    progress = NotebookProgress(use_display=False) if not args.quiet else None
    conf = spark_conf(
        master=args.master or "spark-submit",  # any non-local master: ship the artifacts
        storage=args.storage,
        conf=user,
        include_editable=not args.no_editable,
        python=args.python,
        progress=progress or False,
        pex_root=args.pex_root,
        options=options,
    )
    if not args.master:
        conf.pop("spark.master", None)  # let spark-submit's --master decide
    print(format_submit_args(conf, args.format))
    return 0


def register_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add `spark-args` to the `pexlab` CLI (called by pexlab.cli)."""
    p = subparsers.add_parser(
        "spark-args",
        help="print the spark-submit --conf flags that ship this environment",
        description="Build (or reuse) the PEX and editable zips, upload them if --storage is "
        "given, and print the Spark conf for spark-submit.",
    )
    p.add_argument("--python", help="interpreter to package (default: this one)")
    p.add_argument("--storage", help="fsspec URL executors can read (s3://..., hdfs://..., a path)")
    p.add_argument(
        "--master", help="Spark master; local[*] ships nothing; default: leave to spark-submit"
    )
    p.add_argument("--no-editable", action="store_true", help="do not ship editable projects")
    p.add_argument(
        "--exclude", nargs="*", help="distributions to leave out (default: pyspark py4j)"
    )
    p.add_argument(
        "--conf", action="append", metavar="KEY=VALUE", help="extra conf, wins over pexlab's"
    )
    p.add_argument(
        "--driver-python", help="driver interpreter for client mode (spark.pyspark.driver.python)"
    )
    p.add_argument(
        "--pex-root",
        default=None,
        help="PEX_ROOT on executors (default: the PEX picks a per-user node cache)",
    )
    p.add_argument("--format", choices=("args", "json", "properties"), default="args")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=cmd_spark_args)
    return p


# The name pexlab.cli looks for.
register_spark_args = register_cli
