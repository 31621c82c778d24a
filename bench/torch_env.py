"""PyTorch from PyPI, end to end, layered (issue #18): builds, one `pip install`, sessions on a
standalone cluster, on YARN and on Spark Connect, and a single-file PEX over 4 GB.

    .venv/bin/python bench/torch_env.py          (make bench; ~40 min, ~30 GB of disk)

The kernel venv (.cache/bench/torch-venv) has pyspark and `torch` from PyPI with its CUDA
runtime wheels (nvidia-*, triton: several GB installed; no GPU is needed to import and compute
on the CPU).  Every worker's and container's own Python lacks torch, so a torch UDF that
computes proves the shipping; "bare" runs the kernel venv's interpreter on the workers (the
packages preinstalled, the reference).  In order, one run each (a torch environment takes
minutes per cold step on 2 cores; compare within this run):

1. builds, each in its own process (peak memory is the process's and pex's, `ru_maxrss`):
   - layers, cold: a fresh pexlab cache and a fresh pex cache, published to a storage folder;
   - layers, rebuild after `pip install tabulate`: what is built, and what reaches storage;
   - single file at `zip_level=0` (stored, so over 4 GB: ZIP64), published to its own folder;
   - venv-pack of the same venv;
2. standalone (2 workers, one node cache, the driver serves the layers): bare; layers on a
   fresh node ("first"); after `pip install tabulate` ("changed"); again ("later"); the
   single-file PEX over 4 GB on a fresh node; venv-pack;
3. YARN (HDFS + one NodeManager whose containers' python3 is a bare venv): the layers on HDFS;
4. Spark Connect (a server on the standalone cluster): the layers as session artifacts.

Results: bench/results/torch.md (+ .json).  cluster-pack is not run: it packs the interpreter
it runs in into one pex zipapp, the single-file case this bench already covers (the 4 GB one).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import tools  # noqa: E402 (bench/tools.py: installs venv-pack)

WORK = REPO / ".cache" / "bench"
BASE = WORK / "torch"
KERNEL = WORK / "torch-venv"
PYTHON = KERNEL / "bin" / "python"
ARCHIVE = WORK / "torch-venv.tar.gz"
# Connect sessions run in a client venv (pexlab from the repo, as tests/connect_driver.py does):
# the kernel above has no Connect client, and pexlab's venv has no pandas.
CLIENT = WORK / "torch-connect-client"
RESULTS = REPO / "bench" / "results"
NODE_HOME = BASE / "node-home"  # the standalone workers' XDG_CACHE_HOME
PACKAGES = (f"pyspark=={version('pyspark')}", "numpy", "torch")
ADDED = "tabulate"
LAYERED = {"layout": "layers"}
STORED = {"layout": "zipapp", "zip_level": 0}
# Layers stored, not deflated: a fresh node copies them instead of inflating ~6 GB (the CPU of
# the first start), for twice the bytes on the wire.
STORED_LAYERS = {"layout": "layers", "zip_level": 0}
OPTIONS = {"stored": STORED, "layers-stored": STORED_LAYERS}
EXPECTED = "8.0"
FOUR_GB = 4 * 1024**3


def job(_: int) -> str:
    import torch  # type: ignore[import-not-found,unused-ignore] # (only on the executors)

    return str(float((torch.ones(2, 2) @ torch.ones(2, 2)).sum()))


# -- in a child process -------------------------------------------------------------------------


def child_build(args: argparse.Namespace) -> None:
    """One build, alone in this process, so its peak memory is its own."""
    from pexlab.package import package_environment

    storage = Path(args.storage)  # a local folder, or hdfs:// (not listed)
    local = "://" not in args.storage
    before = set(os.listdir(storage)) if local and storage.is_dir() else set()
    t = time.monotonic()
    arts = package_environment(python=str(PYTHON), storage=args.storage, options=args.options)
    seconds = time.monotonic() - t
    new = set(os.listdir(storage)) - before if local else set()
    files = [arts.pex, *arts.layers]
    out = {
        "seconds": seconds,
        "reused": arts.reused,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "pex_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "pex": arts.pex.name,
        "files": len(files),
        "bytes": sum(f.size for f in files),
        "largest": max(f.size for f in files),
        "uploaded": sorted(new),
        "uploaded_bytes": sum((storage / f).stat().st_size for f in new),
    }
    print("BENCH " + json.dumps(out), flush=True)


def child_session(args: argparse.Namespace) -> None:
    """One application (or Connect session): time to the first torch result."""
    conf = json.loads(args.conf)
    t = time.monotonic()
    if args.session == "connect":
        from pyspark.sql.functions import udf

        import pexlab

        spark = pexlab.create_spark_session(
            remote=args.master,
            python=str(PYTHON),
            options=LAYERED,
            storage=args.storage or None,
            progress=False,
        )
        # Pickled, not Arrow: the torch kernel has no pyarrow, and the job needs none.
        rows = spark.range(0, 2, 1, 2).select(udf(job, "string", useArrow=False)("id")).collect()
        result = [r[0] for r in rows]
    else:
        from pyspark import SparkConf, SparkContext

        if args.session in ("bare", "venv-pack"):
            sconf = SparkConf(loadDefaults=False).setMaster(args.master).setAll(conf.items())
            if args.session == "venv-pack":
                sconf.set("spark.archives", f"{ARCHIVE}#environment")
                os.environ["PYSPARK_PYTHON"] = "./environment/bin/python"
            else:
                os.environ["PYSPARK_PYTHON"] = str(PYTHON)
            sc = SparkContext(conf=sconf)
        else:
            import pexlab

            sc = pexlab.create_spark_context(
                master=args.master,
                python=str(PYTHON),
                conf=conf,
                storage=args.storage or None,
                options=OPTIONS.get(args.session, LAYERED),
                progress=False,
            )
        result = sc.parallelize(range(2), 2).map(job).collect()
        sc.stop()
    seconds = time.monotonic() - t
    assert result == [EXPECTED] * 2, result
    print("BENCH " + json.dumps({"seconds": seconds}), flush=True)


# -- set-up and the parent ----------------------------------------------------------------------


def pip(*args: str) -> None:
    subprocess.run([str(PYTHON), "-m", "pip", "-q", *args], check=True, capture_output=True)


def ensure_kernel() -> None:
    if (KERNEL / ".complete").exists():
        return
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(KERNEL)], check=True)
    pip("install", *PACKAGES)
    (KERNEL / ".complete").write_text("ok")


def ensure_client() -> Path:
    python = CLIENT / "bin" / "python"
    if not (CLIENT / ".complete").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(CLIENT)], check=True)
        pkg = f"pyspark[connect]=={version('pyspark')}"
        # fsspec: pexlab's one run-time dependency besides pex (run from .venv: PEXLAB_PEX).
        subprocess.run([str(python), "-m", "pip", "install", "-q", pkg, "fsspec"], check=True)
        (CLIENT / ".complete").write_text("ok")
    return python


def child(
    mode: list[str], env: dict[str, str], timeout: float = 3600, python: str = sys.executable
) -> dict[str, Any]:
    proc = subprocess.run(
        [python, __file__, *mode], capture_output=True, text=True, env=env, timeout=timeout
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")]
    if not lines:
        raise SystemExit(f"{mode[:2]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(lines[-1][6:])
    print(f"{' '.join(mode[:2])}: {json.dumps(result)[:300]}", flush=True)
    return result


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), SPARK_LOCAL_IP="127.0.0.1", **extra)
    env.pop("PYSPARK_PYTHON", None)
    return env


def build(
    options: dict[str, Any], storage: Path | str, pex_root: Path, **extra: str
) -> dict[str, Any]:
    env = child_env(PEX_ROOT=str(pex_root), **extra)
    return child(["--build", json.dumps(options), "--storage", str(storage)], env)


def session(kind: str, master: str, conf: dict[str, str], **extra: str) -> float:
    storage = extra.pop("storage", "")
    mode = ["--session", kind, "--master", master, "--conf", json.dumps(conf)]
    env, python = child_env(**extra), sys.executable
    if kind == "connect":
        python = str(ensure_client())
        env["PEXLAB_PEX"] = f"{sys.executable} -m pex"
    return float(child([*mode, "--storage", storage], env, python=python)["seconds"])


def site_mb() -> float:
    site = next((KERNEL / "lib").glob("python3.*/site-packages"))
    kib = subprocess.run(["du", "-sk", str(site)], capture_output=True, text=True, check=True)
    return int(kib.stdout.split()[0]) / 1024


class Record:
    """The run's measurements, saved as each is made: `--again` keeps those made (a run that
    stopped half way, e.g. on a full disk, goes on where it stopped)."""

    def __init__(self, again: bool, redo: list[str] | None = None) -> None:
        self.path = BASE / "measured.json"
        self.data: dict[str, Any] = {"builds": {}, "sessions": {}, "carried": {}}
        if again and self.path.exists():
            self.data = {"carried": {}, **json.loads(self.path.read_text())}
            if redo:  # `--again --redo`: these once more; the rest is the earlier invocation's
                when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.path.stat().st_mtime))
                for group in ("builds", "sessions"):
                    for key in list(self.data[group]):
                        if any(w in key for w in redo):
                            del self.data[group][key]
                            self.data["carried"].pop(key, None)
                        else:
                            self.data["carried"].setdefault(key, when)
        elif redo:
            # Measure again only what `redo` names; the rest is the last published run's,
            # listed in the results as carried over with that run's date.
            last = json.loads((RESULTS / "torch.json").read_text())
            self.data["order"] = {g: list(last[g]) for g in ("builds", "sessions")}
            for group in ("builds", "sessions"):
                for key, value in last[group].items():
                    if not any(word in key for word in redo):
                        self.data[group][key] = value
                        self.data["carried"][key] = last.get("carried", {}).get(key, last["date"])

    def results(self) -> dict[str, Any]:
        """The measurements, each group in the order of the run it was seeded from."""
        order = self.data.get("order", {})
        out = {k: v for k, v in self.data.items() if k != "order"}
        for group, keys in order.items():
            rank = {k: i for i, k in enumerate(keys)}
            items = sorted(out[group].items(), key=lambda kv: rank.get(kv[0], len(rank)))
            out[group] = dict(items)
        return out

    def __call__(self, group: str, key: str, measure: Callable[[], Any]) -> None:
        if key not in self.data[group]:
            self.data[group][key] = measure()
            self.path.write_text(json.dumps(self.data, indent=2))


def drop_apps(cluster: Any) -> None:
    # Each application leaves its executors' copies (GBs for torch): nothing reads them again.
    for app in cluster.work_dir.glob("worker-*/app-*"):
        shutil.rmtree(app, ignore_errors=True)
    for tmp in Path(tempfile.gettempdir()).glob("spark-*"):
        shutil.rmtree(tmp, ignore_errors=True)


def run(again: bool, redo: list[str] | None = None) -> None:
    from pexlab.local.connect import LocalConnectServer
    from pexlab.local.hadoop import LocalHadoop
    from pexlab.local.standalone import LocalCluster

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # the sandbox sets it, real nodes do not
    if not again:
        shutil.rmtree(BASE, ignore_errors=True)
    BASE.mkdir(parents=True, exist_ok=True)
    os.environ["PEXLAB_CACHE_DIR"] = str(BASE / "pexlab-cache")
    ensure_kernel()
    pip("uninstall", "-y", ADDED)
    record = Record(again, redo)
    layers_store, stored_store = BASE / "storage-layers", BASE / "storage-stored"
    pex_root = BASE / "pex-root"

    # 1. builds
    record("builds", "layers cold", lambda: build(LAYERED, layers_store, pex_root))
    pip("install", ADDED)
    record("builds", "layers rebuild", lambda: build(LAYERED, layers_store, pex_root))
    record("builds", "stored single file", lambda: build(STORED, stored_store, pex_root))
    stored_layers = BASE / "storage-layers-stored"
    record("builds", "stored layers", lambda: build(STORED_LAYERS, stored_layers, pex_root))
    # Only the upload is measured: the session below ships from the build cache. A full run
    # holds several copies of 3 to 6 GB at once, and one once filled this machine's disk.
    shutil.rmtree(stored_layers, ignore_errors=True)

    def pack() -> dict[str, float]:
        t = time.monotonic()
        cmd = [str(tools.venv_pack()), "-p", str(KERNEL), "-o", str(ARCHIVE), "-f", "-q"]
        subprocess.run(cmd, check=True)
        return {"seconds": time.monotonic() - t, "bytes": ARCHIVE.stat().st_size}

    record("builds", "venv-pack", pack)
    pip("uninstall", "-y", ADDED)

    # 2. standalone, then 4. Connect on the same cluster
    with LocalCluster(
        workers=2,
        cores=2,
        memory="4g",
        base_dir=BASE / "cluster",
        env={"XDG_CACHE_HOME": str(NODE_HOME)},
    ) as cluster:
        conf = {**cluster.driver_conf(), "spark.executor.cores": "1", "spark.cores.max": "2"}
        master = cluster.master_url

        def app(kind: str, fresh: bool = False, **extra: str) -> Callable[[], float]:
            """A session of `kind`; `fresh`: on nodes whose cache is emptied first (inside the
            measurement, so a measurement `--again` skips leaves the cache alone)."""

            def measure() -> float:
                if fresh:
                    shutil.rmtree(NODE_HOME, ignore_errors=True)
                try:
                    return session(kind, master, conf, **extra)
                finally:
                    drop_apps(cluster)

            return measure

        record("sessions", "standalone bare", app("bare"))
        record("sessions", "standalone layers first", app("layers", fresh=True))
        pip("install", ADDED)
        record("sessions", "standalone layers changed", app("layers"))
        record("sessions", "standalone layers later", app("layers"))
        record(
            "sessions",
            "standalone single file over 4 GB, first",
            app("stored", fresh=True, storage=str(stored_store)),
        )
        shutil.rmtree(stored_store, ignore_errors=True)  # 5.6 GB that nothing reads again
        record("sessions", "standalone venv-pack", app("venv-pack"))
        record(
            "sessions",
            "standalone stored layers (zip_level=0), first",
            app("layers-stored", fresh=True),
        )
        server_conf = {"spark.executor.memory": "1g", "spark.executor.cores": "1"}
        server_conf["spark.cores.max"] = "2"
        with LocalConnectServer(master, conf=server_conf, base_dir=BASE) as server:
            # Without storage, the layers go up as session artifacts: each kernel process
            # uploads 3 GB once, and the server and every executor keep a copy per session
            # (a second one filled this disk), so later sessions are measured with storage.
            record("sessions", "connect layers first", lambda: session("connect", server.url, {}))
            # With a shared storage folder, a session ships the launcher and the file naming
            # the folder, and each node reads the layers it lacks from there.  (The sessions
            # above are closed: no Python worker runs from the node cache emptied here.)
            shared = {"storage": str(layers_store)}
            for key in ("first", "later"):

                def on_connect(fresh: bool = key == "first") -> float:
                    if fresh:
                        shutil.rmtree(NODE_HOME, ignore_errors=True)
                    return session("connect", server.url, {}, **shared)

                record("sessions", f"connect shared folder {key}", on_connect)
        drop_apps(cluster)

    # 3. YARN
    with LocalHadoop(base_dir=BASE / "hadoop") as hadoop:
        env = {"HADOOP_CONF_DIR": str(hadoop.conf_dir)}
        yconf = hadoop.driver_conf()
        folder = f"hdfs:///bench/torch-{int(time.time())}"
        # Uploaded first (3 GB into HDFS), as a panel build or CI would: not in the session time.
        record("builds", "layers to HDFS", lambda: build(LAYERED, folder, pex_root, **env))
        for key in ("yarn layers first", "yarn layers later"):
            record("sessions", key, lambda: session("yarn", "yarn", yconf, storage=folder, **env))
    pip("uninstall", "-y", ADDED)
    write_results({"site_mb": site_mb(), **record.results()})


def carried_note(carried: dict[str, str]) -> str:
    if not carried:
        return ""
    by_date: dict[str, list[str]] = {}
    for key, date in carried.items():
        by_date.setdefault(date, []).append(key)
    runs = "; ".join(f"from the run of {d}: {', '.join(keys)}" for d, keys in by_date.items())
    return f"""
