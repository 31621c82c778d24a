"""Time to the first result of a trivial job on 2 executors, four ways, side by side.

    .venv/bin/python bench/executors.py [--reps 3]      (make bench)

On one local standalone cluster (master + 2 workers, 1 core each), for an environment with numpy,
tabulate and six (the "kernel" venv, cached in .cache/bench):

- bare:            executors run the kernel venv's python directly (packages preinstalled on
                   workers; the best case, nothing shipped);
- pexlab first:    pexlab's PEX, fresh PEX_ROOT (./.pex in a new executor work dir): ship +
                   extract on first use;
- pexlab warm:     pexlab's PEX with a PEX_ROOT that an earlier application already filled
                   (persistent nodes, pex_root set to a shared folder);
- venv-pack:       `venv-pack` archive of the same venv through spark.archives.

Each measurement is a new driver process (a PySpark JVM keeps its first context's conf, so apps
in one process would leak settings into each other), timed from "create the context" to "first
result in hand": JVM start, executor start, shipping, unpacking, python worker start, job.
Packaging times (pex build, venv-pack) are reported separately.  Runs are interleaved so
machine noise spreads across the variants.  Results go to bench/results/executors.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
WORK = REPO / ".cache" / "bench"
KERNEL = WORK / "kernel-venv"
PACKAGES = ("numpy", "tabulate", "six")
VARIANTS = ("bare", "pexlab-first", "pexlab-warm", "venv-pack")


def _job(_: int) -> str:
    import numpy
    import six  # noqa: F401
    import tabulate  # noqa: F401

    return f"{numpy.sqrt(4.0)}"


def measure(args: argparse.Namespace) -> None:
    """One measurement, in a fresh driver process."""
    from pyspark import SparkConf, SparkContext

    conf = json.loads(args.conf)
    t0 = time.monotonic()
    if args.variant.startswith("pexlab"):
        import pexlab

        sc = pexlab.create_spark_context(
            master=args.master,
            python=str(KERNEL / "bin" / "python"),
            conf=conf,
            pex_root=args.pex_root or "./.pex",
            progress=False,
        )
    else:
        sconf = SparkConf(loadDefaults=False).setMaster(args.master).setAll(list(conf.items()))
        if args.variant == "venv-pack":
            sconf.set("spark.archives", f"{args.archive}#environment")
            os.environ["PYSPARK_PYTHON"] = "./environment/bin/python"
        else:
            os.environ["PYSPARK_PYTHON"] = str(KERNEL / "bin" / "python")
        sc = SparkContext(conf=sconf)
    result = sc.parallelize(range(2), 2).map(_job).collect()
    first = time.monotonic() - t0
    t1 = time.monotonic()
    sc.parallelize(range(2), 2).map(_job).collect()
    second = time.monotonic() - t1
    assert result == ["2.0", "2.0"], result
    sc.stop()
    print("BENCH " + json.dumps({"first": first, "second": second}), flush=True)


def ensure_kernel() -> None:
    if (KERNEL / ".complete").exists():
        return
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(KERNEL)], check=True)
    subprocess.run([str(KERNEL / "bin" / "pip"), "install", "-q", *PACKAGES], check=True)
    (KERNEL / ".complete").write_text("ok")


def run(args: argparse.Namespace) -> None:
    from pexlab.local_cluster import LocalCluster
    from pexlab.package import package_environment

    WORK.mkdir(parents=True, exist_ok=True)
    ensure_kernel()
    os.environ.setdefault("PEXLAB_CACHE_DIR", str(WORK / "pexlab-cache"))
    t = time.monotonic()
    arts = package_environment(python=str(KERNEL / "bin" / "python"))
    pex_seconds = time.monotonic() - t
    archive = WORK / "kernel-venv.tar.gz"
    t = time.monotonic()
    if not archive.exists():
        tmp = archive.with_suffix(".tmp.tar.gz")
        subprocess.run(
            [
                str(Path(sys.executable).with_name("venv-pack")),
                "-p",
                str(KERNEL),
                "-o",
                str(tmp),
                "-f",
                "-q",
            ],
            check=True,
        )
        tmp.rename(archive)
    pack_seconds = time.monotonic() - t

    times: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    with LocalCluster(workers=2, base_dir=WORK / "cluster") as cluster:
        conf = cluster.driver_conf()
        shared_root = WORK / "cluster" / "shared-pex-root"
        env = dict(os.environ, PYTHONPATH=str(REPO), SPARK_LOCAL_IP="127.0.0.1")
        env.pop("PYSPARK_PYTHON", None)

        def once(variant: str, pex_root: str | None) -> dict[str, float]:
            cmd = [
                sys.executable,
                __file__,
                "--measure",
                variant,
                "--master",
                cluster.master_url,
                "--conf",
                json.dumps(conf),
                "--archive",
                str(archive),
            ]
            if pex_root:
                cmd += ["--pex-root", pex_root]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")]
            if not lines:
                raise SystemExit(f"{variant} failed:\n{proc.stderr[-3000:]}")
            return json.loads(lines[-1][6:])

        # Fill the shared PEX_ROOT once (not measured) so "warm" is warm from the first rep.
        once("pexlab-warm", str(shared_root))
        for rep in range(args.reps):
            for variant in VARIANTS:
                root = str(shared_root) if variant == "pexlab-warm" else None
                r = once(variant, root)
                times[variant].append(r)
                print(
                    f"rep {rep + 1} {variant:13s} first result {r['first']:.2f} s, next job {r['second']:.2f} s",
                    flush=True,
                )

    write_results(times, arts, pex_seconds, pack_seconds, archive, args.reps)


def write_results(times, arts, pex_seconds, pack_seconds, archive, reps) -> None:  # type: ignore[no-untyped-def]
    med = {v: statistics.median(r["first"] for r in times[v]) for v in VARIANTS}
    bare = med["bare"]
    rows = []
    for v in VARIANTS:
        firsts = [r["first"] for r in times[v]]
        seconds = [r["second"] for r in times[v]]
        rows.append(
            f"| {v} | {med[v]:.2f} | {min(firsts):.2f}–{max(firsts):.2f} | "
            f"{statistics.median(seconds):.2f} | {med[v] / bare:.2f}× |"
        )
    warm_ok = med["pexlab-warm"] <= 1.3 * bare
    first_ok = med["pexlab-first"] <= med["venv-pack"]
    out = REPO / "bench" / "results" / "executors.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    text = f"""# Executors: time to first result

