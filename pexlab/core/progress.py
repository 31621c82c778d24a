"""Progress events shared by the engine, the CLI (`--events`) and the server extension.

A long operation takes an optional `ProgressCallback` and calls it with `ProgressEvent`s.  A
callback may raise to abort the operation (the server uses that to cancel a build), so the engine
must not swallow exceptions coming out of it.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TextIO

# Every phase, in the order a session goes through them: the engine packages (the first four,
# all a `pexlab build` or a server build job reports), then a session starts Spark and checks
# the executors' Python.
PHASES = ("inspect", "build", "zip", "upload", "spark", "check")
PACKAGING_PHASES = PHASES[:4]
PHASE_LABELS = {
    "inspect": "Inspecting the environment",
    "build": "Building the PEX",
    "zip": "Zipping editable projects",
    "upload": "Uploading",
    "spark": "Starting Spark",
    "check": "Checking executors' Python",
}
# `pexlab build --events` writes one event per stderr line with this prefix; the server
# extension reads them back with `ProgressEvent.from_line`.
EVENT_PREFIX = "PEXLAB_EVENT "


@dataclass(frozen=True)
class ProgressEvent:
    phase: str  # one of PHASES
    fraction: float | None  # 0.0..1.0 of this phase, None when unknown (a spinner)
    message: str = ""

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"unknown progress phase {self.phase!r} (expected one of {PHASES})")
        if self.fraction is not None:
            f = float(self.fraction)
            if math.isnan(f) or not 0.0 <= f <= 1.0:
                raise ValueError(f"progress fraction must be within 0..1, got {self.fraction!r}")
            object.__setattr__(self, "fraction", f)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProgressEvent:
        return cls(str(data["phase"]), data.get("fraction"), str(data.get("message", "")))

    def to_line(self) -> str:
        """One line of the `--events` protocol (no trailing newline)."""
        return EVENT_PREFIX + json.dumps(self.to_json(), separators=(",", ":"))

    @classmethod
    def from_line(cls, line: str) -> ProgressEvent | None:
        """The event on a `--events` line, or None for any other line (ordinary stderr output)."""
        line = line.strip()
        if not line.startswith(EVENT_PREFIX):
            return None
        try:
            data = json.loads(line[len(EVENT_PREFIX) :])
            return cls.from_json(data) if isinstance(data, dict) else None
        except (ValueError, KeyError, TypeError):
            return None


ProgressCallback = Callable[[ProgressEvent], None]


def report(
    callback: ProgressCallback | None, phase: str, fraction: float | None, message: str = ""
) -> None:
    """Send one event if there is a callback; exceptions from the callback propagate (abort)."""
    if callback is not None:
        callback(ProgressEvent(phase, fraction, message))


class TextProgress:
    """Human progress on a text stream (default: stderr), the one printer of the CLI and of
    the notebook feedback outside a kernel.

    On a terminal, one line updated in place; elsewhere (logs), a line per phase change or 10%
    step.  Nothing is printed for the first `quiet_for` seconds, so fast calls stay silent."""

    def __init__(self, stream: TextIO | None = None, quiet_for: float = 0.0) -> None:
        self._stream = stream
        self.quiet_for = quiet_for
        self.start = time.monotonic()
        self._last_step: tuple[str, int] | None = None
        self._open_line = ""  # text of the terminal line being updated in place

    @property
    def out(self) -> TextIO:
        return self._stream or sys.stderr

    @property
    def tty(self) -> bool:
        isatty = getattr(self.out, "isatty", None)
        return bool(isatty and isatty())

    def __call__(self, event: ProgressEvent) -> None:
        if time.monotonic() - self.start < self.quiet_for:
            return
        fraction = event.fraction
        pct = "" if fraction is None else f" {fraction * 100:3.0f}%"
        text = f"pexlab: {PHASE_LABELS.get(event.phase, event.phase)}{pct}  {event.message}"
        text = text.rstrip()
        if self.tty:
            if text != self._open_line:
                print("\r\033[K" + text[:150], end="", file=self.out, flush=True)
                self._open_line = text
            return
        step = (event.phase, -1 if fraction is None else int(max(0.0, min(1.0, fraction)) * 10))
        if step == self._last_step:
            return
        self._last_step = step
        print(text, file=self.out, flush=True)

    def line(self, text: str) -> None:
        """A line of its own (e.g. a summary), after any line being updated in place."""
        self.close()
        print(text, file=self.out, flush=True)

    def close(self) -> None:
        if self._open_line:
            print(file=self.out, flush=True)
            self._open_line = ""
