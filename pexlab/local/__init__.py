"""Local clusters for `make lab`, the tests and trying things out: a Spark standalone cluster,
a Spark Connect server and a Hadoop (HDFS + YARN) cluster, each on 127.0.0.1 and free ports,
with workers whose Python is bare.  Nothing here is used by a user's session."""

from __future__ import annotations

from pexlab.local.connect import LocalConnectServer
from pexlab.local.hadoop import LocalHadoop
from pexlab.local.hadoop_jars import HadoopClusterError, fetch_jars
from pexlab.local.standalone import ClusterError, LocalCluster, spark_home
from pexlab.local.venvs import make_bare_python

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
