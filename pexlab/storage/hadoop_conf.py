"""The Hadoop client configuration Spark reads ($HADOOP_CONF_DIR's *-site.xml files).

Both HDFS storage (the NameNode's address) and YARN (the ResourceManager's) need it, so it
lives here, below both, rather than in either.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from pexlab.storage.base import StorageError


class HadoopConfigError(StorageError):
    """The Hadoop client configuration is missing or invalid; the message says what to set."""


def conf_dir(environ: dict[str, str] | None = None) -> Path | None:
    """The Hadoop client configuration folder, as Spark finds it (None if none is set)."""
    env = os.environ if environ is None else environ
    for var in ("HADOOP_CONF_DIR", "YARN_CONF_DIR"):
        if env.get(var):
            return Path(env[var])
    home = env.get("HADOOP_HOME")
    if home and (Path(home) / "etc" / "hadoop" / "core-site.xml").exists():
        return Path(home) / "etc" / "hadoop"
    return None


def load_conf(
    folder: Path, files: tuple[str, ...] = ("core-site.xml", "hdfs-site.xml")
) -> dict[str, str]:
    """The properties of the `*-site.xml` files in `folder` (missing files are skipped)."""
    if not folder.is_dir():
        raise HadoopConfigError(
            f"HADOOP_CONF_DIR={folder} is not a folder: point it at the folder holding your "
            "cluster's core-site.xml (and hdfs-site.xml / yarn-site.xml)."
        )
    props: dict[str, str] = {}
    for name in files:
        f = folder / name
        if not f.exists():
            continue
        try:
            root = ET.parse(f).getroot()
        except ET.ParseError as exc:
            raise HadoopConfigError(
                f"{f} is not valid XML ({exc}): fix it or point HADOOP_CONF_DIR at a valid "
                "Hadoop client configuration."
            ) from exc
        for prop in root.iter("property"):
            key = (prop.findtext("name") or "").strip()
            if key:
                props[key] = (prop.findtext("value") or "").strip()
    return props
