"""Session start that never hangs the kernel and names the real cause when executors don't come.

Three things go wrong between "create the context" and "executors run our Python", and Spark
reports each of them only in its log, or never:

- the master cannot be reached: Spark retries for a minute, then logs "All masters are
  unresponsive! Giving up." and stops the context; a job submitted meanwhile fails with an
  unrelated message;
- the cluster grants no executor (its cores are taken by other applications, or an executor
  asks for more memory/cores than a worker offers): a job waits forever;
- the PEX cannot start on an executor (no python3.X there, a broken node): the task fails with
  "Python worker exited unexpectedly" and the worker's stderr buried in a Java stack trace.

`StartLog` reads Spark's own words from the driver JVM while the session starts (a log4j2
appender, removed afterwards).  `run_probe` runs pexlab's probe job in a thread under its own
job group and watches it: the executor count from the SparkContext, whether Spark stopped the
context, and the clock (`start_timeout` for the first executor; `PROBE_TIMEOUT` for the probe
to finish once executors exist).  On a timeout it cancels the job group, so the kernel gets
control back with an error that says what Spark said and what to do.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from pexlab.core.net import unreachable
from pexlab.spark.errors import ExecutorStartError

if TYPE_CHECKING:
    from pyspark import SparkContext

DEFAULT_START_TIMEOUT = 60.0  # seconds for the cluster to grant the first executor
PROBE_TIMEOUT = 900.0  # seconds for the probe once executors exist (a first extraction)
_APPENDER = "pexlab-session-start"
_POLL = 0.5
# Logger names whose warnings explain a start that does not progress.
_SOURCES = ("org.apache.spark",)


@dataclass
class StartLog:
    """Spark's WARN/ERROR log lines of the driver JVM during session start."""

    _ctx: Any = None
    _appender: Any = None
    _writer: Any = None

    @classmethod
    def install(cls, jvm: Any) -> StartLog:
        """Attach the appender (a no-op StartLog if this JVM's logging is not log4j2 core)."""
        try:
            core = jvm.org.apache.logging.log4j.core
            ctx = jvm.org.apache.logging.log4j.LogManager.getContext(False)
            writer = jvm.java.io.StringWriter()
            layout = core.layout.PatternLayout.newBuilder().withPattern("%p %c{1}: %m%n").build()
            appender = (
                core.appender.WriterAppender.newBuilder()
                .setName(_APPENDER)
                .setTarget(writer)
                .setLayout(layout)
                .build()
            )
            appender.start()
            config = ctx.getConfiguration()
            config.addAppender(appender)
            level = jvm.org.apache.logging.log4j.Level.WARN
            config.getRootLogger().addAppender(appender, level, None)
            ctx.updateLoggers()
            return cls(ctx, appender, writer)
        except Exception:
            return cls()

    def lines(self) -> list[str]:
        if self._writer is None:
            return []
        text = str(self._writer.toString())
        out: list[str] = []
        for line in text.splitlines():
            line = line.strip()
            if line and line not in out:
                out.append(line)
        return out

    def reason(self, limit: int = 4) -> str:
        """The most telling of Spark's lines, newest last."""
        keys = ("master", "Master", "resources", "killed", "Executor", "executor", "Giving up")
        lines = [ln for ln in self.lines() if any(k in ln for k in keys)] or self.lines()
        return " | ".join(ln[:300] for ln in lines[-limit:])

    def remove(self) -> None:
        if self._appender is None:
            return
        try:
            config = self._ctx.getConfiguration()
            config.getRootLogger().removeAppender(_APPENDER)
            self._appender.stop()
            self._ctx.updateLoggers()
        except Exception:
            pass
        self._appender = None


def executor_count(sc: SparkContext) -> int:
    """Executors registered with this driver now (the driver itself not counted)."""
    try:
        return max(0, int(sc._jsc.sc().getExecutorMemoryStatus().size()) - 1)
    except Exception:
        return 0


def is_stopped(sc: SparkContext) -> bool:
    try:
        return bool(sc._jsc.sc().isStopped())
    except Exception:
        return True


