"""Spark on YARN: the conf that ships the PEX + editable zips, and the checks made before it.

YARN's own distribution rather than Spark's file server: `spark.yarn.dist.files` entries on
HDFS are localized by each NodeManager once and cached across applications (keyed by path and
modification time; public when the file and its folders are world-readable), so a second
application, or a second executor on the node, downloads nothing.  Localized files are linked
into each container's working directory and made executable, hence `./<pex>` as the Python.

- Client mode (a notebook kernel is the driver): executors get the PEX and the zips through
  `spark.yarn.dist.files`; `spark.submit.pyFiles` names the zips so PySpark puts them on the
  workers' `sys.path`.
- Cluster mode (`spark-submit --deploy-mode cluster`, CI/production): the driver runs in the
  ApplicationMaster's container, from the same PEX: `spark.pyspark.driver.python` and the
  AM's `PEX_ROOT`.  spark-submit turns `spark.submit.pyFiles` into `spark.yarn.dist.pyFiles`,
  which YARN localizes and puts on the PYTHONPATH of the driver and the executors, so the zips
  are not listed twice.
- Without `storage=`, Spark uploads local files to the application's staging folder on HDFS
  for every application (no NodeManager cache across applications): give `storage=hdfs://...`.
- `spark.yarn.jars`: not set here (a real cluster has its Spark jars installed).  With the pip
  pyspark, `local:<pyspark>/jars/*` keeps Spark from uploading its ~460 MB of jars per
  application when the NodeManagers have the same path (`LocalHadoop.driver_conf()` does it).
"""

from __future__ import annotations

import hashlib
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pexlab.core.errors import PexlabError
from pexlab.nodecache.launcher import LAYERS_VAR
from pexlab.package import Artifacts
from pexlab.storage.hadoop_conf import conf_dir, load_conf

# PEX_ROOT in YARN containers for a PEX without the node-cache launcher (BuildOptions(
# sh_boot=False)): the container's working directory is always writable (pex-tool/pex#905:
# otherwise pex extracts to a temp dir for every worker).  A PEX with the launcher picks its
# node-level, per-user root itself (pexlab.nodecache.upkeep), so later applications on the node reuse it.
CONTAINER_PEX_ROOT = "./.pex"
DEFAULT_RM_PORT = 8032


class YarnError(PexlabError):
    """Spark cannot reach YARN with this machine's Hadoop client configuration."""


def yarn_pex_root(requested: str | None = None, node_cache: bool = False) -> str | None:
    """PEX_ROOT for the driver (cluster mode) and executors in YARN containers; None leaves it
    to the PEX's node-cache launcher.  A user's `pex_root=` always wins."""
    if requested:
        return requested
    return None if node_cache else CONTAINER_PEX_ROOT


def yarn_artifacts_conf(
    artifacts: Artifacts, pex_root: str | None = None, deploy_mode: str = "client"
) -> dict[str, str]:
    """The Spark conf that ships `artifacts` to YARN containers (no user conf merged in)."""
    if deploy_mode not in ("client", "cluster"):
        raise YarnError(f"deploy_mode must be 'client' or 'cluster', not {deploy_mode!r}.")
    python = f"./{PurePosixPath(artifacts.pex.location).name}"
    # The layers of a layered environment are localized like the PEX: the NodeManagers keep
    # them in their cache, so a warm node downloads none of them for a new application.
    env = [a.location for a in artifacts.env_files()]
    zips = [z.location for z in artifacts.editables]
    root = yarn_pex_root(pex_root, artifacts.node_cache)
    conf = {
        "spark.submit.deployMode": deploy_mode,
        "spark.yarn.dist.files": ",".join([*env, *zips] if deploy_mode == "client" else env),
        "spark.pyspark.python": python,
    }
    if artifacts.layer_source is not None:
        conf[f"spark.executorEnv.{LAYERS_VAR}"] = artifacts.layer_source
    if root is not None:
        conf["spark.executorEnv.PEX_ROOT"] = root
    if zips:
        conf["spark.submit.pyFiles"] = ",".join(zips)
    if deploy_mode == "cluster":
        conf["spark.pyspark.driver.python"] = python
        if root is not None:
            conf["spark.yarn.appMasterEnv.PEX_ROOT"] = root
        conf["spark.yarn.appMasterEnv.PYSPARK_PYTHON"] = python
    return conf


