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


# fsspec protocols that cannot take an upload (fsspec documents these file systems as
# read-only; it keeps no machine-readable list), and the one whose files only this process sees.
READ_ONLY_PROTOCOLS = frozenset(
    {
        "http",
        "https",
        "github",
        "gist",
        "git",
        "zip",
        "tar",
        "libarchive",
        "reference",
        "dask",
        "data",
    }
)
PROCESS_ONLY_PROTOCOLS = frozenset({"memory"})
# What the refusal offers instead.
WRITABLE_STORAGE = (
    "a local or shared folder (a path or file://...), s3:// (s3a://), gs://, abfs:// (abfss://, "
    "az://), hdfs:// or webhdfs://"
)


class StorageError(PexlabError):
    """An artifact could not be published; the message says where and why."""


def check_can_publish(destination: str) -> None:
    """StorageError, before anything is packaged, for a storage pexlab cannot publish to (a
    read-only kind such as http(s)://, or memory:// that executors cannot read)."""
    proto = protocol(destination)
    if proto in READ_ONLY_PROTOCOLS:
        why = f"{proto}:// storage is read-only: pexlab cannot upload the environment there"
    elif proto in PROCESS_ONLY_PROTOCOLS:
        why = f"{proto}:// storage lives in this process only: executors cannot fetch from it"
    else:
        return
    raise StorageError(
        f"Storage {destination!r}: {why}. Use storage that takes uploads and that the "
        f"executors can read: {WRITABLE_STORAGE}; or leave storage out to serve the files "
        "from the driver."
    )


def protocol(destination: str) -> str:
    return destination.split("://", 1)[0].lower() if "://" in destination else "file"
