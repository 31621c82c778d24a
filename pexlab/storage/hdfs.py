"""HDFS storage through WebHDFS (pure Python: fsspec's `webhdfs` over the NameNode's HTTP port).

Why WebHDFS and not fsspec's `hdfs://` or the JVM's Hadoop FileSystem API:
- fsspec's `hdfs://` is pyarrow + the native libhdfs library + a Hadoop install's CLASSPATH,
  which a notebook host rarely has.
- The Hadoop FileSystem API through pyspark's py4j needs a running JVM: pexlab uploads before
  the SparkContext exists (the conf that creates it names the uploaded files), and the CLI
  (`pexlab build --storage hdfs://...`) and the Jupyter server extension have no Spark at all.
- WebHDFS is served by every NameNode (`dfs.webhdfs.enabled` is on by default), speaks plain
  HTTP (fsspec + requests), and supports Kerberos (`storage_options={"kerberos": True}`).

`hdfs://` URLs stay what Spark and YARN are given (their JVM reads HDFS natively); only the
upload goes through WebHDFS.  The NameNode's HTTP address comes from the client configuration
Spark itself reads (`$HADOOP_CONF_DIR`): `hdfs:///path` takes the NameNode from `fs.defaultFS`
(core-site.xml), and `dfs.namenode.http-address` (hdfs-site.xml, HA `.<nameservice>.<nn>`
variants included) gives its HTTP port.  `webhdfs://host:httpport/path` needs no configuration.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pexlab.storage.base import StorageError
from pexlab.storage.hadoop_conf import HadoopConfigError, conf_dir, load_conf

# Hadoop 3's default NameNode HTTP port, used when the configuration does not name one.
DEFAULT_HTTP_PORT = 9870
DEFAULT_RPC_PORT = 8020


@dataclass(frozen=True)
class HdfsLocation:
    """Where a `hdfs://`/`webhdfs://` folder URL lives and how to reach it over WebHDFS."""

    url: str  # as given
    public: str  # the fully-qualified folder URL handed to Spark/YARN
    path: str  # absolute path inside HDFS
    http: tuple[tuple[str, int], ...]  # NameNode HTTP endpoints to try, in order
    https: bool = False
    origin: str = ""  # where the HTTP address came from, for error messages

    def child(self, name: str) -> str:
        return self.public.rstrip("/") + "/" + name


def _conf_or_empty(environ: dict[str, str] | None) -> tuple[dict[str, str], Path | None]:
    folder = conf_dir(environ)
    return (load_conf(folder), folder) if folder is not None else ({}, None)


def _host_port(text: str, default_port: int) -> tuple[str, int]:
    host, _, port = text.strip().rpartition(":")
    if not host:
        return text.strip(), default_port
    try:
        return host, int(port)
    except ValueError as exc:
        raise HadoopConfigError(f"Not a host:port address: {text!r}") from exc


def _http_endpoints(
    authority: str, props: dict[str, str], folder: Path | None
) -> tuple[tuple[tuple[str, int], ...], str]:
    """The NameNode HTTP endpoints for `authority` (host:port or an HA nameservice)."""
    where = f"{folder}/hdfs-site.xml" if folder else "no HADOOP_CONF_DIR"
    nameservices = [s.strip() for s in props.get("dfs.nameservices", "").split(",") if s.strip()]
    if authority in nameservices:
        nns = [n.strip() for n in props.get(f"dfs.ha.namenodes.{authority}", "").split(",")]
        out = []
        for nn in filter(None, nns):
            addr = props.get(f"dfs.namenode.http-address.{authority}.{nn}")
            if addr:
                out.append(_host_port(addr, DEFAULT_HTTP_PORT))
        if not out:
            raise HadoopConfigError(
                f"Nameservice {authority!r} has no dfs.namenode.http-address.{authority}.<nn> in "
                f"{where}: WebHDFS needs the NameNodes' HTTP addresses."
            )
        return tuple(out), f"dfs.namenode.http-address.{authority}.* in {where}"
    host, _port = _host_port(authority, DEFAULT_RPC_PORT)
    default_fs = urlsplit(props.get("fs.defaultFS", ""))
    rpc = props.get("dfs.namenode.rpc-address", "")
    same_nn = (default_fs.scheme == "hdfs" and default_fs.netloc == authority) or rpc == authority
    addr = props.get("dfs.namenode.http-address")
    if addr and same_nn:
        h, p = _host_port(addr, DEFAULT_HTTP_PORT)
        # A server-side 0.0.0.0 bind address: reach it by the host the URL names.
        return ((host if h in ("0.0.0.0", "") else h, p),), f"dfs.namenode.http-address in {where}"
    return ((host, DEFAULT_HTTP_PORT),), (
        f"Hadoop's default HTTP port {DEFAULT_HTTP_PORT} (no dfs.namenode.http-address for "
        f"{authority} in {where})"
    )


def resolve(url: str, environ: dict[str, str] | None = None) -> HdfsLocation:
    """Map a `hdfs://`, `hdfs:///` or `webhdfs://` folder URL to its WebHDFS endpoints."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    path = parts.path or "/"
    if scheme in ("webhdfs", "swebhdfs"):
        if not parts.hostname:
            raise HadoopConfigError(
                f"{url!r} names no NameNode: use webhdfs://<namenode>:<http port>/path."
            )
        host, port = parts.hostname, parts.port or DEFAULT_HTTP_PORT
        return HdfsLocation(
            url=url,
            public=f"{scheme}://{host}:{port}{path}",
            path=path,
            http=((host, port),),
            https=scheme == "swebhdfs",
            origin=f"the URL {url}",
        )
    if scheme != "hdfs":
        raise HadoopConfigError(f"Not an HDFS URL: {url!r}")
    props, folder = _conf_or_empty(environ)
    authority = parts.netloc
    if not authority:
        default_fs = props.get("fs.defaultFS", "")
        if folder is None:
            raise HadoopConfigError(
                f"{url!r} takes its NameNode from fs.defaultFS, but HADOOP_CONF_DIR is not set: "
                "set HADOOP_CONF_DIR to the folder with your cluster's core-site.xml, or write "
                "the NameNode in the URL (hdfs://namenode:8020/path)."
            )
        if not default_fs.startswith("hdfs://"):
            raise HadoopConfigError(
                f"{url!r} takes its NameNode from fs.defaultFS, but {folder}/core-site.xml "
                f"sets {default_fs or 'no fs.defaultFS'}: fix core-site.xml or write the NameNode "
                "in the URL (hdfs://namenode:8020/path)."
            )
        authority = urlsplit(default_fs).netloc
    http, origin = _http_endpoints(authority, props, folder)
    https = props.get("dfs.http.policy", "HTTP_ONLY").upper() == "HTTPS_ONLY"
    return HdfsLocation(
        url=url,
        public=f"hdfs://{authority}{path}",
        path=path,
        http=http,
        https=https,
        origin=origin,
    )


