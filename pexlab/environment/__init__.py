"""What a Python interpreter has installed: the stdlib-only probe run inside it (`probe.py`),
the dataclasses its answer becomes (`interpreter`), and inspections reused until a cheap stamp
of the site folders changes (`inspection`)."""

from __future__ import annotations

from pexlab.environment.inspection import Inspector, stamp
from pexlab.environment.interpreter import (
    Distribution,
    Editable,
    Environment,
    InspectionError,
    inspect_interpreter,
    resolve_python,
)

__all__ = [
    "Distribution",
    "Editable",
    "Environment",
    "InspectionError",
    "Inspector",
    "inspect_interpreter",
    "resolve_python",
    "stamp",
]
