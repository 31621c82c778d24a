"""Spark Connect URLs: which are valid, and whether a server answers at one."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from pexlab.core.net import unreachable
from pexlab.spark.conf import master_kind
from pexlab.spark.errors import PexlabSparkError
from pexlab.spark.options import SessionOptions


def validate_remote(url: str) -> str:
    """`url` if it is a usable Spark Connect URL (sc://host[:port][/;params]), else a clear error."""
    text = str(url).strip()
    parsed = urlparse(text)
    if parsed.scheme != "sc" or not parsed.hostname:
        raise PexlabSparkError(
            f"{url!r} is not a Spark Connect URL: expected sc://host:port (e.g. "
            "sc://localhost:15002, optionally followed by /;param=value)."
        )
    if parsed.path not in ("", "/") and not parsed.path.startswith("/;"):
        raise PexlabSparkError(
            f"{url!r}: a Spark Connect URL has no path; parameters go after '/;' "
            "(e.g. sc://host:15002/;user_id=me)."
        )
    master_kind(text)  # the one parser of master URLs: a bad port etc. is refused there
    return text


DEFAULT_PORT = 15002  # Spark Connect's, when the URL names none


def check_reachable(remote: str, timeout: float = 5.0) -> None:
    """Fail in seconds, before any packaging, if nothing listens at the server's address."""
    parsed = urlparse(remote)
    host, port = parsed.hostname or "", parsed.port or DEFAULT_PORT
    why = unreachable(host, port, timeout)
    if why is not None:
        raise PexlabSparkError(
            f"The Spark Connect server at {host}:{port} is not reachable ({why}). Is it "
            "running, and is the URL right (sc://host:port)?"
        )


def remote_of(opts: SessionOptions) -> str:
    """The Connect URL `opts` names: `remote`, else an `sc://` master."""
    return validate_remote(opts.remote or opts.resolved_master)


def connect_session_class() -> Any:
    """The Connect SparkSession class, or a clear error saying which client to install."""
    try:
        from pyspark.sql.connect.session import SparkSession as RemoteSession
    except ImportError as exc:
        raise PexlabSparkError(
            "Spark Connect needs a client in this kernel: `%pip install pyspark-client` (no "
            f"Java needed), or full pyspark with its connect extras ({exc})."
        ) from exc
    return RemoteSession
