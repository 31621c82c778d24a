"""The Hadoop mini cluster's jars, from Maven Central only: `mvn dependency:copy-dependencies`
of `hadoop-minicluster` once into a folder keyed by the Hadoop version, reused by every later
run (`make hadoop` calls `fetch_jars`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pexlab.core.errors import PexlabError

HADOOP_VERSION = "3.5.0"
# Versions served by Maven Central and checked with hadoop-minicluster 3.5.0 on Java 17.
JUNIT4_VERSION = "4.13.2"
JUPITER_API_VERSION = "5.14.1"


class HadoopClusterError(PexlabError):
    """The local Hadoop cluster could not be fetched or started."""


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pexlab"


def hadoop_home(version: str = HADOOP_VERSION) -> Path:
    """Where the jars of `version` are kept (`$PEXLAB_HADOOP_HOME` overrides the folder)."""
    override = os.environ.get("PEXLAB_HADOOP_HOME")
    return Path(override) if override else _cache_root() / f"hadoop-{version}"


def _pom(version: str) -> str:
    deps = [
        ("org.apache.hadoop", "hadoop-minicluster", version),
        ("junit", "junit", JUNIT4_VERSION),
        ("org.junit.jupiter", "junit-jupiter-api", JUPITER_API_VERSION),
    ]
    body = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>"
        for g, a, v in deps
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>pexlab</groupId><artifactId>hadoop-minicluster-classpath</artifactId>"
        "<version>1</version><packaging>pom</packaging>"
        f"<dependencies>{body}</dependencies></project>"
    )


def fetch_jars(version: str = HADOOP_VERSION, quiet: bool = True) -> Path:
    """The folder of the mini cluster's jars, fetched with Maven the first time.

    The folder is filled under a temp name and renamed into place, so a run interrupted half-way
    never leaves a classpath that looks complete."""
    home = hadoop_home(version)
    lib = home / "lib"
    if (lib / ".complete").exists():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise HadoopClusterError(
            "Maven (mvn) is needed once to fetch the Hadoop jars from Maven Central: install it "
            "(apt-get install maven) or put the jars of hadoop-minicluster "
            f"{version} in {lib} with an empty {lib / '.complete'}."
        )
    home.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".lib-", dir=home))
    try:
        (staging / "pom.xml").write_text(_pom(version))
        cmd = [
            mvn,
            "-B",
            *(["-q"] if quiet else []),
            "-f",
            str(staging / "pom.xml"),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging / 'lib'}",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
            raise HadoopClusterError(
                f"mvn could not fetch hadoop-minicluster {version} (is Maven Central "
                f"reachable?):\n{tail}"
            )
        (staging / "lib" / ".complete").write_text(version + "\n")
        try:
            (staging / "lib").rename(lib)
        except OSError:
            if not (lib / ".complete").exists():  # not a concurrent fetch that won: re-raise
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return lib


def java_home() -> Path:
    """JAVA_HOME if set, else the JDK of the `java` on PATH (containers need one)."""
    env = os.environ.get("JAVA_HOME")
    if env and (Path(env) / "bin" / "java").exists():
        return Path(env)
    java = shutil.which("java")
    if java is None:
        raise HadoopClusterError("Java was not found (Hadoop 3.5 needs Java 17): set JAVA_HOME.")
    return Path(os.path.realpath(java)).parent.parent
