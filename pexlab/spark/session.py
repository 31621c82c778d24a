"""The entry points users call: one `SessionOptions`, then a classic or a Connect session.

The dispatch lives here, above both kinds of session, so neither imports the other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pexlab.build.options import BuildOptionsLike
from pexlab.spark.classic import context_for
from pexlab.spark.conf import master_kind
from pexlab.spark.options import ProgressArg, SessionOptions

if TYPE_CHECKING:  # pyspark is imported lazily: `import pexlab` must not need it
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    from pexlab.build.cache import Cache


def session_for(opts: SessionOptions) -> SparkSession:
    """A SparkSession for `opts` (see `create_spark_session`)."""
    if opts.remote or master_kind(opts.resolved_master) == "connect":
        from pexlab.spark.connect import connect_session

        return connect_session(opts)
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
    """A SparkContext whose executors run this kernel's environment (see pexlab.spark.conf).

    `master`: Spark master URL (default: conf's spark.master, else `local[*]`); `storage`: where
    executors fetch artifacts (fsspec URL; default: served from the driver); `conf`: extra
    Spark conf, winning over pexlab's; `python`: interpreter to package (default: this one);
    `expected_python`: executors' major.minor if known (skips the probe task); `progress`: True
    for notebook/stderr feedback, False for none, or a ProgressCallback; `options`: build
    options (a BuildOptions or a dict of the fields to change); `pex_root`: executors'
    PEX_ROOT (default: the per-user node cache, see pexlab.nodecache); `start_timeout`:
    seconds the cluster may take to start the context and grant the first executor (default
    60; the error then quotes Spark's reason).
    """
    return context_for(
        SessionOptions(
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
    )


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
    return session_for(
        SessionOptions(
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
            remote=remote,
            start_timeout=start_timeout,
        )
    )
