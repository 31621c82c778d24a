"""Jupyter Server configuration for the pexlab Galata tests.

!! Test-only: no token, no XSRF check, JupyterLab objects exposed to the page.

What it sets up, so `npx playwright test` needs nothing else:
- the `pexlab` server extension enabled (the repo must be importable: installed, or on PYTHONPATH);
- the `pexlab-demo` kernelspec pointing at the demo venv's interpreter
  (`$PEXLAB_DEMO_PYTHON`, default `<repo>/.cache/demo-venv/bin/python`), written to a
  private JUPYTER_PATH entry so nothing outside the repo is touched;
- the built labextension (`pexlab/labextension`) on the labextensions path, for runs from a
  source tree where it is not installed;
- a fresh root folder holding a copy of the demo notebook (`$JUPYTERLAB_GALATA_ROOT_DIR`
  when set), and a fresh pexlab cache (`$PEXLAB_UI_CACHE_DIR` to choose one), and `c.PexLab.storage` pointing at a
  fresh `file://` folder (`$PEXLAB_UI_STORAGE` to choose one).
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

c.ServerApp.ip = "127.0.0.1"
c.ServerApp.port = int(os.environ.get("PEXLAB_UI_PORT", "8888"))
c.ServerApp.jpserver_extensions = {"pexlab": True}
c.ServerApp.allow_root = os.geteuid() == 0  # CI containers run as root

# ---- demo kernel ------------------------------------------------------------------------------
demo_python = Path(
    os.environ.get("PEXLAB_DEMO_PYTHON", REPO / ".cache" / "demo-venv" / "bin" / "python")
)
if not demo_python.exists():
    sys.exit(f"pexlab ui-tests: demo interpreter {demo_python} not found (run `make demo-venv`).")

jpath = Path(tempfile.mkdtemp(prefix="pexlab-galata-jupyter-path-"))
spec_dir = jpath / "kernels" / "pexlab-demo"
spec_dir.mkdir(parents=True)
(spec_dir / "kernel.json").write_text(
    json.dumps(
        {
            # An absolute interpreter path: jupyter_client rewrites a bare "python" to the
            # server's own interpreter, which is exactly what pexlab must not inspect.
            "argv": [str(demo_python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python (pexlab demo)",
            "language": "python",
            "metadata": {"debugger": False},
        }
    )
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
