"""What a caller asks of a Spark session: one typed object instead of a dozen parameters.

`create_spark_context`, `create_spark_session`, `spark_conf` and `plan` keep the keyword
signatures users write; each builds one `SessionOptions` and the layers below take only that.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from pexlab.build.options import BuildOptions, BuildOptionsLike
from pexlab.core.progress import ProgressCallback

if TYPE_CHECKING:
    from pexlab.build.cache import Cache
    from pexlab.spark.notebook_progress import NotebookProgress

# True: feedback in the notebook (or on stderr); False/None: none; else a callback of our own.
ProgressArg: TypeAlias = "bool | ProgressCallback | NotebookProgress | None"


@dataclass(frozen=True)
class SessionOptions:
    master: str | None = None  # default: conf's spark.master, else local[*]
    remote: str | None = None  # a Spark Connect URL (sc://host:port)
    app_name: str | None = None
    storage: str | None = None  # fsspec folder URL executors fetch from; None: from the driver
    storage_options: Mapping[str, Any] | None = None
    conf: Mapping[str, Any] | None = None  # the user's Spark conf, wins over pexlab's
    include_editable: bool = True
    python: str | os.PathLike[str] | None = None  # interpreter to package; None: this one
    expected_python: str | None = None  # executors' major.minor if known (skips the probe)
    progress: ProgressArg = True
    check_python: bool = True
    pex_root: str | None = None  # executors' PEX_ROOT; None: the conf layer's default
    options: BuildOptionsLike = None
    cache: Cache | None = None
    deploy_mode: str = "client"
    # Seconds the cluster may take to start the context and grant the first executor;
    # None: pexlab.spark.executor_start.DEFAULT_START_TIMEOUT.
    start_timeout: float | None = None

    @property
    def build_options(self) -> BuildOptions:
        return BuildOptions.coerce(self.options)

    @property
    def resolved_master(self) -> str:
        """The master the session will use: `master`, else the conf's, else `local[*]`."""
        return str(self.master or (self.conf or {}).get("spark.master") or "local[*]")

    @property
    def user_conf(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.conf or {}).items()}
