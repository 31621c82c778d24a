"""Spark sessions whose executors run the kernel's environment: the PEX + editable zips.

The layers, bottom up: `options` (SessionOptions, what a caller asks), `errors`, `conf`
(pure: master kinds, plan, artifacts -> conf; `yarn` adds YARN's shape), `executor_start`
(watching a start so it never hangs), `classic` (JVM, context reuse, executors' Python),
`connect_url` / `connect_base` / `connect` (Spark Connect sessions), and `session` (the entry
points, dispatching to classic or Connect).  `pexlab spark-args` lives in `pexlab.cli`.
"""

from __future__ import annotations

from pexlab.spark.classic import check_executor_python
from pexlab.spark.conf import (
    DEFAULT_PEX_ROOT,
    LIST_KEYS,
    MANAGED_KEYS,
    MasterKind,
    SparkPlan,
    artifacts_conf,
    is_local_master,
    master_kind,
    merge_conf,
    plan,
    spark_conf,
    validate_master,
)
from pexlab.spark.contexts import artifacts_of
from pexlab.spark.errors import ExecutorStartError, PexlabSparkError, PythonVersionMismatch
from pexlab.spark.options import SessionOptions
from pexlab.spark.session import create_spark_context, create_spark_session

__all__ = [
    "DEFAULT_PEX_ROOT",
    "LIST_KEYS",
    "MANAGED_KEYS",
    "ExecutorStartError",
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
    "is_local_master",
    "master_kind",
    "merge_conf",
    "plan",
    "spark_conf",
    "validate_master",
]
