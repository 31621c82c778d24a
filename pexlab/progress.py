"""Progress events shared by the engine, the CLI (`--events`) and the server extension.

A long operation takes an optional `ProgressCallback` and calls it with `ProgressEvent`s.  A
callback may raise to abort the operation (the server uses that to cancel a build), so the engine
must not swallow exceptions coming out of it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

PHASES = ("inspect", "build", "zip", "upload")
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
