"""Fail if any pexlab endpoint can be reached without authentication.

Like the JupyterLab extension template's `.github/scripts/check_auth.py`: start a ServerApp with
`allow_unauthenticated_access=False` loading only pexlab, and turn Jupyter Server's
`JupyterServerAuthWarning` (emitted for every handler method lacking @web.authenticated /
@allow_unauthenticated) into an error. Run: `python scripts/check_auth.py`.
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

from jupyter_server.serverapp import ServerApp
from jupyter_server.utils import JupyterServerAuthWarning
from traitlets.config import Config

try:
    import pexlab  # noqa: F401
except ImportError:  # run from a source tree without an install
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        app = ServerApp(
            config=Config({"PexLab": {"cache_dir": str(root / "cache")}}),
            jpserver_extensions={"pexlab": True},
            allow_unauthenticated_access=False,
            # Only pexlab: other installed extensions have their own (unrelated) warnings.
            open_browser=False,
            root_dir=str(root),
            runtime_dir=str(root / "runtime"),
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", JupyterServerAuthWarning)
            app.initialize(
                argv=["--ServerApp.port=0", "--ServerApp.ip=127.0.0.1"],
                find_extensions=False,
                new_httpserver=False,
            )
        if (
            "pexlab" not in app.extension_manager.extensions
            or not app.extension_manager.extensions["pexlab"].enabled
        ):
            print("check_auth: the pexlab server extension was not loaded", file=sys.stderr)
            return 1
        problems = [
            str(w.message) for w in caught if issubclass(w.category, JupyterServerAuthWarning)
        ]
        from pexlab.server.handlers import routes

        n_routes = len(routes("/"))
    if problems:
        print("check_auth: endpoints reachable without authentication:", file=sys.stderr)
        for p in problems:
            print(p, file=sys.stderr)
        return 1
    print(f"check_auth: ok (pexlab loaded, {n_routes} routes, every handler authenticated)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
