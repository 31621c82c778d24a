"""Byte counts as people read them, in the one unit convention of the CLI, the panel and
the notebook summary (binary multiples, labelled KB/MB/GB as the JupyterLab file browser does)."""

from __future__ import annotations


def format_size(n: int | float | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
