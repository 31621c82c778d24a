"""Packaging feedback where the user is looking: the notebook cell output, else stderr.

`NotebookProgress` is a `ProgressCallback`.  In an IPython kernel it keeps ONE display updated
in place (via a display id) so a build's many events do not flood the cell; elsewhere it hands
the events to `pexlab.core.progress.TextProgress` (stderr).  IPython is used only if the running
process has already imported it: the engine never imports Jupyter itself.
"""

from __future__ import annotations

import html
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TextIO

from pexlab.core.progress import PHASE_LABELS, ProgressCallback, ProgressEvent, TextProgress


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


@dataclass
class NotebookProgress:
    """Shows the current phase and progress; `done(summary)` replaces it with one summary line."""

    stream: TextIO | None = None
    use_display: bool | None = None  # None: auto-detect an IPython kernel
    _display: Any = field(default=None, init=False, repr=False)
    _handle: Any = field(default=None, init=False, repr=False)
    _text: TextProgress = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.use_display is not False:
            self._display = _ipython_display()  # None outside a kernel: text instead
        self._text = TextProgress(self.stream)

    def __call__(self, event: ProgressEvent) -> None:
        if self._display is None:
            self._text(event)
            return
        self._show(PHASE_LABELS.get(event.phase, event.phase), event.fraction, event.message)

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

    def failed(self, exc: BaseException) -> None:
        """End a display still showing a step in a final state: the start failed (the error
        itself is shown by the cell below it).  Nothing to do in text mode."""
        if self._display is None or self._handle is None:
            return
        what = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        text = f"pexlab: session start {what} ({type(exc).__name__})"
        bundle = {
            "text/plain": text,
            "text/html": f"<div class='pexlab-progress'>{html.escape(text)}</div>",
        }
        self._handle.update(bundle, raw=True)
        self._handle = None

    def done(self, summary: str) -> None:
        """Replace the progress display with the one-line summary."""
        if self._display is None:
            self._text.line(summary)
            return
        bundle = {"text/plain": summary, "text/html": f"<div>{html.escape(summary)}</div>"}
        if self._handle is None:
            self._display.display(bundle, raw=True)
        else:
            self._handle.update(bundle, raw=True)


@contextmanager
def failing(shower: NotebookProgress | None) -> Iterator[None]:
    """A session start: if it raises, the progress display ends in a failed state instead of
    staying frozen on its last step."""
    try:
        yield
    except BaseException as exc:
        if shower is not None:
            with suppress(Exception):  # the error itself matters more
                shower.failed(exc)
        raise


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
