"""The one base class of every error pexlab raises on purpose.

An error deriving from `PexlabError` carries a message meant for the user (what went wrong and
what to do); anything else escaping pexlab is a bug and keeps its traceback (see `pexlab.cli`).
It is a `RuntimeError`, as each of pexlab's errors was before they shared a base, so code that
caught `RuntimeError` keeps working.

In a notebook (IPython honours `_render_traceback_` on an exception) the cell shows only the
error's name, its message and one line saying how to get the traceback: pexlab's own frames
tell a notebook user nothing they can act on.  The switch: the environment variable
`PEXLAB_TRACEBACK=1`, or `show_tracebacks()` (`pexlab.show_tracebacks()`) in the kernel; with it
on, IPython renders the error as any other, frames included.
"""

from __future__ import annotations

import os
from collections.abc import Callable

TRACEBACK_ENV = "PEXLAB_TRACEBACK"
TRACEBACK_HINT = (
    "(pexlab's traceback is hidden; to see it, set PEXLAB_TRACEBACK=1 in the kernel's "
    "environment or call pexlab.show_tracebacks())"
)
# Set by show_tracebacks(); None: follow the environment variable.
_show: bool | None = None


def show_tracebacks(on: bool = True) -> None:
    """Show full tracebacks for pexlab's errors in a notebook (`on=False`: only the message)."""
    global _show
    _show = on


def tracebacks_shown() -> bool:
    """Whether pexlab's errors render with their traceback (see the module docstring)."""
    if _show is not None:
        return _show
    return os.environ.get(TRACEBACK_ENV, "").strip().lower() not in ("", "0", "false", "no")


def add_detail(exc: BaseException, text: str) -> None:
    """Attach `text` to `exc` as a note (`BaseException.add_note`, shown by tracebacks and by
    the notebook rendering below); on Python 3.10 the same `__notes__` list by hand."""
    add_note = getattr(exc, "add_note", None)
    if add_note is not None:
        add_note(text)
        return
    notes = getattr(exc, "__notes__", None)
    if not isinstance(notes, list):
        notes = []
        setattr(exc, "__notes__", notes)  # noqa: B010 (not a declared attribute before 3.11)
    notes.append(text)


class PexlabError(RuntimeError):
    """Base of every pexlab error whose message is meant for the user."""

    @property
    def _render_traceback_(self) -> Callable[[], list[str]]:
        # A property: with tracebacks on, the attribute does not exist (AttributeError), so
        # IPython's `hasattr` check fails and it renders this error as any other.
        if tracebacks_shown():
            raise AttributeError("_render_traceback_")
        return self._short_traceback

    def _short_traceback(self) -> list[str]:
        """The lines IPython shows for this error: its name and message, then the hint."""
        name = type(self).__name__
        lines = str(self).splitlines() or [""]
        first = f"\x1b[0;31m{name}\x1b[0m: {lines[0]}"
        notes = getattr(self, "__notes__", None) or []
        detail = [ln for note in notes for ln in ["", *str(note).splitlines()]]
        return [first, *lines[1:], *detail, "", TRACEBACK_HINT]
