"""The Spark configuration that ships the kernel's environment, decided before touching Spark.

Pure: no pyspark import, no JVM.  `plan(opts)` packages the environment (unless the master is
local) and returns the conf; each master kind gets its conf shape from `artifacts_conf`, which
is where cluster managers with their own ways to ship files add theirs.

What goes into the conf, and why :

- `spark.files` carries the PEX (local path, or the URL it was uploaded to): Spark puts it in
  every executor's working directory and makes it executable, on standalone, YARN and Kubernetes
  alike, so executors run `./<pex name>`.
- `spark.pyspark.python` names that interpreter.  PySpark itself reads `PYSPARK_PYTHON` once,
  when the SparkContext is created (the session layer sets it from `SparkPlan.executor_python`);
  the conf key is for `spark-submit` and so the choice is visible in the conf.
- PEX_ROOT: by default none is set; the PEX's own launcher picks a per-user, content-keyed
  folder on each node that later applications reuse (`pexlab.nodecache.upkeep`).  `pex_root=` sets
  `spark.executorEnv.PEX_ROOT` and wins (e.g. `./.pex`: the executor's work dir, per
  application); a PEX built without the launcher (`sh_boot=False`) gets `./.pex`.
- Editable projects ship as zips with content-hashed names in `spark.files` +
  `spark.submit.pyFiles`; PySpark puts pyFiles at `sys.path[1]` on executors, ahead of the PEX.
  Spark refuses to overwrite an added path, hence a new name for new content.
- pyspark/py4j are left out of the PEX: the executor's PYTHONPATH has Spark's own
  `python/lib/pyspark.zip` and py4j, which the PEX (`--inherit-path=fallback`) keeps.
- `local[*]`: workers run on this machine, so nothing is shipped; the executors' interpreter is
  the one being packaged (default: this one), not whatever `python3` is on PATH.
- Spark Connect (`sc://`): a session, not an application, gets the environment, as session
  artifacts (`pexlab.spark.connect`); its conf shape is only the session's Python,
  `spark.sql.execution.pyspark.python=./<pex>`.  `plan`/`spark_conf` refuse `sc://`: there is
  no application conf to hand to spark-submit.
- Kubernetes in cluster mode cannot serve local files from the driver: give `storage=` (an
  object store URL) or set `spark.kubernetes.file.upload.path`.  YARN and standalone fetch local
  paths from the driver.
- YARN ships through its own distribution instead (`spark.yarn.dist.files`, localized and cached
  by the NodeManagers; client and cluster deploy modes): see `pexlab.spark.yarn`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from pexlab.build.options import BuildOptionsLike
from pexlab.nodecache.launcher import LAYERS_VAR
from pexlab.spark.errors import PexlabSparkError
from pexlab.spark.notebook_progress import progress_for
from pexlab.spark.options import ProgressArg, SessionOptions
from pexlab.spark.yarn import yarn_artifacts_conf

if TYPE_CHECKING:
    from pexlab.build.cache import Cache
    from pexlab.core.progress import ProgressCallback
    from pexlab.package import Artifact, Artifacts

MasterKind = Literal["local", "standalone", "yarn", "k8s", "connect"]

# Conf keys holding comma-separated lists: the user's entries are kept and ours added.
LIST_KEYS = ("spark.files", "spark.submit.pyFiles", "spark.yarn.dist.files")
# Keys pexlab sets for a shipped environment (the session layer clears them from a JVM that an
# earlier context started with them, see pexlab.spark.classic).
MANAGED_KEYS = (
    "spark.files",
    "spark.submit.pyFiles",
    "spark.pyspark.python",
    "spark.executorEnv.PEX_ROOT",
    "spark.yarn.dist.files",
    f"spark.executorEnv.{LAYERS_VAR}",
)
# PEX_ROOT of a PEX built without the node-cache launcher (BuildOptions(sh_boot=False)).
DEFAULT_PEX_ROOT = "./.pex"
# `pexlab spark-args` without --master: ship as for any cluster and let spark-submit's own
# --master decide (the spark.files shape works under every cluster manager).
SUBMIT_DECIDES = "spark-submit"

_LOCAL_MASTER = re.compile(r"^local(\[[^\]]*\])?$|^local-cluster\[")
_KINDS: tuple[tuple[MasterKind, re.Pattern[str]], ...] = (
    ("local", re.compile(r"^local(\[(\*|[1-9][0-9]*)(,\s*[0-9]+)?\])?$")),
    ("local", re.compile(r"^local-cluster\[\s*[0-9]+\s*,\s*[0-9]+\s*,\s*[0-9]+\s*\]$")),
    ("standalone", re.compile(r"^spark://[^/:,\s]+(:[0-9]+)?(,[^/:,\s]+(:[0-9]+)?)*$")),
    ("yarn", re.compile(r"^yarn$")),
    ("k8s", re.compile(r"^k8s://(https?://)?[^/\s]+(:[0-9]+)?/?$")),
    ("connect", re.compile(r"^sc://[^/:\s]+(:[0-9]+)?/?(;.*)?$")),
)
_EXPECTED = "local[*], local[N], spark://HOST:PORT, yarn, k8s://https://HOST:PORT or sc://HOST:PORT"


def is_local_master(master: str) -> bool:
    return bool(_LOCAL_MASTER.match(master.strip()))


def master_kind(url: str) -> MasterKind:
    """Which cluster manager `url` names; PexlabSparkError for anything else."""
    master = url.strip()
    if master == SUBMIT_DECIDES:
        return "standalone"
    for kind, pattern in _KINDS:
        if pattern.match(master):
            return kind
    scheme, _, rest = master.partition("://") if "://" in master else ("", "", master)
    why = "Spark 4 dropped Mesos" if scheme == "mesos" else "malformed or unknown scheme"
    hint = ""
    for known in ("spark", "yarn", "k8s", "local", "sc"):
        # A transposed or mistyped scheme (sprak://, spakr://): say which one was meant.
        if scheme and scheme != known and sorted(scheme) == sorted(known):
            hint = f" Did you mean {known}://{rest}?"
    raise PexlabSparkError(
        f"{url!r} is not a Spark master URL ({why}): expected {_EXPECTED}.{hint} "
        "Fix the `master` argument or the spark.master conf."
    )


def validate_master(url: str) -> str:
    """`url` stripped, after checking it names a master Spark knows (else PexlabSparkError)."""
    master_kind(url)
    return url.strip()


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def shipped_names(artifacts: Artifacts | None) -> set[str]:
    """File names of what `artifacts` ships (what executors see in their working dir)."""
    if artifacts is None:
        return set()
    return {PurePosixPath(a.location).name for a in [*artifacts.env_files(), *artifacts.editables]}


def layer_source_conf(artifacts: Artifacts) -> dict[str, str]:
    """Executors of a layered environment whose layers stay in a shared storage folder read
    the ones their node lacks from there (pexlab.nodecache.launcher)."""
    if artifacts.layer_source is None:
        return {}
    return {f"spark.executorEnv.{LAYERS_VAR}": artifacts.layer_source}


def _files_conf(artifacts: Artifacts, opts: SessionOptions) -> dict[str, str]:
    """Standalone, YARN and Kubernetes: `spark.files` + `spark.submit.pyFiles`."""
    pex_name = PurePosixPath(artifacts.pex.location).name
    zips = [z.location for z in artifacts.editables]
    conf = {
        "spark.files": ",".join([*(a.location for a in artifacts.env_files()), *zips]),
        "spark.pyspark.python": f"./{pex_name}",
        **layer_source_conf(artifacts),
    }
    pex_root = opts.pex_root
    if pex_root is None and not artifacts.node_cache:
        pex_root = DEFAULT_PEX_ROOT
    if pex_root is not None:
        conf["spark.executorEnv.PEX_ROOT"] = pex_root
    if zips:
        conf["spark.submit.pyFiles"] = ",".join(zips)
    return conf


def _yarn_conf(artifacts: Artifacts, opts: SessionOptions) -> dict[str, str]:
    """YARN: `spark.yarn.dist.files` (NodeManager-cached), client or cluster deploy mode."""
    return yarn_artifacts_conf(artifacts, opts.pex_root, opts.deploy_mode)


def _refuse_connect(opts: SessionOptions) -> NoReturn:
    # A Connect session gets the environment as session artifacts (pexlab.spark.connect), not
    # through an application's conf: there is no conf to hand to spark-submit or a JVM.
    raise PexlabSparkError(
        f"{opts.resolved_master} is a Spark Connect server: call "
        "pexlab.create_spark_session(remote=...) (it adds the PEX and editable zips to the "
        "session), or give the cluster's master URL here (spark://, yarn, k8s://)."
    )


# The session conf naming a Connect session's Python (a runtime conf, set per session).
CONNECT_PYTHON_CONF = "spark.sql.execution.pyspark.python"


def _connect_conf(artifacts: Artifacts, opts: SessionOptions) -> dict[str, str]:
    """Spark Connect: the session's Python workers start in the session's artifact folder,
    where the PEX is added as a file, hence `./`.  Editable zips are pyfile artifacts, not
    conf; executor environment (PEX_ROOT) is the server's, not settable per session."""
    return {CONNECT_PYTHON_CONF: f"./{PurePosixPath(artifacts.pex.location).name}"}


