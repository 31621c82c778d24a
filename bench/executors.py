"""Time to the first result of a job on 2 executors, four ways, for three kernel environments.

    .venv/bin/python bench/executors.py [--envs small,minimal,notebook] [--reps 3]  (make bench)

On one local standalone cluster (master + 2 workers, 1 core each), for each kernel environment
(venvs cached in .cache/bench):

- small:     numpy, tabulate and six (the "kernel" venv); the job imports all three.  No real
             pexlab kernel is this small (it has no pyspark to create a session with): it
             isolates the fixed cost of a PEX's first start;
- minimal:   the smallest kernel that can call `create_spark_session`: the small env plus
             ipykernel and pyspark; same job;
- notebook:  a realistic notebook kernel: ipykernel, pyspark, numpy, pandas, pyarrow and
             scikit-learn; the job imports numpy, pandas, pyarrow and sklearn and fits a model.
             The kernel has pyspark because the driver imports it: pexlab leaves pyspark/py4j
             out of its PEX (executors use Spark's own), venv-pack packs everything.

and for each environment four variants:

- bare:            executors run the kernel venv's python directly (packages preinstalled on
                   workers; the best case, nothing shipped);
- pexlab first:    pexlab's default on fresh nodes: the node cache (pexlab.nodecache.upkeep) is
                   emptied before the run, so executors ship + extract the PEX;
- pexlab later:    pexlab's default for every later application on the same nodes: the node
                   cache holds the environment an earlier application extracted;
- pexlab changed:  the first application after a `pip install` of one package (`Env.added`)
                   in the kernel: a new PEX, on nodes whose cache holds the environment before
                   the install (and nothing else), so only the new package's layer is new;
- layers first/later/changed: the same three with `options={"layout": "layers"}`: the
                   application ships a small launcher, and executors fetch from the driver
                   only the layers their node lacks;
- venv-pack:       `venv-pack` archive of the same venv through spark.archives (venv-pack is
                   installed into .cache/bench-tools by bench/tools.py).

The workers' XDG_CACHE_HOME is a folder of the bench (so the default node cache,
`$XDG_CACHE_HOME/pexlab/node-cache`, is the bench's, not this machine user's).

Each measurement is a new driver process (a PySpark JVM keeps its first context's conf, so apps
in one process would leak settings into each other), timed from "create the context" to "first
result in hand": JVM start, executor start, shipping, unpacking, python worker start, job.
Packaging times (pex build, venv-pack) are reported separately.  Runs are interleaved so
machine noise spreads across the variants.  Results go to bench/results/executors.md (+ .json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pexlab.local.standalone import LocalCluster
    from pexlab.package import Artifacts

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import graveyard  # noqa: E402 (bench/graveyard.py: resets nodes without deleting)
import tools  # noqa: E402 (bench/tools.py: installs venv-pack)

WORK = REPO / ".cache" / "bench"
RESULTS = REPO / "bench" / "results"
NODE_HOME = WORK / "cluster" / "node-home"  # the workers' XDG_CACHE_HOME
NODE_CACHE = NODE_HOME / "pexlab" / "node-cache"
VARIANTS = (
    "bare",
    "pexlab-first",
    "pexlab-later",
    "pexlab-changed",
    "layers-first",
    "layers-later",
    "layers-changed",
    "venv-pack",
)
# The layered layout (README, "Layered environments"): the same three situations; the driver
# serves the layers to the executors (pexlab.spark.layer_server).
LAYERED = {"layout": "layers"}
# {"first": s, "second": s, "context": s}: first result, next job, and the part of "first"
# spent creating the context (pexlab: including the cache lookup and the probe task).
Run = dict[str, float]


def _job_small(_: int) -> str:
    import numpy
    import six  # noqa: F401
    import tabulate  # noqa: F401

    return f"{numpy.sqrt(4.0)}"


def _job_notebook(_: int) -> str:
    # Touch every big package for real (not just import the top level): a frame through Arrow
    # and back, then a scikit-learn fit, which also loads scipy.
    import numpy
    import pandas
    import pyarrow
    from sklearn.linear_model import LinearRegression

    table = pyarrow.Table.from_pandas(pandas.DataFrame({"x": numpy.arange(4.0)}))
    frame = table.to_pandas()
    model = LinearRegression().fit(frame[["x"]], 2 * frame["x"] + 1)
    return f"{frame['x'].sum()} {model.coef_[0]:.1f}"


@dataclass(frozen=True)
class Env:
    name: str
    venv: Path
    packages: tuple[str, ...]
    job: Callable[[int], str]
    expected: str  # what `job` returns; the driver asserts on it
    added: str = "tabulate"  # the one package `pip install`ed for "pexlab changed"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def changed(self) -> Env:
        """This environment after `pip install <added>`: a venv of its own."""
        return Env(
            self.name + "-changed",
            self.venv.with_name(self.venv.name + "-changed"),
            (*self.packages, self.added),
            self.job,
            self.expected,
        )

    @property
    def archive(self) -> Path:
        return self.venv.with_name(self.venv.name + ".tar.gz")


# A kernel's pyspark must match the driver's (the same Spark talks to the cluster).
_PYSPARK = f"pyspark=={version('pyspark')}"
ENVS = {
    # "kernel-venv" (not "small-venv") so the venv and archive of earlier runs are reused.
    "small": Env(
        "small", WORK / "kernel-venv", ("numpy", "tabulate", "six"), _job_small, "2.0", "idna"
    ),
    "minimal": Env(
        "minimal",
        WORK / "minimal-venv",
        ("ipykernel", _PYSPARK, "numpy", "tabulate", "six"),
        _job_small,
        "2.0",
        "idna",
    ),
    "notebook": Env(
        "notebook",
        WORK / "notebook-venv",
        (
            "ipykernel",
            _PYSPARK,
            "numpy",
            "pandas",
            "pyarrow",
            "scikit-learn",
        ),
        _job_notebook,
        "6.0 2.0",
    ),
}


@dataclass
class Prepared:
    """An environment with its artifacts built, before anything is measured."""

    env: Env
    arts: Artifacts
    pex_seconds: float
    changed_arts: Artifacts  # the PEX after `pip install <added>`
    layered: Artifacts  # the same two, layered
    layered_changed: Artifacts
    pack_seconds: float
    packages: list[str]  # name==version of every distribution in the kernel venv
    site_mb: float  # disk usage of its site-packages


# -- one measurement (in its own driver process) ----------------------------------------------


def measure(args: argparse.Namespace) -> None:
    """One measurement, in a fresh driver process."""
    from pyspark import SparkConf, SparkContext

    env = ENVS[args.env]
    if args.variant.endswith("-changed"):
        env = env.changed()
    conf = json.loads(args.conf)
    t0 = time.monotonic()
    if args.variant.startswith(("pexlab", "layers")):
        import pexlab

        sc = pexlab.create_spark_context(
            master=args.master,
            python=str(env.python),
            conf=conf,
            progress=False,
            options=LAYERED if args.variant.startswith("layers") else None,
        )
    else:
        sconf = SparkConf(loadDefaults=False).setMaster(args.master).setAll(list(conf.items()))
        if args.variant == "venv-pack":
            sconf.set("spark.archives", f"{env.archive}#environment")
            os.environ["PYSPARK_PYTHON"] = "./environment/bin/python"
        else:
            os.environ["PYSPARK_PYTHON"] = str(env.python)
        sc = SparkContext(conf=sconf)
    context = time.monotonic() - t0
    result = sc.parallelize(range(2), 2).map(env.job).collect()
    first = time.monotonic() - t0
    t1 = time.monotonic()
    sc.parallelize(range(2), 2).map(env.job).collect()
    second = time.monotonic() - t1
    assert result == [env.expected] * 2, result
    sc.stop()
    print("BENCH " + json.dumps({"first": first, "second": second, "context": context}), flush=True)


# -- set-up (not measured) ----------------------------------------------------------------------


def ensure_kernel(env: Env) -> None:
    if (env.venv / ".complete").exists():
        return
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(env.venv)], check=True)
    subprocess.run([str(env.venv / "bin" / "pip"), "install", "-q", *env.packages], check=True)
    (env.venv / ".complete").write_text("ok")


def ensure_archive(env: Env) -> float:
    """venv-pack the kernel venv unless already done; seconds spent (0 if it existed)."""
    if env.archive.exists():
        return 0.0
    t = time.monotonic()
    tmp = env.archive.with_name(env.venv.name + ".tmp.tar.gz")
    venv_pack = tools.venv_pack()
    subprocess.run([str(venv_pack), "-p", str(env.venv), "-o", str(tmp), "-f", "-q"], check=True)
    tmp.rename(env.archive)
    return time.monotonic() - t


def site_packages_mb(folders: tuple[str, ...]) -> float:
    # du (disk usage) rather than a sum of file sizes: what the install costs on a worker's disk.
    kib = subprocess.run(["du", "-skc", *folders], capture_output=True, text=True, check=True)
    return int(kib.stdout.splitlines()[-1].split()[0]) / 1024


def prepare(env: Env) -> Prepared:
    from pexlab.package import package_environment

    ensure_kernel(env)
    # Built (or found in the bench's pexlab cache) here, timed, so the measured runs only ever
    # hit the cache, as a kernel that already packaged its environment would.
    t = time.monotonic()
    arts = package_environment(python=str(env.python))
    pex_seconds = time.monotonic() - t
    ensure_kernel(env.changed())
    changed = package_environment(python=str(env.changed().python))
    layered = package_environment(python=str(env.python), options=LAYERED)
    layered_changed = package_environment(python=str(env.changed().python), options=LAYERED)
    pack_seconds = ensure_archive(env)
    # What is installed, as pexlab's own inspection saw it (no second `pip freeze`).
    packages = [f"{d.name}=={d.version}" for d in arts.env.distributions]
    return Prepared(
        env,
        arts,
        pex_seconds,
        changed,
        layered,
        layered_changed,
        pack_seconds,
        packages,
        site_packages_mb(arts.env.site_packages),
    )


# -- the measured runs --------------------------------------------------------------------------


def once(cluster: LocalCluster, p: Prepared, variant: str) -> Run:
    env = p.env
    cmd = [
        sys.executable,
        __file__,
        "--measure",
        variant,
        "--env",
        env.name,
        "--master",
        cluster.master_url,
        "--conf",
        json.dumps(cluster.driver_conf()),
    ]
    if variant.endswith("-first"):
        # Fresh nodes: no environment extracted by an earlier application.
        graveyard.bury(NODE_CACHE)
    if variant.endswith("-changed"):
        # Nodes that ran the environment before the install, and nothing since: every other
        # environment (the changed one of the previous rep included) and its layers go.
        from pexlab.nodecache import env_id, upkeep

        keep = env_id((p.layered if variant.startswith("layers") else p.arts).fingerprint)
        upkeep.evict(str(NODE_CACHE), 0, keep=(keep,), grace=0)
        left = [e.eid for e in upkeep.scan(str(NODE_CACHE))]
        assert left == [keep], f"the node cache should hold only {keep}: {left}"
    penv = dict(os.environ, PYTHONPATH=str(REPO), SPARK_LOCAL_IP="127.0.0.1")
    penv.pop("PYSPARK_PYTHON", None)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=penv, timeout=900)
    _drop_app_dirs(cluster)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")]
    if not lines:
        raise SystemExit(f"{env.name} {variant} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][6:])


def _drop_app_dirs(cluster: LocalCluster) -> None:
    # Each finished application leaves its executors' work dirs (the unpacked venv-pack archive,
    # the first-run PEX_ROOT): ~GBs per rep for the notebook env.  Nothing reads them again.
    for app in cluster.work_dir.glob("worker-*/app-*"):
        graveyard.bury(app)


def measure_env(cluster: LocalCluster, p: Prepared, reps: int) -> dict[str, list[Run]]:
    env = p.env
    times: dict[str, list[Run]] = {v: [] for v in VARIANTS}
    # One application first (not measured), so "later" has its predecessor from the first rep.
    once(cluster, p, "pexlab-later")
    once(cluster, p, "layers-later")
    for rep in range(reps):
        for variant in VARIANTS:
            r = once(cluster, p, variant)
            times[variant].append(r)
            print(
                f"{env.name} rep {rep + 1} {variant:13s} first result {r['first']:.2f} s, "
                f"next job {r['second']:.2f} s",
                flush=True,
            )
    return times


def run(args: argparse.Namespace) -> None:
    from pexlab.local.standalone import LocalCluster

    names = [n.strip() for n in args.envs.split(",") if n.strip()]
    unknown = [n for n in names if n not in ENVS]
    if unknown or not names:
        raise SystemExit(f"--envs: unknown {unknown or names}; choose from {', '.join(ENVS)}")
    WORK.mkdir(parents=True, exist_ok=True)
    # The sandbox sets it, real clusters do not.  With it, every module the venvs have no .pyc
    # for (the PEX leaves packages' tests/ and top-level single-file modules to compile) would
    # be compiled again at every Python start.  Popped before the cluster (daemons and
    # executors inherit it) and before the driver processes.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ.setdefault("PEXLAB_CACHE_DIR", str(WORK / "pexlab-cache"))
    prepared = [prepare(ENVS[n]) for n in names]

    times: dict[str, dict[str, list[Run]]] = {}
    graveyard.bury(NODE_HOME)  # a killed run's nodes
    graveyard.settle()
    try:
        with LocalCluster(
            workers=2, base_dir=WORK / "cluster", env={"XDG_CACHE_HOME": str(NODE_HOME)}
        ) as cluster:
            for p in prepared:
                times[p.env.name] = measure_env(cluster, p, args.reps)
    finally:
        graveyard.bury(NODE_HOME)
        graveyard.empty()

    text = write_results(prepared, times, args.reps)
    print(text)


# -- report -------------------------------------------------------------------------------------


def medians(runs: dict[str, list[Run]]) -> dict[str, float]:
    return {v: statistics.median(r["first"] for r in runs[v]) for v in VARIANTS}


def env_section(p: Prepared, runs: dict[str, list[Run]]) -> str:
    med = medians(runs)
    bare = med["bare"]
    rows = []
    for v in VARIANTS:
        firsts = [r["first"] for r in runs[v]]
        seconds = [r["second"] for r in runs[v]]
        context = statistics.median(r.get("context", float("nan")) for r in runs[v])
        rows.append(
            f"| {v} | {med[v]:.2f} | {min(firsts):.2f}–{max(firsts):.2f} | {context:.2f} | "
            f"{med[v] - context:.2f} | {statistics.median(seconds):.2f} | {med[v] / bare:.2f}× |"
        )
    later_ok = med["pexlab-later"] <= 1.3 * bare
    first_bare_ok = med["pexlab-first"] <= 2 * bare
    first_vp_ok = med["venv-pack"] >= 1.5 * med["pexlab-first"]
    changed_ok = med["pexlab-changed"] <= 1.1 * med["pexlab-later"]
    layered_ok = med["layers-changed"] <= 1.3 * bare
    layered_first_ok = med["layers-first"] <= 1.5 * bare
    layered_later_ok = med["layers-later"] <= 1.1 * bare
    lay, lay_changed = p.layered, p.layered_changed
    lay_bytes = lay.pex.size + sum(x.size for x in lay.layers)
    new_layers = {x.name for x in lay_changed.layers} - {x.name for x in lay.layers}
    lay_change = lay_changed.pex.size + sum(
        x.size for x in lay_changed.layers if x.name in new_layers
    )
    changed = p.changed_arts.pex
    pex = p.arts.pex
    return f"""## {p.env.name}: {", ".join(p.env.packages)}