def _conf(sc: SparkContext, key: str, default: str = "unset") -> str:
    try:
        return str(sc.getConf().get(key, default))
    except Exception:
        return default


def unreachable_master(master: str, spark_says: str) -> str:
    return (
        f"Spark could not reach the master {master}"
        + (f" (Spark: {spark_says})" if spark_says else "")
        + ". Check the URL: host and port of the master process (a standalone master listens "
        "on 7077 by default; 8080 is its web UI), that the master is running, and that this "
        "machine can reach it."
    )


def no_executors(sc: SparkContext, master: str, waited: float, spark_says: str) -> str:
    try:
        app = f" to application {sc.applicationId}"
    except Exception:
        app = ""
    return (
        f"The cluster at {master} granted no executor{app} within {waited:.0f} s"
        + (f" (Spark: {spark_says})" if spark_says else "")
        + ". Its cores or memory are probably all taken by other applications, or one executor "
        "asks for more than a worker offers (spark.executor.cores="
        f"{_conf(sc, 'spark.executor.cores')}, spark.executor.memory="
        f"{_conf(sc, 'spark.executor.memory')}, spark.cores.max={_conf(sc, 'spark.cores.max')}). "
        "Stop another application (see the master's web UI), lower spark.cores.max / "
        "spark.executor.cores / spark.executor.memory, or wait longer with start_timeout=..."
    )


_UNREACHABLE = re.compile(
    r"Failed to connect to master|All masters are unresponsive|Connection refused|"
    r"UnknownHostException|unresolved",
    re.I,
)


def master_unreachable(master: str, timeout: float = 3.0) -> str | None:
    """For a standalone master URL, why no listed master accepts a TCP connection (None when
    one does, or for other kinds of master).  Spark itself retries for about a minute inside
    the SparkContext constructor before it says "All masters are unresponsive"."""
    if not master.startswith("spark://"):
        return None
    reasons = []
    for hostport in master[len("spark://") :].split(","):
        host, _, port = hostport.strip().rpartition(":")
        why = unreachable(host, port, timeout)
        if why is None:
            return None
        reasons.append(f"{hostport}: {why}")
    return "; ".join(reasons)


