"""Jupyter Server configuration for the pexlab Galata tests.

!! Test-only: no token, no XSRF check, JupyterLab objects exposed to the page.

What it sets up, so `npx playwright test` needs nothing else:
- the server on 127.0.0.1:`$PEXLAB_UI_PORT` (playwright.config.js picks a free port; never a
  fixed one, so a user's JupyterLab on 8888 does not matter), with no retry on another port;
- the `pexlab` server extension enabled (the repo must be importable: installed, or on PYTHONPATH);
- the `pexlab-demo` kernelspec pointing at the demo venv's interpreter
  (`$PEXLAB_DEMO_PYTHON`, default `<repo>/.cache/demo-venv/bin/python`), and the `pexlab-nopexlab`
  kernelspec for a venv with ipykernel only (`$PEXLAB_NOPEXLAB_PYTHON`, default
  `<repo>/.cache/no-pexlab-venv/bin/python`, made by `make no-pexlab-venv`), written to a
  private JUPYTER_PATH entry so nothing outside the repo is touched;
- the built labextension (`pexlab/labextension`) on the labextensions path, for runs from a
  source tree where it is not installed;
- a fresh root folder holding a copy of the demo notebook (`$JUPYTERLAB_GALATA_ROOT_DIR`
  when set), and a fresh pexlab cache (`$PEXLAB_UI_CACHE_DIR` to choose one), and `c.PexLab.storage` pointing at a
  fresh `file://` folder (`$PEXLAB_UI_STORAGE` to choose one).

The embedded Spark cluster is not started here but by ../scripts/lab.py, which runs this server
(see playwright.config.js): it passes `--PexLab.master=<its master>` on the command line, gives
the kernels `PEXLAB_DEMO_MASTER`, and stops the cluster by PID when the server exits.
"""

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from jupyterlab.galata import configure_jupyter_server

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

root = os.environ.get("JUPYTERLAB_GALATA_ROOT_DIR") or tempfile.mkdtemp(prefix="pexlab-galata-")
os.environ["JUPYTERLAB_GALATA_ROOT_DIR"] = root
configure_jupyter_server(c)  # noqa: F821
# The same for Notebook 7 (playwright.notebook.config.js): `window.jupyterapp` in its pages.
c.JupyterNotebookApp.expose_app_in_browser = True  # noqa: F821

c.ServerApp.ip = "127.0.0.1"
c.ServerApp.port = int(os.environ.get("PEXLAB_UI_PORT", "0"))  # 0: Jupyter picks a free one
# A taken port is an error, not a silent move to the next one, which Playwright would not find.
c.ServerApp.port_retries = 0
c.ServerApp.jpserver_extensions = {"pexlab": True}
c.ServerApp.allow_root = os.geteuid() == 0  # CI containers run as root

# ---- kernels ----------------------------------------------------------------------------------
jpath = Path(tempfile.mkdtemp(prefix="pexlab-galata-jupyter-path-"))


def kernelspec(name: str, display_name: str, python_var: str, venv: str, make_target: str) -> None:
    python = Path(os.environ.get(python_var, REPO / ".cache" / venv / "bin" / "python"))
    if not python.exists():
        sys.exit(f"pexlab ui-tests: interpreter {python} not found (run `make {make_target}`).")
    spec_dir = jpath / "kernels" / name
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                # An absolute interpreter path: jupyter_client rewrites a bare "python" to the
                # server's own interpreter, which is exactly what pexlab must not inspect.
                "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": display_name,
                "language": "python",
                "metadata": {"debugger": False},
            }
        )
    )


kernelspec("pexlab-demo", "Python (pexlab demo)", "PEXLAB_DEMO_PYTHON", "demo-venv", "demo-venv")
# ipykernel only: the panel's guidance for a kernel that lacks pexlab.
kernelspec(
    "pexlab-nopexlab",
    "Python (no pexlab)",
    "PEXLAB_NOPEXLAB_PYTHON",
    "no-pexlab-venv",
    "no-pexlab-venv",
)
# ipykernel and thousands of metadata-only distributions: the panel's large package list.
kernelspec(
    "pexlab-many",
    "Python (many packages)",
    "PEXLAB_MANY_PYTHON",
    "many-dists-venv",
    "many-dists-venv",
)
labext = REPO / "pexlab" / "labextension"
if (labext / "package.json").exists():
    (jpath / "labextensions").mkdir()
    (jpath / "labextensions" / "pexlab").symlink_to(labext)
os.environ["JUPYTER_PATH"] = os.pathsep.join(
    [str(jpath), *filter(None, os.environ.get("JUPYTER_PATH", "").split(os.pathsep))]
)
c.KernelSpecManager.ensure_native_kernel = False
c.MappingKernelManager.default_kernel_name = "pexlab-demo"

# ---- files and cache --------------------------------------------------------------------------
notebook = REPO / "demo" / "notebooks" / "pexlab-demo.ipynb"
if notebook.exists():
    shutil.copy(notebook, Path(root) / notebook.name)
# Always a fresh cache (the kernel inherits it too): the tests start from "no PEX built yet",
# whatever `make lab` or pytest left in $PEXLAB_CACHE_DIR.
os.environ["PEXLAB_CACHE_DIR"] = os.environ.get("PEXLAB_UI_CACHE_DIR") or tempfile.mkdtemp(
    prefix="pexlab-galata-cache-"
)
# Builds started from the panel upload here, so the panel has an uploaded location to show.
c.PexLab.storage = os.environ.get(
    "PEXLAB_UI_STORAGE", Path(tempfile.mkdtemp(prefix="pexlab-galata-storage-")).as_uri()
)
