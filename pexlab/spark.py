"""Spark sessions whose executors run the kernel's environment: the PEX + editable zips.

A facade: the conf layer is `pexlab.spark_conf` (pure: plan, merge, artifacts -> conf), the
session layer `pexlab.spark_session` (JVM, context reuse, executors' Python), the options
object `pexlab.spark_options.SessionOptions`, Spark Connect sessions `pexlab.spark_connect`
(`create_spark_session(remote="sc://...")`); `pexlab spark-args` lives in `pexlab.cli`.  The
names below are the ones users and older code import from here.
"""

from __future__ import annotations

from .spark_conf import (
    DEFAULT_PEX_ROOT,
    LIST_KEYS,
    MANAGED_KEYS,
    MasterKind,
    PexlabSparkError,
    SparkPlan,
    artifacts_conf,
    is_local_master,
    master_kind,
    merge_conf,
    plan,
    spark_conf,
    validate_master,
)
from .spark_options import SessionOptions
from .spark_session import (
    ExecutorStartError,
    PythonVersionMismatch,
    artifacts_of,
    check_executor_python,
    create_spark_context,
    create_spark_session,
    environ,
)

__all__ = [
    "DEFAULT_PEX_ROOT",
    "ExecutorStartError",
    "LIST_KEYS",
    "MANAGED_KEYS",
    "MasterKind",
    "PexlabSparkError",
    "PythonVersionMismatch",
    "SessionOptions",
    "SparkPlan",
    "artifacts_conf",
    "artifacts_of",
    "check_executor_python",
    "create_spark_context",
    "create_spark_session",
    "environ",
    "is_local_master",
    "master_kind",
    "merge_conf",
    "plan",
    "spark_conf",
    "validate_master",
]
