"""Time to the first result on YARN, first and second application, three ways, in one run.

    .venv/bin/python bench/yarn.py [--reps 1]          (make bench)

On one local Hadoop cluster (pexlab.local.hadoop: HDFS + YARN, one NodeManager whose containers'
`python3` is a bare venv), for a kernel venv with pyspark, numpy, tabulate and six (the job
imports numpy, tabulate and six on 2 executors):

- bare:      executors run the kernel venv's python directly: the packages are preinstalled on
             the node (best case, nothing shipped);
- pexlab:    `create_spark_context(master="yarn", storage="hdfs:///...")`: the PEX on HDFS,
             localized by the NodeManager through `spark.yarn.dist.files`;
- venv-pack: a `venv-pack` archive of the same venv on HDFS through `spark.yarn.dist.archives`
             (the way Spark's docs ship a venv), `PYSPARK_PYTHON=./environment/bin/python`.

Artifacts are built and uploaded before anything is measured (as a panel build or CI would), to
a fresh HDFS folder per rep so that the first application of a rep meets an empty NodeManager
cache; the second application of the rep finds the NodeManager's cached copy.  Each application
is a new driver process, timed from "create the session" to "first result in hand" (JVM start,
YARN application + executors, localization, unpacking, python worker start, job).  Results go to
bench/results/yarn.md (+ .json).  venv-pack is installed by this script into its own venv.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
WORK = REPO / ".cache" / "bench"
RESULTS = REPO / "bench" / "results"
KERNEL = WORK / "yarn-kernel-venv"
TOOLS = WORK / "yarn-tools-venv"
VARIANTS = ("bare", "pexlab", "venv-pack")
PACKAGES = (f"pyspark=={version('pyspark')}", "numpy", "tabulate", "six")


def _job(_: int) -> str:
    import numpy
    import six  # noqa: F401
    import tabulate  # noqa: F401

    return f"{numpy.sqrt(4.0)}"


# -- one application (in its own driver process) -------------------------------------------------


def measure(args: argparse.Namespace) -> None:
    from pyspark import SparkConf, SparkContext

    conf = json.loads(args.conf)
    python = str(KERNEL / "bin" / "python")
    t0 = time.monotonic()
    if args.measure == "pexlab":
        import pexlab

        sc = pexlab.create_spark_context(
            master="yarn", storage=args.storage, python=python, conf=conf, progress=False
        )
    else:
        sconf = SparkConf(loadDefaults=False).setMaster("yarn").setAll(list(conf.items()))
        if args.measure == "venv-pack":
            sconf.set("spark.yarn.dist.archives", f"{args.storage}/environment.tar.gz#environment")
            os.environ["PYSPARK_PYTHON"] = "./environment/bin/python"
        else:
            os.environ["PYSPARK_PYTHON"] = python
        sc = SparkContext(conf=sconf)
    result = sc.parallelize(range(2), 2).map(_job).collect()
    first = time.monotonic() - t0
    assert result == ["2.0", "2.0"], result
    sc.stop()
    print("BENCH " + json.dumps({"seconds": first}), flush=True)


# -- set-up (not measured) ----------------------------------------------------------------------


def _venv(path: Path, packages: tuple[str, ...]) -> None:
    if (path / ".complete").exists():
        return
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
    subprocess.run([str(path / "bin" / "pip"), "install", "-q", *packages], check=True)
    (path / ".complete").write_text("ok")


def venv_pack_archive() -> tuple[Path, float]:
    archive = WORK / "yarn-kernel-venv.tar.gz"
    if archive.exists():
        return archive, 0.0
    _venv(TOOLS, ("venv-pack",))
    t = time.monotonic()
    tmp = WORK / "yarn-kernel-venv.tmp.tar.gz"
    subprocess.run(
        [str(TOOLS / "bin" / "venv-pack"), "-p", str(KERNEL), "-o", str(tmp), "-f", "-q"],
        check=True,
    )
    tmp.rename(archive)
    return archive, time.monotonic() - t


def upload_rep(rep: int, archive: Path) -> tuple[str, str, Any]:
    """Fresh HDFS folders for this rep, with the PEX (+ zips) and the venv-pack archive."""
    import shutil
    import tempfile

    from pexlab.package import package_environment
    from pexlab.storage.upload import upload

    stamp = f"{int(time.time())}-{rep}"
    pex_folder = f"hdfs:///bench/{stamp}/pexlab"
    pack_folder = f"hdfs:///bench/{stamp}/venv-pack"
    arts = package_environment(python=str(KERNEL / "bin" / "python"), storage=pex_folder)
    with tempfile.TemporaryDirectory() as tmp:
        # The archive goes up under the name the application asks for.
        named = Path(tmp) / "environment.tar.gz"
        shutil.copyfile(archive, named)
        upload(named, pack_folder)
    return pex_folder, pack_folder, arts


def once(conf: dict[str, str], env: dict[str, str], variant: str, storage: str) -> float:
    cmd = [
        sys.executable,
        __file__,
        "--measure",
        variant,
        "--storage",
        storage,
        "--conf",
        json.dumps(conf),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")]
    if not lines:
        raise SystemExit(f"{variant} failed:\n{proc.stderr[-3000:]}")
    return float(json.loads(lines[-1][6:])["seconds"])


def run(args: argparse.Namespace) -> None:
    from pexlab.local.hadoop import LocalHadoop

    WORK.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PEXLAB_CACHE_DIR", str(WORK / "pexlab-cache"))
    _venv(KERNEL, PACKAGES)
    t = time.monotonic()
    from pexlab.package import package_environment

    arts = package_environment(python=str(KERNEL / "bin" / "python"))
    pex_seconds = time.monotonic() - t
    archive, pack_seconds = venv_pack_archive()
    times: dict[str, dict[str, list[float]]] = {v: {"first": [], "second": []} for v in VARIANTS}
    with LocalHadoop() as hadoop:
        os.environ["HADOOP_CONF_DIR"] = str(hadoop.conf_dir)
        conf = hadoop.driver_conf()
        env = dict(os.environ, PYTHONPATH=str(REPO), SPARK_LOCAL_IP="127.0.0.1")
        env.pop("PYSPARK_PYTHON", None)
        for rep in range(args.reps):
            pex_folder, pack_folder, _ = upload_rep(rep, archive)
            storage = {"bare": "", "pexlab": pex_folder, "venv-pack": pack_folder}
            for app in ("first", "second"):
                for variant in VARIANTS:
                    s = once(conf, env, variant, storage[variant])
                    times[variant][app].append(s)
                    print(f"rep {rep + 1} {app:6s} {variant:9s} {s:6.2f} s", flush=True)
    write_results(times, arts, pex_seconds, archive, pack_seconds, args.reps)


def write_results(
    times: dict[str, dict[str, list[float]]],
    arts: Any,
    pex_seconds: float,
    archive: Path,
    pack_seconds: float,
    reps: int,
) -> None:
    med = {v: {a: statistics.median(t) for a, t in apps.items()} for v, apps in times.items()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "pyspark": version("pyspark"),
        "reps": reps,
        "packages": list(PACKAGES),
        "pex": {"bytes": arts.pex.size, "build_seconds": pex_seconds},
        "venv_pack": {"bytes": archive.stat().st_size, "seconds": pack_seconds},
        "seconds": times,
        "median": med,
    }
    (RESULTS / "yarn.json").write_text(json.dumps(data, indent=2) + "\n")
    rows = "\n".join(
        f"| {v} | {med[v]['first']:.2f} | {med[v]['second']:.2f} |"
        f" {med[v]['first'] / med['bare']['first']:.2f}x |"
        f" {med[v]['second'] / med['bare']['second']:.2f}x |"
        for v in VARIANTS
    )
    md = f"""# YARN: time from "create the session" to the first result