`bench/executors.py`, {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, {reps} runs per variant (interleaved),
local standalone cluster (master + 2 workers × 1 core, 512 MB executors) on a shared
{os.cpu_count()}-core machine, Python {platform.python_version()}, pyspark {_pyspark_version()}.
Environment: {", ".join(PACKAGES)} (+ their dependencies).

Time from "create the SparkContext" to "first result of a 2-task job in hand" (driver JVM start,
executors, shipping, unpacking, Python workers, the job), and the next job in the same
application. pexlab's time includes its own work in the driver: inspecting the interpreter,
finding the PEX in the cache, and the probe task that checks the executors' Python version.

| variant | first result, median (s) | range (s) | next job (s) | vs bare |
| --- | --- | --- | --- | --- |
{chr(10).join(rows)}

Artifacts: PEX {arts.pex.name} {arts.pex.size / 1e6:.1f} MB (build or cache hit here:
{pex_seconds:.1f} s{", reused from cache" if arts.reused else ""}); venv-pack archive
{archive.stat().st_size / 1e6:.1f} MB (packing: {pack_seconds:.1f} s, 0 if it already existed).

Targets:
- pexlab warm within 1.3× of bare: **{"met" if warm_ok else "NOT met"}** ({med["pexlab-warm"] / bare:.2f}×)
- pexlab first run no slower than venv-pack: **{"met" if first_ok else "NOT met"}**
  ({med["pexlab-first"]:.2f} s vs {med["venv-pack"]:.2f} s)

Notes:
- "pexlab first" is the default set-up (`PEX_ROOT=./.pex` in each executor's work dir): every new
  application extracts the PEX again on each executor. "pexlab warm" passes
  `pex_root="/some/shared/dir"` so executors on long-lived nodes reuse an earlier extraction.
- Machine noise matters at this scale (5 engineers share 2 cores): compare variants within this
  run, not across runs.
"""
    out.write_text(text)
    print(text)


def _pyspark_version() -> str:
    import pyspark

    return pyspark.__version__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--measure", choices=VARIANTS)
    parser.add_argument("--master")
    parser.add_argument("--conf", default="{}")
    parser.add_argument("--archive")
    parser.add_argument("--pex-root")
    args = parser.parse_args()
    if args.measure:
        args.variant = args.measure
        measure(args)
    else:
        run(args)


if __name__ == "__main__":
    # SIGTERM (e.g. `timeout`) unwinds like an error, so the cluster's `with` block stops the
    # Spark daemons instead of orphaning them.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
