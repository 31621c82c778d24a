"""pexlab: run PySpark with exactly your kernel's Python environment.

The engine (inspection, PEX build, editable zips, upload, Spark conf) is importable without
Jupyter; the server extension lives in `pexlab.server` and is loaded only by Jupyter Server.
"""

from __future__ import annotations

from typing import Any

try:
    from ._version import __version__
except ImportError:  # running from a source tree without an install
    __version__ = "dev"

__all__ = [
    "__version__",
    "create_spark_context",
    "create_spark_session",
    "show_tracebacks",
    "spark_conf",
]


def __getattr__(name: str) -> Any:
    # Lazy so that `import pexlab` (done by Jupyter Server at start-up) never imports pyspark.
    if name in {"create_spark_session", "create_spark_context", "spark_conf"}:
        from pexlab import spark

        return getattr(spark, name)
    if name == "show_tracebacks":
        # Full tracebacks for pexlab's errors in a notebook (see pexlab.core.errors).
        from pexlab.core.errors import show_tracebacks

        return show_tracebacks
    raise AttributeError(f"module 'pexlab' has no attribute {name!r}")


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "pexlab"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    # Imported here: only Jupyter Server calls this, and pexlab.server needs jupyter_server.
    from .server import PexLabApp

    return [{"module": "pexlab.server", "app": PexLabApp}]
