"""Single-file PEX against the layered layout, side by side, for one `pip install` (issue #18).

    .venv/bin/python bench/layered.py [--reps 3]

One real kernel venv ("before": numpy, pandas, pyarrow, scikit-learn), changed by one
`pip install tabulate` ("after") and back, as a user would.  For each layout, per rep,
interleaved:

- build: "before" with a fresh pexlab cache and a fresh pex cache (cold), then, after the
  install, "after" with both warm (the rebuild), each published to a fresh local storage folder;
- shipped: the bytes that reached storage for the change (what an application must move);
- starts, as an executor runs the environment (a new process, its launcher, the node cache in a
  bench folder): "after" on a fresh node (cold), on a node that ran "before" (changed), again
  (warm); the layered launcher reads its layers from the storage folder ($PEXLAB_LAYERS);
- bare: the same imports in the "after" venv itself (the packages preinstalled).

No Spark: bench/executors.py times whole sessions.  Results: bench/results/layered.md (+ .json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from layers import ADDED, BEFORE, CODE, WORK, start, venv

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results"
LAYOUTS = ("zipapp", "layers")
STEPS = ("cold build", "rebuild", "cold start", "changed start", "warm start")


def run(launcher: Path, node: Path, storage: Path) -> float:
    return start(launcher, node, extra={"PEXLAB_LAYERS": str(storage)})


def bare(python: Path) -> float:
    t = time.perf_counter()
    subprocess.run([str(python), "-c", CODE], check=True, capture_output=True, cwd=WORK)
    return time.perf_counter() - t


def pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "-q", *args], check=True, capture_output=True)


def one_rep(layout: str, python: Path, out: dict) -> None:
    from pexlab.build.cache import Cache
    from pexlab.package import package_environment

    base = WORK / f"rep-{layout}"
    shutil.rmtree(base, ignore_errors=True)
    storage, node = base / "storage", base / "node"
    os.environ["PEX_ROOT"] = str(base / "pex-root")  # pex's own cache, cold for this rep
    cache = Cache(base / "pexlab-cache")
    options = {"layout": layout}
    launchers = {}
    pip(python, "uninstall", "-y", ADDED)
    for name, step in (("before", "cold build"), ("after", "rebuild")):
        if name == "after":
            pip(python, "install", ADDED)
        stored = set(os.listdir(storage)) if storage.is_dir() else set()
        t = time.perf_counter()
        arts = package_environment(python, str(storage), options, cache=cache)
        out[layout][step].append(time.perf_counter() - t)
        launchers[name] = Path(arts.pex.local_path)
        new = set(os.listdir(storage)) - stored
        if name == "after":
            out[layout]["shipped"].append(sum((storage / f).stat().st_size for f in new))
            out[layout]["env bytes"].append(
                sum(a.size for a in [arts.pex, *arts.layers, *arts.editables])
            )
    del os.environ["PEX_ROOT"]
    node.mkdir()
    out[layout]["cold start"].append(run(launchers["after"], node, storage))
    shutil.rmtree(node)
    node.mkdir()
    run(launchers["before"], node, storage)
    out[layout]["changed start"].append(run(launchers["after"], node, storage))
    out[layout]["warm start"].append(run(launchers["after"], node, storage))
    shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # the sandbox sets it, real nodes do not
    python = venv("kernel", BEFORE)
    out: dict = {layout: {k: [] for k in (*STEPS, "shipped", "env bytes")} for layout in LAYOUTS}
    out["bare"] = []
    for rep in range(args.reps):
        for layout in LAYOUTS:
            one_rep(layout, python, out)
        out["bare"].append(bare(python))  # "after": tabulate is installed now
        print(f"rep {rep + 1}: " + json.dumps({k: v for k, v in out.items()}, default=str)[:400])
    med = {layout: {k: statistics.median(v) for k, v in out[layout].items()} for layout in LAYOUTS}
    bare_s = statistics.median(out["bare"])
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    z, lay = med["zipapp"], med["layers"]
    rows = "\n".join(
        f"| {step} | {z[step]:.2f} | {lay[step]:.2f} | {lay[step] / z[step]:.2f}× |"
        for step in STEPS
    )
    starts = "\n".join(
        f"| {step} | {z[step] / bare_s:.2f}× | {lay[step] / bare_s:.2f}× |"
        for step in ("cold start", "changed start", "warm start")
    )
    text = f"""# One `pip install`: single-file PEX against layers

`bench/layered.py`, {when}, {args.reps} reps (interleaved), Python {platform.python_version()},
{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} when it ended.
"before": {", ".join(BEFORE)}; "after": the same plus {ADDED}. Starts run
`-c '{CODE}'` through the launcher, as an executor does, without Spark.

| step (median s) | zipapp | layers | layers / zipapp |
| --- | --- | --- | --- |
{rows}

| start vs bare ({bare_s:.2f} s, packages preinstalled) | zipapp | layers |
| --- | --- | --- |
{starts}

| the change | zipapp | layers |
| --- | --- | --- |
| rebuild / cold build | {z["rebuild"] / z["cold build"]:.0%} | {lay["rebuild"] / lay["cold build"]:.0%} |
| bytes shipped | {z["shipped"] / 1e6:.1f} MB | {lay["shipped"] / 1e6:.2f} MB |
| shipped / environment | {z["shipped"] / z["env bytes"]:.1%} | {lay["shipped"] / lay["env bytes"]:.2%} |
"""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "layered.md").write_text(text)
    (RESULTS / "layered.json").write_text(json.dumps({"date": when, **out}, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
