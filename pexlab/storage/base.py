"""What every storage backend shares: the protocols pexlab knows and the one storage error."""

from __future__ import annotations

from pexlab.core.errors import PexlabError

# fsspec protocol -> pip package providing it, for the "missing backend" message.
BACKENDS = {
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "viewfs": "pyarrow",
    "abfs": "adlfs",
    "abfss": "adlfs",
    "az": "adlfs",
    "adl": "adlfs",
}
# Uploaded through WebHDFS (pexlab.storage.hdfs); Spark and YARN are given hdfs:// URLs.
HDFS_PROTOCOLS = ("hdfs", "webhdfs", "swebhdfs")
OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "adl"}


class StorageError(PexlabError):
    """An artifact could not be published; the message says where and why."""


def protocol(destination: str) -> str:
    return destination.split("://", 1)[0].lower() if "://" in destination else "file"