Installed: {p.site_mb:.0f} MB of site-packages. Packages: {", ".join(p.packages)}.

| variant | first result, median (s) | range (s) | of which context (s) | of which first job (s) | next job (s) | vs bare |
| --- | --- | --- | --- | --- | --- | --- |
{chr(10).join(rows)}

Artifacts: PEX {pex.name} {pex.size / 1e6:.1f} MB (build or cache hit here:
{p.pex_seconds:.1f} s{", reused from cache" if p.arts.reused else ""}); venv-pack archive
{p.env.archive.stat().st_size / 1e6:.1f} MB (packing: {p.pack_seconds:.1f} s, 0 if it already existed).

Goals:
- later applications ≤ 1.3× bare: **{"met" if later_ok else "NOT met"}** ({med["pexlab-later"] / bare:.2f}×)
- first application ≤ 2× bare (goal for the notebook env): **{"met" if first_bare_ok else "NOT met"}**
  ({med["pexlab-first"] / bare:.2f}×)
- first application ahead of venv-pack by ≥ 1.5× (goal for the notebook env):
  **{"met" if first_vp_ok else "NOT met"}** ({med["venv-pack"] / med["pexlab-first"]:.2f}×:
  {med["pexlab-first"]:.2f} s vs {med["venv-pack"]:.2f} s)
