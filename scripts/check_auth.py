"""Fail if any pexlab endpoint can be reached without authentication or without authorization.

Authentication, like the JupyterLab extension template's `.github/scripts/check_auth.py`: start
a ServerApp with `allow_unauthenticated_access=False` loading only pexlab, and turn Jupyter
Server's `JupyterServerAuthWarning` (emitted for every handler method lacking
@web.authenticated / @allow_unauthenticated) into an error.

Authorization: every HTTP method of every pexlab route must go through Jupyter Server's
`@authorized` (so a read-only collaborator under JupyterHub's role-based sharing cannot run code
in a kernel or start builds), and state-changing methods must not ask only for "read".
Run: `python scripts/check_auth.py`.
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path
from types import CodeType
from typing import Any, cast

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.serverapp import ServerApp
from jupyter_server.utils import JupyterServerAuthWarning
from traitlets.config import Config

try:
    import pexlab  # noqa: F401
except ImportError:  # run from a source tree without an install
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


METHODS = ("get", "post", "put", "patch", "delete")
# Every `@authorized(...)` wrapper shares the code object of the decorator's inner function.
_AUTHORIZED_CODE: CodeType = cast(Any, authorized("read"))(lambda self: None).__code__


def _authorized_action(fn: object) -> str | None:
    """The action an `@authorized` somewhere in `fn`'s wrapper chain checks, else None."""
    while fn is not None:
        code = getattr(fn, "__code__", None)
        if code is _AUTHORIZED_CODE:
            closure = getattr(fn, "__closure__", None) or ()
            cells = dict(zip(code.co_freevars, closure, strict=True))
            action = cells["action"].cell_contents if "action" in cells else None
            return action if isinstance(action, str) else "(from the HTTP method)"
        fn = getattr(fn, "__wrapped__", None)
    return None


def authorization_problems() -> tuple[int, list[str]]:
    from pexlab.server.handlers import routes

    problems, checked = [], 0
    for pattern, handler in routes():
        for method in METHODS:
            fn = getattr(handler, method)
            if fn is getattr(tornado.web.RequestHandler, method):
                continue  # not implemented: tornado answers 405
            checked += 1
            action = _authorized_action(fn)
            if action is None:
                problems.append(f"{handler.__name__}.{method} ({pattern}) lacks @authorized")
            elif method != "get" and action == "read" and handler.__name__ != "NotFoundHandler":
                problems.append(f"{handler.__name__}.{method} changes state but asks only 'read'")
    return checked, problems


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
    if problems:
        print("check_auth: endpoints reachable without authentication:", file=sys.stderr)
        for p in problems:
            print(p, file=sys.stderr)
        return 1
    n_methods, unauthorized = authorization_problems()
    if unauthorized:
        print("check_auth: endpoints without authorization:", file=sys.stderr)
        for p in unauthorized:
            print(p, file=sys.stderr)
        return 1
    print(
        f"check_auth: ok (pexlab loaded, {n_methods} handler methods, every one authenticated "
        "and authorized)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