def _user(storage_options: dict[str, Any]) -> str:
    # Who HDFS sees with simple authentication: the same user Spark's Hadoop client would use.
    return str(
        storage_options.get("user") or os.environ.get("HADOOP_USER_NAME") or getpass.getuser()
    )


def open_location(
    loc: HdfsLocation, storage_options: dict[str, Any] | None = None
) -> tuple[Any, str]:
    """`(WebHDFS filesystem, folder path)`, trying each NameNode (HA) until one answers."""
    try:
        from fsspec.implementations.webhdfs import WebHDFS
    except ImportError as exc:  # fsspec's webhdfs imports requests
        raise HadoopConfigError(
            f"HDFS storage ({loc.url}) goes through WebHDFS, which needs requests: "
            "pip install requests"
        ) from exc
    opts = dict(storage_options or {})
    opts["user"] = _user(opts)
    opts.setdefault("use_https", loc.https)
    last: BaseException | None = None
    for host, port in loc.http:
        fs = WebHDFS(host, port=port, **opts)
        try:
            fs.info("/")
            return fs, loc.path
        except Exception as exc:  # unreachable, or a standby NameNode of an HA pair
            last = exc
    endpoints = ", ".join(f"{h}:{p}" for h, p in loc.http)
    raise HadoopConfigError(
        f"Cannot reach the HDFS NameNode's WebHDFS at {endpoints} (from {loc.origin}) for "
        f"{loc.url}: {type(last).__name__}: {str(last)[:300]}. Check that the NameNode runs and "
        "that HADOOP_CONF_DIR is your cluster's client configuration (dfs.namenode.http-address "
        "in hdfs-site.xml, dfs.webhdfs.enabled=true)."
    ) from last


def check_writable(fs: Any, folder: str, url: str) -> None:
    """Create `folder` and write + delete a marker in it, so a storage that cannot take the
    artifacts fails before any packaging work."""
    marker = folder.rstrip("/") + f"/.pexlab-write-check-{uuid.uuid4().hex[:8]}"
    try:
        fs.makedirs(folder, exist_ok=True)
        fs.pipe_file(marker, b"")
    except PermissionError as exc:
        raise HadoopConfigError(
            f"No permission to write {url} as HDFS user {getattr(fs, 'user', '?')!r}: "
            f"{str(exc)[:300]}. Choose a folder you own (e.g. hdfs:///user/<you>/pexlab), ask "
            "for write access, or set HADOOP_USER_NAME."
        ) from exc
    finally:
        with contextlib.suppress(Exception):
            fs.rm(marker)


def publish(fs: Any, tmp: str, target: str, size: int) -> None:
    """Rename `tmp` to `target`.  HDFS refuses to rename onto an existing file (WebHDFS answers
    `false`): when a concurrent upload of the same content-addressed artifact won, keep its file
    and drop ours."""
    fs.mv(tmp, target)
    if fs.exists(tmp):
        fs.rm(tmp)
    got = int(fs.info(target).get("size") or -1)
    if got != size:
        raise StorageError(
            f"{target} holds {got} bytes, not {size}: another file has this artifact's name. "
            "Remove it and retry."
        )