def create_context(
    factory: Callable[[], SparkContext],
    *,
    master: str,
    log: StartLog | None,
    timeout: float | None,
) -> SparkContext:
    """`factory()` (the SparkContext constructor) in a thread, given up after `timeout`: a
    standalone master that never answers keeps Spark's constructor busy for a minute.  A context
    the constructor returns after we gave up is stopped when it does."""
    limit = DEFAULT_START_TIMEOUT if timeout is None else float(timeout)
    box: dict[str, Any] = {}
    gave_up = threading.Event()

    def make() -> None:
        try:
            sc = factory()
        except BaseException as exc:
            box["error"] = exc
            return
        box["sc"] = sc
        if gave_up.is_set():
            sc.stop()

    thread = threading.Thread(target=make, name="pexlab-create-context", daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        gave_up.set()
        spark_says = log.reason() if log is not None else ""
        raise ExecutorStartError(
            unreachable_master(master, spark_says)
            if _UNREACHABLE.search(spark_says)
            else f"Spark did not start a context for {master} within {limit:.0f} s "
            f"(Spark: {spark_says or 'nothing logged'}). It keeps trying in the background and "
            "stops by itself; check the master URL, or wait longer with start_timeout=..."
        )
    if "error" in box:
        raise box["error"]
    return cast("SparkContext", box["sc"])


@dataclass
class ProbeOutcome:
    results: list[Any] | None = None
    error: BaseException | None = None


def run_probe(
    sc: SparkContext,
    func: Callable[[Any], Any],
    slices: int,
    *,
    master: str,
    log: StartLog | None = None,
    start_timeout: float | None = None,
    probe_timeout: float = PROBE_TIMEOUT,
    on_wait: Callable[[str], None] | None = None,
) -> ProbeOutcome:
    """Run `func` on `slices` tasks, returning its results or the job's error; raise `error`
    (after cancelling the job) when no executor comes within `start_timeout`, Spark stops the
    context, or the probe outlives `probe_timeout`.  Ctrl-C cancels the job too."""
    limit = DEFAULT_START_TIMEOUT if start_timeout is None else float(start_timeout)
    group = f"pexlab-probe-{uuid.uuid4().hex[:12]}"
    out = ProbeOutcome()

    def job() -> None:
        try:
            sc.setJobGroup(group, "pexlab: checking the executors' Python", True)
            out.results = sc.parallelize(range(slices), slices).map(func).collect()
        except BaseException as exc:
            out.error = exc

    thread = threading.Thread(target=job, name=group, daemon=True)
    t0 = time.monotonic()
    thread.start()
    seen_executor = False
    said = ""

    def cancel() -> None:
        with contextlib.suppress(Exception):
            sc.cancelJobGroup(group)
        thread.join(10)

    try:
        while thread.is_alive():
            thread.join(_POLL)
            if not thread.is_alive():
                break
            waited = time.monotonic() - t0
            spark_says = log.reason() if log is not None else ""
            if is_stopped(sc):
                cancel()
                if _UNREACHABLE.search(spark_says):
                    raise ExecutorStartError(unreachable_master(master, spark_says))
                raise ExecutorStartError(
                    f"Spark stopped the context while starting executors (Spark: "
                    f"{spark_says or 'no reason logged'})."
                )
            if not seen_executor:
                seen_executor = executor_count(sc) > 0
            if not seen_executor and waited > limit:
                cancel()
                if _UNREACHABLE.search(spark_says):
                    raise ExecutorStartError(unreachable_master(master, spark_says))
                raise ExecutorStartError(no_executors(sc, master, waited, spark_says))
            if waited > probe_timeout:
                cancel()
                raise ExecutorStartError(
                    f"pexlab's probe task did not finish within {probe_timeout:.0f} s on "
                    f"{executor_count(sc)} executor(s) (Spark: {spark_says or 'nothing logged'}). "
                    "The executors may be stuck starting the environment; see their stderr "
                    "in the Spark UI, or pass check_python=False to skip the probe."
                )
            if on_wait is not None and not seen_executor and spark_says and spark_says != said:
                said = spark_says
                on_wait(spark_says)
    except KeyboardInterrupt:
        cancel()
        raise
    return out


# ---- naming the executor that failed --------------------------------------------------------

_LOST = re.compile(r"Lost task \S+ in stage \S+ \(TID \d+\) \((\S+) executor (\S+?)\)")
_WORKER_ERR = re.compile(r"Error from python worker:\s*(.*?)(?:PYTHONPATH was:|$)", re.S)


def failed_executor(text: str) -> tuple[str, str] | None:
    """(host, executor id) of the last lost task in a Spark job error."""
    found = _LOST.findall(text)
    return found[-1] if found else None


def worker_stderr(text: str, limit: int = 6) -> list[str]:
    """What the Python worker (here: the PEX launcher) printed before dying."""
    m = _WORKER_ERR.search(text)
    if not m:
        return []
    lines = [ln.strip() for ln in m.group(1).splitlines() if ln.strip()]
    if any(ln.startswith("Traceback") for ln in lines):
        # A Python traceback: its last line is the cause; the frames are pex internals.
        lines = [ln for ln in lines if not ln.startswith(("Traceback", "File ", "^"))][-1:]
    return [ln[:300] for ln in lines[:limit]]


def start_hint(said: str, pex_root: str | None, driver_python: str) -> str:
    """What to do about a PEX that could not start, from what it printed."""
    if "Failed to find any of these python binaries" in said:
        return (
            f"The node has no python{driver_python} (the PEX needs this driver's Python "
            "version): install it on the executors' nodes or put it on their PATH, or run the "
            "notebook with the Python the nodes have."
        )
    if pex_root and pex_root in said:
        return (
            f"PEX_ROOT {pex_root} is not writable there: pass a pex_root= every executor can "
            "write, or leave it unset (pexlab's per-user node cache, see the README)."
        )
    if "Permission denied" in said or "Read-only file system" in said:
        return "A folder the PEX writes to is not writable on that node (see PEX_ROOT above)."
    return "See that executor's stderr in the Spark UI for the whole output."


# ---- the probe (runs on executors; shipped by value, so executors need no pexlab) -------------


def make_probe(max_bytes: int | None) -> Callable[[Any], dict[str, str]]:
    """The probe task: which Python runs, where its environment lives, and (node cache only)
    the cache's upkeep, started detached so the task returns at once."""
    from pyspark import cloudpickle

    from pexlab.nodecache import upkeep as node_cache

    # Shipped by value: executors import nothing of pexlab.  node_cache is stdlib-only.
    cloudpickle.register_pickle_by_value(node_cache)  # type: ignore[no-untyped-call]
    maintain = node_cache.maintain_detached
    first_start = node_cache.first_start
    env_var = node_cache.ENV_VAR
    pex_dir = node_cache.PEX_DIR

    def probe(_: Any) -> dict[str, str]:
        import os as _os
        import socket as _socket
        import sys as _sys

        node_env = _os.environ.get(env_var, "")
        # pex scrubs PEX_* from the environment of the venv it runs, so PEX_ROOT may be unset
        # here (realpath("") would be the work dir, and every executor "misplaced"): the
        # launcher's choice is then <root>/pex beside this environment's <root>/envs/<id>.
        pex_root_env = _os.environ.get("PEX_ROOT", "")
        if not pex_root_env and _os.path.isabs(node_env):
            envs = _os.path.dirname(_os.path.realpath(node_env))
            if _os.path.basename(envs) == "envs":
                pex_root_env = _os.path.join(_os.path.dirname(envs), pex_dir)
        info = {
            "version": "{}.{}.{}".format(*_sys.version_info[:3]),
            "host": _socket.gethostname(),
            "cwd": _os.path.realpath(_os.getcwd()),
            "prefix": _os.path.realpath(_sys.prefix),
            "node_env": _os.path.realpath(node_env) if node_env else "",
            # The PEX_ROOT the launcher chose (shared by the node's environments).
            "node_pex_root": _os.path.realpath(pex_root_env)
            if pex_root_env and _os.path.isabs(node_env)
            else "",
        }
        if _os.path.isabs(node_env):
            unpacked = first_start(node_env, info["cwd"])
            if unpacked is not None:
                info["unpacked_layers"] = str(unpacked)
        if max_bytes is not None and _os.path.isabs(node_env):
            info["maintenance"] = "started" if maintain(max_bytes) else "unavailable"
        return info

    return probe


def first_starts(results: list[dict[str, str]]) -> list[str]:
    """A note when this session was the environment's first start on some nodes: there pex
    unpacked the layers the node lacked and assembled the venv (the slow part of a first
    session, which later sessions skip)."""
    layers: dict[str, int] = {}
    for r in results:
        if "unpacked_layers" in r:
            layers[r["host"]] = max(layers.get(r["host"], 0), int(r["unpacked_layers"]))
    if not layers:
        return []
    nodes = len({r["host"] for r in results})
    total = sum(layers.values())
    return [
        f"first start on {len(layers)} of {nodes} node(s): {total} new layer(s) unpacked "
        "into the node cache"
    ]


def misplaced(results: list[dict[str, str]], pex_root: str | None) -> list[str]:
    """Executors whose environment is not where it was meant to be: pex found PEX_ROOT not
    writable and fell back to a temporary folder (extracted again by every new process)."""
    out = []
    for r in results:
        if pex_root is None:
            want = r.get("node_pex_root") or r.get("node_env", "")
        elif pex_root.startswith("/"):
            want = pex_root
        else:
            want = r["cwd"] + "/" + pex_root.removeprefix("./")
        if not want or r["prefix"].startswith(want.rstrip("/") + "/"):
            continue
        where = f"{r['host']} ({r['cwd'].rsplit('/', 2)[-2:][-1]})"
        out.append(
            f"executor on {where}: PEX_ROOT {want} is not writable, so pex extracted the "
            f"environment into a temporary folder ({r['prefix']}) that nothing reuses"
        )
    return sorted(set(out))
