"""Settings of the server extension, as Jupyter Server traitlets (`c.PexLab.<name>`)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from traitlets import Integer, List, Unicode, validate
from traitlets.config import Configurable

# Same shape as a PEP 508 project name; used for excludes given in config and in requests.
PACKAGE_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$")


class PexLab(Configurable):
    """Configure with `c.PexLab.storage = "s3://bucket/pexlab"` etc. in jupyter_server_config.py."""

    storage = Unicode(
        "",
        config=True,
        help="Default fsspec URL to upload built artifacts to (e.g. s3://bucket/pexlab, "
        "hdfs:///user/me/pexlab). Empty: keep artifacts in the local cache only. A build request "
        "may name its own storage.",
    )
    cache_dir = Unicode(
        "",
        config=True,
        help="Folder of the pexlab artifact cache (PEX files, editable zips, build records) and "
        "of the server's job records. Empty: the engine's default ($PEXLAB_CACHE_DIR, else "
        "$XDG_CACHE_HOME/pexlab, else ~/.cache/pexlab).",
    )
    max_concurrent_builds = Integer(
        2,
        config=True,
        help="How many builds may run at once; further builds wait in state 'queued'.",
    )
    default_excludes = List(
        Unicode(),
        default_value=["pyspark", "py4j"],
        config=True,
        help="Distributions left out of every PEX unless a build request names its own "
        "excludes. Spark ships pyspark/py4j to executors itself.",
    )
    max_body_bytes = Integer(
        64 * 1024,
        config=True,
        help="Largest accepted request body in bytes; larger requests get 413.",
    )
    kernel_query_timeout = Integer(
        15,
        config=True,
        help="Seconds to wait for a kernel to say which interpreter it runs (a busy kernel "
        "answers only when its current cell finishes).",
    )
    log_tail_lines = Integer(200, config=True, help="Log lines kept per build job.")

    @validate("max_concurrent_builds")
    def _check_concurrency(self, proposal: dict[str, Any]) -> int:
        if proposal["value"] < 1:
            raise ValueError("PexLab.max_concurrent_builds must be at least 1")
        return int(proposal["value"])

    @validate("default_excludes")
    def _check_excludes(self, proposal: dict[str, Any]) -> list[str]:
        for name in proposal["value"]:
            if not PACKAGE_NAME.match(name):
                raise ValueError(f"PexLab.default_excludes: {name!r} is not a package name")
        return list(proposal["value"])

    def cache_root(self) -> Path:
        """The cache folder the engine will use (mirrors the engine's default)."""
        if self.cache_dir:
            return Path(self.cache_dir).expanduser()
        env = os.environ.get("PEXLAB_CACHE_DIR")
        if env:
            return Path(env).expanduser()
        xdg = os.environ.get("XDG_CACHE_HOME")
        return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "pexlab"
