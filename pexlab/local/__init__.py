"""Local clusters for `make lab`, the tests and trying things out: a Spark standalone cluster,
a Spark Connect server and a Hadoop (HDFS + YARN) cluster, each on 127.0.0.1 and free ports,
with workers whose Python is bare.  Nothing here is used by a user's session.

The names below are imported on first use: `python -m pexlab.local.standalone` (and
`.hadoop`) must find their module not yet imported by this package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pexlab.local.connect import LocalConnectServer
    from pexlab.local.hadoop import LocalHadoop
    from pexlab.local.hadoop_jars import HadoopClusterError, fetch_jars
    from pexlab.local.standalone import ClusterError, LocalCluster, spark_home
    from pexlab.local.venvs import make_bare_python

_HOMES = {
    "ClusterError": "standalone",
    "HadoopClusterError": "hadoop_jars",
    "LocalCluster": "standalone",
    "LocalConnectServer": "connect",
    "LocalHadoop": "hadoop",
    "fetch_jars": "hadoop_jars",
    "make_bare_python": "venvs",
    "spark_home": "standalone",
}

__all__ = [
    "ClusterError",
    "HadoopClusterError",
    "LocalCluster",
    "LocalConnectServer",
    "LocalHadoop",
    "fetch_jars",
    "make_bare_python",
    "spark_home",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'pexlab.local' has no attribute {name!r}")
    return getattr(importlib.import_module(f"pexlab.local.{home}"), name)