Not measured in this run (`--redo`), carried over {runs}.
"""


def write_results(out: dict[str, Any]) -> None:
    b, s = out["builds"], out["sessions"]
    cold, rebuild, stored = b["layers cold"], b["layers rebuild"], b["stored single file"]
    bare = s["standalone bare"]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows = "\n".join(f"| {k} | {v:.1f} | {v / bare:.2f}× |" for k, v in s.items())
    peak = max(x.get(k, 0) for x in (cold, rebuild, stored) for k in ("rss_mb", "pex_rss_mb"))
    text = f"""# PyTorch from PyPI, layered, end to end

`bench/torch_env.py`, {when}, one run, Python {platform.python_version()}, pyspark
{version("pyspark")}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} when it
ended.  Kernel: {", ".join(PACKAGES)} ({out["site_mb"]:.0f} MB of site-packages); the change:
`pip install {ADDED}`.  Every worker's own Python lacks torch; the UDF computes with it.

## Builds

| build | seconds | files | bytes | peak memory: pexlab / pex (MB) |
| --- | --- | --- | --- | --- |
| layers, cold | {cold["seconds"]:.0f} | {cold["files"]} | {cold["bytes"] / 1e9:.2f} GB | {cold["rss_mb"]:.0f} / {cold["pex_rss_mb"]:.0f} |
| layers, after the change | {rebuild["seconds"]:.0f} | {rebuild["files"]} | {rebuild["bytes"] / 1e9:.2f} GB | {rebuild["rss_mb"]:.0f} / {rebuild["pex_rss_mb"]:.0f} |
| single file, stored (`zip_level=0`) | {stored["seconds"]:.0f} | 1 | {stored["bytes"] / 1e9:.2f} GB | {stored["rss_mb"]:.0f} / {stored["pex_rss_mb"]:.0f} |
| layers, stored (`zip_level=0`) | {b["stored layers"]["seconds"]:.0f} | {b["stored layers"]["files"]} | {b["stored layers"]["bytes"] / 1e9:.2f} GB | {b["stored layers"]["rss_mb"]:.0f} / {b["stored layers"]["pex_rss_mb"]:.0f} |
| venv-pack | {b["venv-pack"]["seconds"]:.0f} | 1 | {b["venv-pack"]["bytes"] / 1e9:.2f} GB | |