ConfShape = Callable[["Artifacts", SessionOptions], dict[str, str]]
# One conf shape per master kind that ships something (local ships nothing).
SHAPES: dict[MasterKind, ConfShape] = {
    "standalone": _files_conf,
    "yarn": _yarn_conf,
    "k8s": _files_conf,
    "connect": _connect_conf,
}


def artifacts_conf(
    artifacts: Artifacts, opts: SessionOptions | None = None, *, pex_root: str | None = None
) -> dict[str, str]:
    """Spark conf that ships `artifacts` (PEX + editable zips) to `opts`' master kind; no user
    conf merged in.  `pex_root` overrides `opts.pex_root` (kept for existing callers)."""
    opts = opts or SessionOptions(master=SUBMIT_DECIDES)
    if pex_root is not None:
        opts = replace(opts, pex_root=pex_root)
    kind = master_kind(opts.resolved_master)
    if kind == "local":
        return {}
    return SHAPES[kind](artifacts, opts)


def merge_conf(defaults: Mapping[str, str], user: Mapping[str, Any] | None) -> dict[str, str]:
    """`user` wins over `defaults`, except list keys where both sets of entries are kept."""
    merged = dict(defaults)
    for key, value in (user or {}).items():
        value = str(value)
        if key in LIST_KEYS and key in defaults:
            entries = _split(value) + [e for e in _split(defaults[key]) if e not in _split(value)]
            merged[key] = ",".join(entries)
        else:
            merged[key] = value
    return merged


