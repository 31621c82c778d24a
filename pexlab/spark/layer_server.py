"""A layered environment's layers, served over HTTP from the driver to executors that lack them.

Spark fetches every `spark.files` entry eagerly, for every application, on every executor: a
warm node would download the whole environment again although it has extracted all of it.
With this server, a classic session ships only the launcher; its executors fetch the layers
their node lacks from `$PEXLAB_LAYERS` (`pexlab.nodecache.launcher`), which points here, and a
warm node fetches nothing.

- One server per driver process (the kernel), started on first use and kept while it lives:
  executors may start at any time (dynamic allocation), and every session of the kernel shares
  it.  It listens on the address Spark's own driver uses (`spark.driver.bindAddress`,
  `spark.driver.host`, `SPARK_LOCAL_IP`, else this host's address), which executors reach.
- It serves only the files registered with it, under a random token in the path, read-only.
- Used for standalone masters when storage is not a shared folder (`storage=` a shared folder
  is read directly; YARN's NodeManagers cache localized files; Connect's executors belong to
  the server, which may not reach this process).  `spark.executorEnv.PEXLAB_LAYERS` in the
  user's conf wins.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pexlab.package import Artifact


def driver_address(conf: Mapping[str, Any]) -> str:
    """The address executors reach the driver at, as Spark chooses it."""
    for value in (
        conf.get("spark.driver.bindAddress"),
        conf.get("spark.driver.host"),
        os.environ.get("SPARK_LOCAL_IP"),
    ):
        if value:
            return str(value)
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


class LayerServer:
    def __init__(self, host: str) -> None:
        self.files: dict[str, Path] = {}
        self.requests = 0  # layers served (tests and the bench count what executors fetched)
        self.token = secrets.token_urlsafe(16)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                prefix, _, name = self.path.lstrip("/").partition("/")
                path = server.files.get(name) if prefix == server.token else None
                if path is None or not path.is_file():
                    self.send_error(404)
                    return
                server.requests += 1  # before the body: a reader that has it sees the count
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(path.stat().st_size))
                self.end_headers()
                with open(path, "rb") as f:
                    shutil.copyfileobj(f, self.wfile, 1 << 20)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # executors' fetches are not the notebook's business

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.host = host
        threading.Thread(target=self.httpd.serve_forever, name="pexlab-layers", daemon=True).start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.httpd.server_address[1]}/{self.token}"

    def add(self, layers: list[Artifact]) -> str:
        for layer in layers:
            self.files[layer.name] = Path(layer.local_path)
        return self.url


_LOCK = threading.Lock()
_SERVERS: dict[str, LayerServer] = {}


def serve(layers: list[Artifact], conf: Mapping[str, Any]) -> str:
    """The URL executors fetch `layers` from (this process serves them from now on)."""
    host = driver_address(conf)
    with _LOCK:
        server = _SERVERS.get(host)
        if server is None:
            server = _SERVERS[host] = LayerServer(host)
        return server.add(layers)


def served() -> int:
    """Layers served so far by this process's servers."""
    return sum(s.requests for s in _SERVERS.values())
