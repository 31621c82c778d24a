"""Publish artifacts to shared storage through fsspec.

A destination is a folder URL: a plain path or `file://...` (default kind), `s3://`, `gs://`,
`abfs://`... when the matching fsspec backend is installed.  `hdfs://`, `hdfs:///` and
`webhdfs://` go through WebHDFS (pure Python, see `pexlab.storage.hdfs` for why).  Backend options come from
fsspec's usual configuration (e.g. `FSSPEC_S3_ENDPOINT_URL`, `AWS_ENDPOINT_URL`, credentials from
the environment) or the `storage_options` argument.

Names are content-addressed: callers pass files whose names already carry their hash (the PEX's
fingerprint, the editable zip's content hash), and the object is stored under that same name, so
an existing object with the same name and size is the same artifact and is not uploaded again.

Atomic publish:
- file systems with rename (local, HDFS, ...): upload to `.<name>.tmp-<rand>` in the same
  folder, then rename to the final name; readers never see a partial file.
- object stores (S3, GCS, Azure Blob/ADLS): upload straight to the final key.  A PUT or a
  multipart upload only becomes visible when it completes, so the final key is never partial;
  "rename" there would be a second full copy and no more atomic.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Any

from pexlab.core.progress import ProgressCallback, report
from pexlab.core.sizes import format_size
from pexlab.storage import hdfs
from pexlab.storage.base import (
    BACKENDS,
    HDFS_PROTOCOLS,
    OBJECT_STORES,
    StorageError,
    check_can_publish,
    protocol,
)


def open_destination(
    destination: str, storage_options: dict[str, Any] | None = None
) -> tuple[Any, str]:
    """`(filesystem, folder path)` for a destination URL, or StorageError."""
    import fsspec.core

    proto = protocol(destination)
    if proto in HDFS_PROTOCOLS:
        return hdfs.open_location(hdfs.resolve(destination), storage_options)
    if proto == "file" and "://" not in destination:
        destination = os.path.abspath(os.path.expanduser(destination))
    try:
        fs, folder = fsspec.core.url_to_fs(destination, **(storage_options or {}))
        return fs, str(folder)
    except ImportError as exc:
        pkg = BACKENDS.get(proto, f"the fsspec backend for {proto}://")
        raise StorageError(
            f"Storage {destination!r} needs {pkg}: pip install {pkg}"
            if proto in BACKENDS
            else f"Storage {destination!r}: {exc}"
        ) from exc
    except ValueError as exc:  # "Protocol not known"
        if proto in BACKENDS:
            pkg = BACKENDS[proto]
            raise StorageError(f"Storage {destination!r} needs {pkg}: pip install {pkg}") from exc
        raise StorageError(f"Unknown storage protocol {proto!r} in {destination!r}.") from exc
    except Exception as exc:  # backend construction failed (bad credentials config, ...)
        raise StorageError(f"Cannot open storage {destination!r}: {exc}") from exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, PermissionError):
        return f"permission denied ({exc})"
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return f"no such folder or it cannot be created ({exc})"
    text = f"{type(exc).__name__}: {exc}"
    lowered = text.lower()
    if "accessdenied" in lowered or "forbidden" in lowered or "403" in lowered:
        return f"permission denied ({text})"
    if "nosuchbucket" in lowered:
        return f"the bucket does not exist ({text})"
    if any(w in lowered for w in ("connect", "endpoint", "timeout", "unreachable", "resolve")):
        return f"destination unreachable ({text})"
    return text


class _Callback:
    """Adapter from fsspec's callback protocol to ProgressEvents (throttled to ~1%): fsspec
    calls each hook of a `Callback` with (size, value) as the transfer goes."""

    def __init__(self, progress: ProgressCallback, name: str) -> None:
        from fsspec.callbacks import Callback

        self.cb = Callback(hooks={"pexlab": self.report})
        self.progress = progress
        self.name = name
        self.last = -1.0

    def report(self, size: int | None, value: int, **_: Any) -> None:
        if not size:
            return
        frac = min(1.0, value / size)
        if frac - self.last >= 0.01 or frac >= 1.0:
            self.last = frac
            report(
                self.progress,
                "upload",
                frac,
                f"{self.name}: {format_size(value)} of {format_size(size)}",
            )


def remote_path(fs: Any, folder: str, name: str) -> str:
    return folder.rstrip("/") + "/" + name if folder else name


def public_url(destination: str, fs: Any, target: str) -> str:
    """The URL Spark is given for an uploaded file: `hdfs://` stays `hdfs://` (Spark and YARN
    read HDFS natively; only pexlab's upload goes over WebHDFS)."""
    if protocol(destination) in HDFS_PROTOCOLS:
        return hdfs.resolve(destination).child(target.rsplit("/", 1)[-1])
    return str(fs.unstrip_protocol(target))


def preflight(
    destination: str, storage_options: dict[str, Any] | None = None, create: bool = True
) -> None:
    """Fail now, naming what to fix, if artifacts could not be published to `destination`
    (missing/invalid HADOOP_CONF_DIR, NameNode unreachable, folder not writable).

    Called before any packaging work.  Only file systems where checking is cheap and errors
    are common are checked (HDFS, local folders); object stores are left to the upload.  A
    storage kind that cannot take uploads at all (http(s)://, ...) is refused first.
    `create=False`: a question that changes nothing (e.g. the server showing a setting): no
    folder is made and nothing is written; a local folder's nearest existing parent must be a
    writable folder, and for HDFS only the client configuration is read (no NameNode call)."""
    check_can_publish(destination)
    proto = protocol(destination)
    if proto in HDFS_PROTOCOLS and not create:
        hdfs.resolve(destination)
        return
    if proto not in HDFS_PROTOCOLS and proto != "file":
        return
    fs, folder = open_destination(destination, storage_options)
    if proto in HDFS_PROTOCOLS:
        hdfs.check_writable(fs, folder, destination)
        return
    if not create:
        _check_local_folder(Path(folder), destination)
        return
    try:
        fs.makedirs(folder, exist_ok=True)
    except Exception as exc:
        raise StorageError(
            f"Cannot create storage folder {destination!r}: {_describe(exc)}"
        ) from exc
    if not os.access(folder, os.W_OK):
        raise StorageError(
            f"No permission to write storage folder {destination!r}: choose a writable folder."
        )


def shared_folder(destination: str) -> str | None:
    """The local folder a file-system `destination` names (absolute), for executors that read
    it at the same path (a shared file system, or workers on this machine); None for any other
    kind of storage."""
    if protocol(destination) != "file":
        return None
    path = destination[len("file://") :] if destination.startswith("file://") else destination
    return os.path.abspath(os.path.expanduser(path))


def _check_local_folder(folder: Path, destination: str) -> None:
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise StorageError(
            f"Cannot create storage folder {destination!r}: {existing} is not a folder."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise StorageError(
            f"No permission to write storage folder {destination!r} ({existing} is not "
            "writable): choose a writable folder."
        )


def upload(
    local: Path | str,
    destination: str,
    progress: ProgressCallback | None = None,
    storage_options: dict[str, Any] | None = None,
    skipped: list[str] | None = None,
) -> str:
    """Publish `local` into the folder `destination` under its own name; return its URL.

    Skips the upload when an object of that name and size is already there (and then appends
    the name to `skipped`)."""
    local = Path(local)
    if not local.is_file():
        raise StorageError(f"Nothing to upload: {local} is not a file.")
    check_can_publish(destination)
    fs, folder = open_destination(destination, storage_options)
    target = remote_path(fs, folder, local.name)
    url = public_url(destination, fs, target)
    size = local.stat().st_size
    try:
        info = fs.info(target)
        if int(info.get("size") or -1) == size:
            report(progress, "upload", 1.0, f"{local.name} already at {url}")
            if skipped is not None:
                skipped.append(local.name)
            return url
    except FileNotFoundError:
        pass
    except Exception as exc:
        raise StorageError(f"Cannot reach {destination!r}: {_describe(exc)}") from exc

    cb = _Callback(progress, local.name).cb if progress else None
    kw = {"callback": cb} if cb is not None else {}
    proto = protocol(destination)
    try:
        if proto not in OBJECT_STORES:
            fs.makedirs(folder, exist_ok=True)
        if proto in OBJECT_STORES:
            fs.put_file(str(local), target, **kw)
        else:
            tmp = remote_path(fs, folder, f".{local.name}.tmp-{uuid.uuid4().hex[:8]}")
            try:
                fs.put_file(str(local), tmp, **kw)
                if proto == "file":  # keep the PEX executable, as spark.files would make it
                    os.chmod(tmp, local.stat().st_mode & 0o777)
                if proto in HDFS_PROTOCOLS:
                    hdfs.publish(fs, tmp, target, size)
                else:
                    fs.mv(tmp, target)
            except BaseException:
                with contextlib.suppress(Exception):
                    fs.rm(tmp)
                raise
    except StorageError:
        raise
    except Exception as exc:
        raise StorageError(
            f"Could not upload {local.name} to {destination!r}: {_describe(exc)}"
        ) from exc
    report(progress, "upload", 1.0, f"{local.name} -> {url}")
    return url
