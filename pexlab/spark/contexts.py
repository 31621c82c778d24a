"""The JVM and the one SparkContext in it: what an earlier pexlab context left behind, which
plan a context was made from, and whether a running context can serve a new plan.

PySpark starts its JVM once per process with the first context's conf as system properties,
and every later `SparkConf(loadDefaults=True)` reads them back: a second context (after
stop(), e.g. with edited editables or a local master) would inherit the first one's PEX and
zips.  The keys pexlab put there are recorded in the JVM itself, beside them
(`spark.pexlab.managed`), so they can be dropped later without any Python-side global.
"""

from __future__ import annotations

import os
import sys
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from pexlab.spark.conf import LIST_KEYS, MANAGED_KEYS, SparkPlan, is_local_master, shipped_names
from pexlab.spark.errors import PexlabSparkError

if TYPE_CHECKING:
    from pyspark import SparkConf, SparkContext

    from pexlab.package import Artifacts

# JVM system property listing the MANAGED_KEYS the JVM was started with by pexlab.
MANAGED_MARKER = "spark.pexlab.managed"
# Attribute of a SparkContext made by pexlab: the SparkPlan it was made from.
_PLAN_ATTR = "_pexlab_plan"


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def context_conf(p: SparkPlan) -> SparkConf:
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


def remember_plan(sc: SparkContext, p: SparkPlan) -> None:
    """So the notebook (and a later reuse check) can see what this context ships."""
    setattr(sc, _PLAN_ATTR, p)


def plan_of(sc: SparkContext) -> SparkPlan | None:
    """The plan a context made by pexlab was made from (None for other contexts)."""
    p = getattr(sc, _PLAN_ATTR, None)
    return p if isinstance(p, SparkPlan) else None


def artifacts_of(sc: SparkContext) -> Artifacts | None:
    """The artifacts a context made by pexlab ships (None for local masters / other contexts)."""
    p = plan_of(sc)
    return p.artifacts if p is not None else None


def differences(active: SparkContext, p: SparkPlan) -> list[str]:
    """How a running context differs from what `p` would make (empty: reuse it)."""
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
    return problems


def reuse_or_stop(active: SparkContext, p: SparkPlan) -> bool:
    """True: reuse the running context (it ships what `p` ships).  A context pexlab made that
    differs (the edit loop: a `pip install` or an edit since) is stopped, with one line saying
    so, and False returned; any other context is never stopped: the error says what to do."""
    problems = differences(active, p)
    if not problems:
        return True
    if plan_of(active) is None:
        raise PexlabSparkError(
            "A SparkContext that pexlab did not start is already running with different "
            "settings (" + "; ".join(problems) + "). Stop it first (spark.stop() or sc.stop()), "
            "then call pexlab again: Spark allows one context per process and executors keep "
            "code they already imported."
        )
    active.stop()
    print(
        "pexlab: stopped the previous Spark session ("
        + "; ".join(problems)
        + "); starting one with the new environment",
        flush=True,
    )
    return False


def unshadow_driver(p: SparkPlan) -> None:
    # PySpark puts every pyFile at sys.path[1] on the driver too.  In a kernel that would make
    # the editable projects import from a snapshot zip instead of their live sources (and the
    # next edit would not be seen): keep the zips for executors only.
    if not p.py_files:
        return
    names = set(p.py_files)
    sys.path[:] = [e for e in sys.path if not (e.endswith(".zip") and os.path.basename(e) in names)]
