"""Packaging feedback where the user is looking: the notebook cell output, else stderr.

`NotebookProgress` is a `ProgressCallback` (it takes `ProgressEvent`-like objects with `phase`,
`fraction` and `message`).  In an IPython kernel it keeps ONE display updated in place (via a
display id) so a build's many events do not flood the cell; elsewhere it writes a line per
phase change / 10% step to stderr.  IPython is used only if it is already imported by the running
process: the engine never imports Jupyter itself.
"""

from __future__ import annotations

import html
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

from .progress import ProgressCallback


class _Event(Protocol):
    phase: str
    fraction: float | None
    message: str


PHASE_LABELS = {
    "inspect": "Inspecting the environment",
    "build": "Building the PEX",
    "zip": "Zipping editable projects",
    "upload": "Uploading",
    "spark": "Starting Spark",
    "check": "Checking executors' Python",
}


def _ipython_display() -> Any | None:
    """IPython's display module if we run inside an IPython kernel, else None."""
    ipython_mod = sys.modules.get("IPython")
    if ipython_mod is None:
        return None
    try:
        shell = ipython_mod.get_ipython()
    except Exception:
        return None
    # A terminal IPython has no kernel: rich displays would just print reprs.
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    try:
        from IPython import display
    except ImportError:
        return None
    return display


def format_size(n: int | float | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


@dataclass
class NotebookProgress:
    """Shows the current phase and progress; `done(summary)` replaces it with one summary line."""

    stream: TextIO | None = None
    use_display: bool | None = None  # None: auto-detect an IPython kernel
    _display: Any = field(default=None, init=False, repr=False)
    _handle: Any = field(default=None, init=False, repr=False)
    _last: tuple[str, int] | None = field(default=None, init=False, repr=False)
    _started: float = field(default_factory=time.monotonic, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.use_display is not False:
            self._display = _ipython_display()
        if self.use_display is True and self._display is None:
            self._display = None  # asked for, but no kernel: fall back to text

    @property
    def _out(self) -> TextIO:
        return self.stream or sys.stderr

    def __call__(self, event: _Event) -> None:
        phase = str(getattr(event, "phase", ""))
        fraction = getattr(event, "fraction", None)
        message = str(getattr(event, "message", ""))
        label = PHASE_LABELS.get(phase, phase)
        if self._display is not None:
            self._show(label, fraction, message)
            return
        # Text: one line per phase change or 10% step, so logs stay readable.
        step = -1 if fraction is None else int(max(0.0, min(1.0, fraction)) * 10)
        key = (phase, step)
        if key == self._last:
            return
        self._last = key
        pct = "" if fraction is None else f" {fraction * 100:3.0f}%"
        print(f"pexlab: {label}{pct}  {message}".rstrip(), file=self._out, flush=True)

    def _bundle(self, label: str, fraction: float | None, message: str) -> dict[str, str]:
        pct = "" if fraction is None else f" {fraction * 100:.0f}%"
        text = f"pexlab: {label}{pct}  {message}".rstrip()
        bar = (
            f'<progress value="{fraction:.3f}" max="1" style="width:12em"></progress> '
            if fraction is not None
            else '<progress style="width:12em"></progress> '
        )
        htm = (
            f"<div class='pexlab-progress'>{bar}<b>pexlab</b> · {html.escape(label)}{pct}"
            f" <span style='opacity:.7'>{html.escape(message)}</span></div>"
        )
        return {"text/plain": text, "text/html": htm}

    def _show(self, label: str, fraction: float | None, message: str) -> None:
        bundle = self._bundle(label, fraction, message)
        if self._handle is None:
            self._handle = self._display.display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def status(self, label: str, message: str = "") -> None:
        """A step of our own (not an engine ProgressEvent phase), e.g. starting Spark."""
        if self._display is not None:
            self._show(label, None, message)
            return
        self._last = (label, -1)
        print(f"pexlab: {label}  {message}".rstrip(), file=self._out, flush=True)

    def done(self, summary: str) -> None:
        """Replace the progress display with the one-line summary."""
        if self._display is not None:
            bundle = {"text/plain": summary, "text/html": f"<div>{html.escape(summary)}</div>"}
            if self._handle is None:
                self._display.display(bundle, raw=True)
            else:
                self._handle.update(bundle, raw=True)
            return
        print(summary, file=self._out, flush=True)


def progress_for(
    progress: bool | ProgressCallback | NotebookProgress | None,
) -> tuple[ProgressCallback | None, NotebookProgress | None]:
    """The engine callback for a user's `progress=` argument, and the NotebookProgress that
    also shows pexlab's own steps and summary (None when the caller passed its own callback)."""
    if progress is True:
        shower = NotebookProgress()
        return shower, shower
    if progress is False or progress is None:
        return None, None
    if isinstance(progress, NotebookProgress):
        return progress, progress
    return progress, None
