"""`make lab` offers the demo kernel, not the venv JupyterLab runs in: a real Jupyter Server
started with the options scripts/lab.py adds for `--kernel` lists that kernelspec only, as the
default; without them the server's own "Python 3 (ipykernel)" is offered too (negative control)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pexlab.core.net import free_port

REPO = Path(__file__).resolve().parents[1]


def _launcher():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "pexlab_lab_launcher_k", REPO / "scripts" / "lab.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@contextmanager
def server(tmp: Path, extra: list[str]) -> Iterator[str]:
    data = tmp / "data"
    spec = data / "kernels" / "pexlab-demo"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python (pexlab demo)",
                "language": "python",
            }
        )
    )
    port = free_port()
    env = dict(
        os.environ,
        JUPYTER_DATA_DIR=str(data),
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            "--IdentityProvider.token=t0k",
            "--ServerApp.open_browser=False",
            f"--ServerApp.root_dir={tmp}",
            "--allow-root",
            *extra,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token=t0k", timeout=2)
                break
            except OSError:
                assert proc.poll() is None, "jupyter server exited"
                assert time.monotonic() < deadline, "jupyter server did not answer"
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def kernelspecs(url: str) -> tuple[str, set[str]]:
    with urllib.request.urlopen(f"{url}/api/kernelspecs?token=t0k", timeout=10) as r:
        data = json.loads(r.read())
    return data["default"], set(data["kernelspecs"])


def test_lab_offers_the_demo_kernel_only_and_by_default(tmp_path: Path) -> None:
    args = _launcher().jupyter_kernel_args("pexlab-demo")
    with server(tmp_path / "a", args) as url:
        assert kernelspecs(url) == ("pexlab-demo", {"pexlab-demo"})
    # Negative control: the same server without them offers its own interpreter as well.
    with server(tmp_path / "b", []) as url:
        default, names = kernelspecs(url)
    assert "python3" in names
    assert default == "python3"


def test_the_launcher_passes_them_to_the_command_it_runs() -> None:
    """`make lab` gives `--kernel pexlab-demo`; the Makefile's command line is checked too."""
    assert "--kernel pexlab-demo" in (REPO / "Makefile").read_text()
    launcher = _launcher()
    assert launcher.jupyter_kernel_args("k") == [
        "--KernelSpecManager.ensure_native_kernel=False",
        "--KernelSpecManager.allowed_kernelspecs=k",
        "--MappingKernelManager.default_kernel_name=k",
    ]
