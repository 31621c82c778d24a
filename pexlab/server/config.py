"""Settings of the server extension, as Jupyter Server traitlets (`c.PexLab.<name>`)."""

from __future__ import annotations

import re
from typing import Any

from traitlets import Bunch, Integer, List, Unicode, validate
from traitlets.config import Configurable

from pexlab.build.options import DEFAULT_EXCLUDES

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
        default_value=list(DEFAULT_EXCLUDES),
        config=True,
        help="Distributions left out of every PEX built or checked through the server (the "
        "engine's default, pexlab.build.options.DEFAULT_EXCLUDES, unless set). A request can only add "
        "names (options.exclude_extra); the environment response hands the resulting options "
        "to the inserted cells, so the notebook ships exactly what the panel built.",
    )
    master = Unicode(
        "local[*]",
        config=True,
        help="Spark master URL the inserted setup cells use when the user setting 'master' is "
        "empty (local[N], spark://host:port, yarn, k8s://..., or sc://host:port for Spark "
        "Connect). Returned as build.master by the environment endpoint.",
    )
    allowed_storage = List(
        Unicode(),
        default_value=["file", "s3", "gs", "abfs", "hdfs", "webhdfs"],
        config=True,
        help="Where builds may upload with the server's credentials: fsspec protocols (e.g. "
        "'s3'; 'file' covers plain paths) or URL prefixes (e.g. 's3://team-bucket/pexlab/'). "
        "Any other storage in a request is refused with 422.",
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
    def _check_concurrency(self, proposal: Bunch) -> Any:
        if proposal["value"] < 1:
            raise ValueError("PexLab.max_concurrent_builds must be at least 1")
        return proposal["value"]

    @validate("master")
    def _check_master(self, proposal: Bunch) -> Any:
        # The engine's own check (what the inserted cell would hit): a typo fails at start-up.
        from pexlab.core.errors import PexlabError
        from pexlab.spark.conf import validate_master

        try:
            return validate_master(proposal["value"])
        except PexlabError as exc:
            raise ValueError(f"PexLab.master: {exc}") from None

    @validate("allowed_storage")
    def _check_allowed_storage(self, proposal: Bunch) -> Any:
        for entry in proposal["value"]:
            if not entry or entry != entry.strip():
                raise ValueError(f"PexLab.allowed_storage: {entry!r} is not a protocol or prefix")
        return proposal["value"]

    @validate("default_excludes")
    def _check_excludes(self, proposal: Bunch) -> Any:
        for name in proposal["value"]:
            if not PACKAGE_NAME.match(name):
                raise ValueError(f"PexLab.default_excludes: {name!r} is not a package name")
        return proposal["value"]