- rebuild / cold build: **{rebuild["seconds"] / cold["seconds"]:.0%}** (goal ≤ 20%).
- the change ships {len(rebuild["uploaded"])} files, {rebuild["uploaded_bytes"] / 1e6:.2f} MB:
  **{rebuild["uploaded_bytes"] / rebuild["bytes"]:.3%}** of the environment (goal ≤ 10%):
  {", ".join(rebuild["uploaded"])}.
- the largest layer: {cold["largest"] / 1e6:.0f} MB; the single file is
  {"over" if stored["bytes"] > FOUR_GB else "UNDER"} 4 GiB ({stored["bytes"] / 1024**3:.2f} GiB) and
  starts on executors (below).  Peak memory of any build: {peak:.0f} MB.

## Sessions: time to the first torch result

| session | seconds | vs standalone bare |
| --- | --- | --- |
{rows}

Goals (standalone): first session ≤ 2× bare:
**{"met" if s["standalone layers first"] <= 2 * bare else "NOT met"}**; session after the change
≤ 1.3× bare: **{"met" if s["standalone layers changed"] <= 1.3 * bare else "NOT met"}**; later
sessions ≤ 1.1× bare: **{"met" if s["standalone layers later"] <= 1.1 * bare else "NOT met"}**.
{carried_note(out.get("carried", {}))}"""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "torch.md").write_text(text)
    (RESULTS / "torch.json").write_text(json.dumps({"date": when, **out}, indent=2) + "\n")
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--again", action="store_true", help="keep the last run's caches (builds are reused)"
    )
    parser.add_argument(
        "--redo",
        type=lambda text: [w.strip() for w in text.split(",") if w.strip()],
        help="measure only what these comma-separated words name (e.g. 'standalone,layers "
        "cold'); the other rows come from bench/results/torch.json, marked as carried over",
    )
    parser.add_argument("--build", type=json.loads, dest="options", help=argparse.SUPPRESS)
    parser.add_argument("--session", help=argparse.SUPPRESS)
    parser.add_argument("--storage", default="", help=argparse.SUPPRESS)
    parser.add_argument("--master", default="", help=argparse.SUPPRESS)
    parser.add_argument("--conf", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.options is not None:
        child_build(args)
    elif args.session:
        child_session(args)
    else:
        run(args.again, args.redo)


if __name__ == "__main__":
    main()