# ---- checks before any work -----------------------------------------------------------------


@dataclass(frozen=True)
class ResourceManager:
    addresses: tuple[tuple[str, int], ...]
    origin: str


def resource_manager(environ: Mapping[str, str] | None = None) -> ResourceManager:
    """The ResourceManager address(es) a YARN client would use, from HADOOP_CONF_DIR."""
    folder = conf_dir(dict(environ) if environ is not None else None)
    if folder is None:
        raise YarnError(
            "master='yarn' needs the cluster's Hadoop client configuration: set HADOOP_CONF_DIR "
            "(or YARN_CONF_DIR) to the folder holding its core-site.xml and yarn-site.xml."
        )
    props = load_conf(folder, ("core-site.xml", "yarn-site.xml"))
    where = f"{folder}/yarn-site.xml"
    if not (folder / "yarn-site.xml").exists():
        raise YarnError(
            f"{where} does not exist: HADOOP_CONF_DIR must hold the cluster's yarn-site.xml "
            "(it names the ResourceManager)."
        )

    def addr(suffix: str = "") -> tuple[str, int] | None:
        value = props.get(f"yarn.resourcemanager.address{suffix}")
        host = props.get(f"yarn.resourcemanager.hostname{suffix}")
        if value:
            h, _, p = value.rpartition(":")
            h = host if h in ("", "0.0.0.0") and host else h
            return (h or "0.0.0.0", int(p) if p.isdigit() else DEFAULT_RM_PORT)
        return (host, DEFAULT_RM_PORT) if host else None

    if props.get("yarn.resourcemanager.ha.enabled", "").lower() == "true":
        ids = [i.strip() for i in props.get("yarn.resourcemanager.ha.rm-ids", "").split(",")]
        found = [a for a in (addr(f".{i}") for i in ids if i) if a]
        if found:
            return ResourceManager(tuple(found), f"yarn.resourcemanager.*.<rm-id> in {where}")
    one = addr()
    if one is None:
        raise YarnError(
            f"{where} names no ResourceManager: set yarn.resourcemanager.address (or "
            "yarn.resourcemanager.hostname) there."
        )
    return ResourceManager((one,), f"yarn.resourcemanager.address in {where}")


def check_resource_manager(
    environ: Mapping[str, str] | None = None, timeout: float = 5.0
) -> ResourceManager:
    """Fail in seconds, naming the address and where it came from, when no ResourceManager
    answers (YARN's own client would retry for 15 minutes)."""
    rm = resource_manager(environ)
    errors = []
    for host, port in rm.addresses:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return rm
        except OSError as exc:
            errors.append(f"{host}:{port} ({exc.strerror or exc})")
    raise YarnError(
        f"Cannot reach the YARN ResourceManager at {', '.join(errors)} (from {rm.origin}). "
        "Check that the ResourceManager runs and that HADOOP_CONF_DIR is this cluster's client "
        "configuration."
    )


# ---- cluster mode: the driver runs the user's module from the PEX -------------------------

_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def module_launcher(module: str, out_dir: Path) -> Path:
    """A tiny `.py` for spark-submit's primary resource that runs `module` as `__main__`.

    spark-submit only runs Python applications given as a `.py` file; the driver runs it with
    the PEX as interpreter, so `module` is imported from the PEX or an editable zip.  The name
    carries a hash of the content (and so can be published once to shared storage)."""
    if not _MODULE.match(module):
        raise YarnError(f"Not a Python module name: {module!r} (expected e.g. 'mypkg.jobs.daily').")
    text = (
        f"# Generated by pexlab: runs {module} as __main__ in the driver's PEX.\n"
        "import runpy\n\n"
        f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)\n"
    )
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"pexlab-run-{module.replace('.', '_')}-{digest}.py"
    if not path.exists():
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path
