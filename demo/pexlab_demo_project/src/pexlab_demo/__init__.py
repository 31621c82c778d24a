"""Installed editable (`pip install -e`) in the demo kernel: edit `describe`, create a new Spark
session, and the executors run the new code without the PEX being rebuilt."""

from __future__ import annotations

import humanize


def describe(n: int) -> str:
    """What a UDF on an executor returns for `n`."""
    return f"{humanize.intword(n * 1_234_567)} ({humanize.ordinal(n)} row)"


def where() -> str:
    """Where this package was imported from (a zip on executors, the project on the driver)."""
    return __file__


def square(x: int) -> int:
    return x * x