`bench/yarn.py`, {reps} rep(s), median seconds; one local Hadoop cluster (HDFS + YARN in one JVM,
one NodeManager, 2 executors of 1 core / 512 MB), on a {os.cpu_count()}-core machine shared with
other work (absolute numbers are noisy, compare within a row of runs).  Kernel venv: {", ".join(PACKAGES)};
the job imports numpy, tabulate and six on both executors.

| variant | first application (s) | second application (s) | first vs bare | second vs bare |
|---|---|---|---|---|
{rows}

- **first application**: the artifacts were just uploaded to a new HDFS folder, the
  NodeManager has not localized them yet. **second application**: same artifacts, the
  NodeManager's cache has them (YARN localizes a file once per node, keyed by path and
  modification time).
- pexlab PEX: {arts.pex.size / 1e6:.1f} MB (pyspark/py4j left out: executors use Spark's own),
  built in {pex_seconds:.1f} s{" (from pexlab's cache)" if arts.reused else ""}; venv-pack archive:
  {archive.stat().st_size / 1e6:.1f} MB (the whole venv, pyspark's jars included), packed in
  {pack_seconds:.1f} s{" (earlier run)" if not pack_seconds else ""}.
- Both shipped variants pay the same YARN localization; what differs is the size localized (the
  PEX is a fraction of the venv-pack archive) and the first start in each container: the PEX
  installs itself under `PEX_ROOT` (`./.pex` in the container's folder, so again for every
  container of every application), the archive is unpacked by the NodeManager once per node.
- bare needs the packages installed on every node beforehand, which is what shipping avoids.
"""
    (RESULTS / "yarn.md").write_text(md)
    print(md)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--measure", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--storage", default="", help=argparse.SUPPRESS)
    parser.add_argument("--conf", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