- the first session after `pip install {p.env.added}` starts about as fast as a later one
  (≤ 1.1× "pexlab later", issue #18): **{"met" if changed_ok else "NOT met"}**
  ({med["pexlab-changed"] / med["pexlab-later"]:.2f}× later, {med["pexlab-changed"] / bare:.2f}× bare;
  with one PEX_ROOT per environment it cost what "pexlab first" costs, {med["pexlab-first"] / bare:.2f}× bare).
  Its PEX: {changed.name}, {changed.size / 1e6:.1f} MB.
- layered (issue #18 goals): the session after the change ≤ 1.3× bare:
  **{"met" if layered_ok else "NOT met"}** ({med["layers-changed"] / bare:.2f}×); the first
  session on fresh nodes ≤ 1.5× bare: **{"met" if layered_first_ok else "NOT met"}**
  ({med["layers-first"] / bare:.2f}×); later sessions ≤ 1.1× bare:
  **{"met" if layered_later_ok else "NOT met"}** ({med["layers-later"] / bare:.2f}×).
  The environment: a {lay.pex.size / 1e3:.0f} kB launcher and {len(lay.layers)} layers,
  {lay_bytes / 1e6:.1f} MB; the change ships the launcher and {len(new_layers)} layer(s),
  {lay_change / 1e6:.2f} MB ({lay_change / lay_bytes:.2%} of the environment), and a warm node
  fetches no layer for a new application (the launcher, {lay.pex.size / 1e3:.0f} kB, is
  {lay.pex.size / lay_bytes:.2%} of the environment).
"""


def write_results(
    prepared: list[Prepared], times: dict[str, dict[str, list[Run]]], reps: int
) -> str:
    """Write executors.md and executors.json; returns the Markdown."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    sections = "\n".join(env_section(p, times[p.env.name]) for p in prepared)
    text = f"""# Executors: time to first result

`bench/executors.py`, {when}, {reps} runs per variant (interleaved),
local standalone cluster (master + 2 workers × 1 core, 512 MB executors) on a shared
{os.cpu_count()}-core machine, Python {platform.python_version()}, pyspark {version("pyspark")}.
Environments measured: {", ".join(p.env.name for p in prepared)}.

Time from "create the SparkContext" to "first result of a 2-task job in hand" (driver JVM start,
executors, shipping, unpacking, Python workers, the job), and the next job in the same
application. pexlab's time includes its own work in the driver: inspecting the interpreter,
finding the PEX in the cache, and the probe task that checks the executors' Python version.
Kernel environments: "small" (numpy, tabulate, six; the job imports them: smaller than any real
pexlab kernel, which needs pyspark, so it isolates the fixed cost of a PEX's first start),
"minimal" (the smallest kernel that can create a session: small + ipykernel + pyspark; same job)
and "notebook" (ipykernel, pyspark, numpy, pandas, pyarrow, scikit-learn; the job imports numpy,
pandas, pyarrow and sklearn and fits a model, so executors load the big packages).

{sections}
Notes:
- Both pexlab variants are the default set-up (no `pex_root=`): the PEX's launcher puts the
  environment in the per-user node cache (`pexlab.nodecache.upkeep`). "pexlab first" empties that cache
  before the run (fresh nodes: every executor extracts the PEX); "pexlab later" is every later
  application on the same nodes (a new kernel, an edited editable project): the cache holds the
  environment, nothing is extracted. "of which context" is the time until the context is
  returned: for pexlab that includes the cache lookup and the probe task, which starts the
  executors' Python (and so does the extraction on a first run).
- The notebook kernel contains pyspark because the driver imports it. pexlab leaves pyspark and
  py4j out of its PEX (executors import Spark's own); venv-pack packs the whole venv, pyspark
  and its jars included.
- `PYTHONDONTWRITEBYTECODE` is removed from the environment before the cluster starts: the
  sandbox this runs in sets it, real clusters do not.
- Where a first run's time goes (measured by hand on this machine, one process, no Spark):
  on an empty PEX_ROOT, pex's own start-up costs ~1.5 s whatever the environment's size (two
  bootstrap processes, interpreter identification, creating the venv; 0.2 s when warm), then
  extraction grows with the environment. venv-pack's archive is unpacked by a native `tar`
  (0.75 s for the small archive, 12-17 s for the notebook one, whose 658 MB include pyspark).
  So pexlab is behind on a tiny environment by about that fixed start-up, and ahead on a real
  one, where it ships less and carries pip's compiled bytecode (`pexlab.build.bytecode`).
- Fresh nodes are made by moving the node cache and the finished applications' folders aside
  (`bench/graveyard.py`), not by deleting them: this machine's ext4 has no journal, and there
  a file created within a minute or more of a mass delete first scans the freed inodes.  With
  deletion, the notebook layers' unpack took 9 s instead of 1.5 s, and every variant that
  writes files (all but bare) paid it.  The "changed" variants still delete (their eviction
  is pexlab's own, `upkeep.evict`): the previous rep's changed environment, which for the
  single-file PEX is a whole extracted venv.
- Machine noise matters at this scale (2 shared cores run the driver, master, workers and
  executors): compare variants within this run, not across runs.
"""
    (RESULTS / "executors.md").write_text(text)
    raw = {
        "date": when,
        "reps": reps,
        "python": platform.python_version(),
        "pyspark": version("pyspark"),
        "envs": {p.env.name: env_json(p, times[p.env.name]) for p in prepared},
    }
    (RESULTS / "executors.json").write_text(json.dumps(raw, indent=2) + "\n")
    return text


def env_json(p: Prepared, runs: dict[str, list[Run]]) -> dict[str, Any]:
    return {
        "requirements": list(p.env.packages),
        "packages": p.packages,
        "site_packages_mb": round(p.site_mb, 1),
        "pex": {"name": p.arts.pex.name, "bytes": p.arts.pex.size, "seconds": p.pex_seconds},
        "venv_pack": {"bytes": p.env.archive.stat().st_size, "seconds": p.pack_seconds},
        "variants": {v: runs[v] for v in VARIANTS},
    }


# -- pex's first-boot options (no Spark) ------------------------------------------------------

# name -> BuildOptions overrides; the first is pexlab's default.
BOOT_VARIANTS: dict[str, dict[str, Any]] = {
    "default (--sh-boot, pre-installed wheels, bytecode)": {},
    "without --sh-boot": {"sh_boot": False},
    "--no-pre-install-wheels --max-install-jobs 0": {"extra_args": ["--no-pre-install-wheels"]},
    "without pexlab's bytecode": {"bytecode": False},
}
_BOOT_CODE = "import pandas, pyarrow; from sklearn.linear_model import LinearRegression"


def boot_options(reps: int) -> None:
    """Cold start (empty PEX_ROOT) and warm start of each variant's PEX of the notebook env,
    each running the notebook job's imports; interleaved; bench/results/boot-options.md."""
    from pexlab.package import package_environment

    env = ENVS["notebook"]
    ensure_kernel(env)
    pexes = {
        name: Path(package_environment(python=str(env.python), options=o).pex.local_path)
        for name, o in BOOT_VARIANTS.items()
    }
    times: dict[str, list[dict[str, float]]] = {n: [] for n in pexes}
    base = {k: v for k, v in os.environ.items() if not k.startswith("PEX")}
    for rep in range(reps):
        for name, pex in pexes.items():
            root = WORK / "boot-pex-root"
            shutil.rmtree(root, ignore_errors=True)
            run = {}
            for phase in ("cold", "warm"):
                t = time.monotonic()
                subprocess.run(
                    [str(pex), "-c", _BOOT_CODE], check=True, env={**base, "PEX_ROOT": str(root)}
                )
                run[phase] = time.monotonic() - t
            times[name].append(run)
            print(f"boot rep {rep + 1} {name}: cold {run['cold']:.2f} s, warm {run['warm']:.2f} s")
    shutil.rmtree(WORK / "boot-pex-root", ignore_errors=True)
    rows = []
    for name, runs in times.items():
        cold = [r["cold"] for r in runs]
        warm = [r["warm"] for r in runs]
        rows.append(
            f"| {name} | {statistics.median(cold):.2f} | {min(cold):.2f}–{max(cold):.2f} | "
            f"{statistics.median(warm):.2f} | {pexes[name].stat().st_size / 1e6:.0f} |"
        )
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = f"""# pex first-boot options, notebook environment

`bench/executors.py --boot-options`, {when}, {reps} runs per variant (interleaved), one process
per start, no Spark, on a shared {os.cpu_count()}-core machine. Each start runs
`{_BOOT_CODE}`; "cold" starts from an empty PEX_ROOT (the PEX is extracted into a venv),
"warm" right after, from the venv.

| PEX | cold (s), median | range (s) | warm (s) | size (MB) |
| --- | --- | --- | --- | --- |
{chr(10).join(rows)}
"""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "boot-options.md").write_text(text)
    (RESULTS / "boot-options.json").write_text(json.dumps({"date": when, "runs": times}, indent=2))
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--envs", default=",".join(ENVS), help="comma-separated: small,minimal,notebook"
    )
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--boot-options", action="store_true", help="measure pex's first-boot options instead"
    )
    parser.add_argument("--measure", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--env", choices=list(ENVS), default="small", help=argparse.SUPPRESS)
    parser.add_argument("--master", help=argparse.SUPPRESS)
    parser.add_argument("--conf", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        args.variant = args.measure
        measure(args)
    elif args.boot_options:
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ.setdefault("PEXLAB_CACHE_DIR", str(WORK / "pexlab-cache"))
        boot_options(args.reps)
    else:
        run(args)


if __name__ == "__main__":
    # SIGTERM (e.g. `timeout`) unwinds like an error, so the cluster's `with` block stops the
    # Spark daemons instead of orphaning them.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
