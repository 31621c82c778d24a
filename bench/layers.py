"""A node's cost of a one-package change: the first start after `pip install` against a cold and
a warm start, with the node cache's shared layers (issue #18).

    .venv/bin/python bench/layers.py [--reps 5]

No Spark: it times what an executor does on its node, which is where the change costs.  Two
real kernel venvs (cached in .cache/bench/layers): "before" (numpy, pandas, pyarrow,
scikit-learn) and "after" (the same plus tabulate: one `pip install`), and their PEXes, built
by pexlab as a session would.  Each start is a new process running the PEX through its own
launcher, as Spark runs it, with `-c 'import pandas, pyarrow, sklearn, ...'`, the node cache in
a folder of the bench (HOME).  Interleaved, per rep:

- cold:    "after" on an empty node cache (a fresh node: every layer unpacked);
- changed: "after" on a node cache that holds only "before" (the session after the install);
- warm:    "after" again (every later session);
- per-env: the same change the way pexlab worked before layers were shared (one PEX_ROOT per
           environment, set through PEX_ROOT): the node had "before" in its own root, "after"
           gets an empty one, so everything is unpacked again.

Ratios: changed / warm (the goal: about 1), changed / cold and per-env / cold.  Results go to
bench/results/layers.md (+ .json).
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WORK = REPO / ".cache" / "bench" / "layers"
RESULTS = REPO / "bench" / "results"
BEFORE = ("numpy", "pandas", "pyarrow", "scikit-learn")
ADDED = "tabulate"
CODE = "import numpy, pandas, pyarrow, sklearn.linear_model; print('ok')"
VARIANTS = ("cold", "changed", "warm", "per-env")


def venv(name: str, packages: tuple[str, ...]) -> Path:
    folder = WORK / name
    if not (folder / ".complete").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
        subprocess.run([str(folder / "bin" / "pip"), "install", "-q", *packages], check=True)
        (folder / ".complete").write_text("ok")
    return folder / "bin" / "python"


def start(
    pex: Path, home: Path, pex_root: Path | None = None, extra: dict[str, str] | None = None
) -> float:
    """Seconds for one start of `pex` running CODE, as an executor on a node whose HOME (and
    so node cache) is `home`; `extra`: more environment variables."""
    env = {"PATH": os.environ["PATH"], "HOME": str(home), **(extra or {})}
    if pex_root is not None:
        env["PEX_ROOT"] = str(pex_root)
    t = time.perf_counter()
    proc = subprocess.run(
        [str(pex), "-c", CODE], capture_output=True, text=True, env=env, cwd=WORK, check=False
    )
    took = time.perf_counter() - t
    if proc.returncode != 0 or "ok" not in proc.stdout:
        raise SystemExit(f"{pex.name} failed:\n{proc.stderr[-3000:]}")
    return took


def measure(before: Path, after: Path, reps: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    node = WORK / "node"
    for rep in range(reps):
        shutil.rmtree(node, ignore_errors=True)
        node.mkdir(parents=True)
        times["cold"].append(start(after, node))
        shutil.rmtree(node)
        node.mkdir()
        start(before, node)  # an earlier session of the environment before the install
        times["changed"].append(start(after, node))
        times["warm"].append(start(after, node))
        # Before shared layers: each environment its own PEX_ROOT on the node.
        start(before, node, node / "per-env" / "before")
        times["per-env"].append(start(after, node, node / "per-env" / "after"))
        print(
            f"rep {rep + 1}: " + ", ".join(f"{v} {times[v][-1]:.2f} s" for v in VARIANTS),
            flush=True,
        )
    shutil.rmtree(node, ignore_errors=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    from pexlab.package import package_environment

    WORK.mkdir(parents=True, exist_ok=True)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # the sandbox sets it, real nodes do not
    os.environ.setdefault("PEXLAB_CACHE_DIR", str(WORK / "pexlab-cache"))
    pexes = {}
    for name, packages in (("before", BEFORE), ("after", (*BEFORE, ADDED))):
        arts = package_environment(python=str(venv(name, packages)))
        pexes[name] = Path(arts.pex.local_path)
    times = measure(pexes["before"], pexes["after"], args.reps)
    med = {v: statistics.median(times[v]) for v in VARIANTS}
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows = "\n".join(
        f"| {v} | {med[v]:.2f} | {min(times[v]):.2f}–{max(times[v]):.2f} | "
        f"{med[v] / med['warm']:.2f}× | {med[v] / med['cold']:.2f}× |"
        for v in VARIANTS
    )
    load = os.getloadavg()[0]
    text = f"""# A node's cost of a one-package change (shared layers)

`bench/layers.py`, {when}, {args.reps} reps (interleaved), Python {platform.python_version()},
{os.cpu_count()} cores, load average {load:.1f} when it ended. No Spark: each start is a new
process running the PEX through its launcher (`-c '{CODE}'`) with the node cache in a folder of
the bench. "before": {", ".join(BEFORE)}; "after": the same plus {ADDED} (one `pip install`).

| start of "after" | median (s) | range (s) | vs warm | vs cold |
| --- | --- | --- | --- | --- |
{rows}

- cold: an empty node cache (a fresh node). changed: the node cache holds only "before" (the
  session right after the install). warm: "after" again (every later session). per-env: the
  same change with one PEX_ROOT per environment, as pexlab worked before layers were shared.
- PEXes: before {pexes["before"].stat().st_size / 1e6:.0f} MB, after
  {pexes["after"].stat().st_size / 1e6:.0f} MB.
"""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "layers.md").write_text(text)
    raw = {"date": when, "reps": args.reps, "load": load, "times": times}
    (RESULTS / "layers.json").write_text(json.dumps(raw, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
