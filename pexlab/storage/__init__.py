"""Where executors fetch artifacts from: any fsspec URL, with HDFS through WebHDFS and the
Hadoop client configuration both HDFS and YARN read."""

from __future__ import annotations

from pexlab.storage.base import HDFS_PROTOCOLS, StorageError
from pexlab.storage.upload import preflight, upload

__all__ = ["HDFS_PROTOCOLS", "StorageError", "preflight", "upload"]