@dataclass
class SparkPlan:
    """Everything needed to create the context, decided before touching Spark."""

    master: str
    conf: dict[str, str]
    executor_python: str  # what PYSPARK_PYTHON is set to while the context is created
    artifacts: Artifacts | None = None
    py_files: list[str] = field(default_factory=list)  # editable zip file names

    @property
    def local(self) -> bool:
        return self.artifacts is None


Packager = Callable[..., "Artifacts"]


# Serves a layered environment's layers to executors; gives the URL (pexlab.spark.layer_server).
LayerServing = Callable[[list["Artifact"], Mapping[str, Any]], str]


def plan(
    opts: SessionOptions,
    progress: ProgressCallback | None = None,
    packager: Packager | None = None,
    serve_layers: LayerServing | None = None,
) -> SparkPlan:
    """Package (or reuse) the environment unless the master is local, and compute the conf.

    `progress` receives the packaging events; `packager` defaults to
    `pexlab.package.package_environment` (same keywords).  `serve_layers`: a session whose
    driver runs here serves a layered environment's layers to standalone executors instead
    of shipping them in `spark.files` (unless they read them from storage, or the user's conf
    names their source)."""
    master = validate_master(opts.resolved_master)
    kind = master_kind(master)
    if kind == "connect":
        _refuse_connect(opts)
    user = opts.user_conf
    if kind == "local":
        local_conf = merge_conf(
            {"spark.master": master, "spark.pyspark.python": str(opts.python or sys.executable)},
            user,
        )
        return SparkPlan(
            master=master, conf=local_conf, executor_python=local_conf["spark.pyspark.python"]
        )
    if packager is None:
        from pexlab.package import package_environment

        packager = package_environment
    artifacts = packager(
        python=opts.python,
        storage=opts.storage,
        options=opts.build_options,
        include_editable=opts.include_editable,
        progress=progress,
        cache=opts.cache,
        storage_options=dict(opts.storage_options) if opts.storage_options else None,
    )
    if (
        serve_layers is not None
        and artifacts.layers
        and artifacts.layer_source is None
        and kind == "standalone"
        and f"spark.executorEnv.{LAYERS_VAR}" not in user
    ):
        artifacts.layer_source = serve_layers(artifacts.layers, user)
    defaults = {"spark.master": master, **artifacts_conf(artifacts, opts)}
    merged = merge_conf(defaults, user)
    return SparkPlan(
        master=master,
        conf=merged,
        executor_python=merged["spark.pyspark.python"],
        artifacts=artifacts,
        py_files=[PurePosixPath(z.location).name for z in artifacts.editables],
    )


def spark_conf(
    master: str | None = None,
    storage: str | None = None,
    conf: Mapping[str, Any] | None = None,
    include_editable: bool = True,
    python: str | os.PathLike[str] | None = None,
    progress: ProgressArg = False,
    pex_root: str | None = None,
    options: BuildOptionsLike = None,
    cache: Cache | None = None,
    storage_options: Mapping[str, Any] | None = None,
    deploy_mode: str = "client",
) -> dict[str, str]:
    """The Spark configuration (as a dict) that ships this environment to `master`'s executors.

    For `spark-submit` or any launcher that honours `spark.pyspark.python`.  With a local master
    it is just the user's conf: nothing is shipped.
    """
    opts = SessionOptions(
        master=master,
        storage=storage,
        conf=conf,
        include_editable=include_editable,
        python=python,
        progress=progress,
        pex_root=pex_root,
        options=options,
        cache=cache,
        storage_options=storage_options,
        deploy_mode=deploy_mode,
    )
    callback, _ = progress_for(progress)
    return plan(opts, callback).conf
