"""A real `jupyter server` subprocess on 127.0.0.1 with a token and pexlab enabled.

Used where an in-process server cannot stand in: killing the server (restart test) and fuzzing
it over real HTTP (schemathesis)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pexlab.core.net import free_port

REPO = Path(__file__).resolve().parents[2]


def group_alive(pgid: int) -> bool:
    """Whether any process of the process group `pgid` is still running."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Live:
    url: str  # ends with "/"
    token: str
    proc: subprocess.Popen[bytes]
    log: Path

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path.lstrip("/"),
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, json.loads(raw) if raw else None

    def wait(self, predicate, timeout: float = 300, interval: float = 0.2):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"condition not met within {timeout} s; server log: {self.log}"
                )
            time.sleep(interval)


@contextmanager
def live_server(
    home: Path, cache_dir: Path, kernels: dict[str, Path] | None = None
) -> Iterator[Live]:
    """Start a server in `home` (config, data, runtime, root dirs), stop it by pid on exit."""
    port, token = free_port(), os.urandom(16).hex()
    config_dir, data_dir, runtime, root = (home / n for n in ("config", "data", "runtime", "root"))
    for d in (config_dir, data_dir, runtime, root):
        d.mkdir(parents=True, exist_ok=True)
    (config_dir / "jupyter_server_config.json").write_text(
        json.dumps(
            {
                "ServerApp": {
                    # Only pexlab: faster start, and no other extension's routes in the way.
                    "jpserver_extensions": {
                        "pexlab": True,
                        "jupyterlab": False,
                        "jupyter_lsp": False,
                        "notebook_shim": False,
                        "jupyter_server_terminals": False,
                    },
                    "allow_root": True,  # CI containers run as root
                    "allow_unauthenticated_access": False,
                    "open_browser": False,
                    "ip": "127.0.0.1",
                    "port": port,
                    "port_retries": 0,
                    "root_dir": str(root),
                },
                "IdentityProvider": {"token": token},
                "PexLab": {"cache_dir": str(cache_dir)},
            }
        )
    )
    for name, python in (kernels or {}).items():
        spec = data_dir / "kernels" / name
        spec.mkdir(parents=True, exist_ok=True)
        (spec / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": name,
                    "language": "python",
                }
            )
        )
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTER_DATA_DIR=str(data_dir),
        JUPYTER_RUNTIME_DIR=str(runtime),
        PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])]),
    )
    log = home / "server.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=str(root),
        )
    live = Live(f"http://127.0.0.1:{port}/", token, proc, log)
    try:

        def up() -> bool:
            assert proc.poll() is None, f"server exited: {log.read_text()[-3000:]}"
            try:
                return live.request("GET", "api/status")[0] == 200
            except OSError:
                return False

        live.wait(up, timeout=90, interval=0.3)
        yield live
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def kill_kernel_processes(kernel_id: str) -> None:
    """Kill the kernel processes a SIGKILLed server left behind (found by connection file name)."""
    needle = f"kernel-{kernel_id}.json".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue
