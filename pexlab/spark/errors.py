"""What can go wrong starting a Spark session, worded once for classic and Connect sessions."""

from __future__ import annotations

import re

from pexlab.core.errors import PexlabError
from pexlab.environment import Environment


class PexlabSparkError(PexlabError):
    """A Spark session could not be set up with the kernel's environment."""


class ExecutorStartError(PexlabSparkError):
    """Executors did not come, or could not start the environment (see executor_start)."""


class PythonVersionMismatch(PexlabSparkError):
    def __init__(self, driver: str, executors: str, detail: str = "") -> None:
        self.driver = driver
        self.executors = executors
        super().__init__(
            f"Executors run Python {executors} but this driver runs Python {driver}: PySpark "
            f"needs the same major.minor on both sides. "
            + (
                detail
                or "Use a kernel with the executors' Python version, or make "
                "executors run the driver's (e.g. spark.executorEnv.PEX_PYTHON=python"
                f"{driver} if it is installed there)."
            )
        )


def major_minor(version: str) -> str:
    """'3.11' of '3.11.7' (or of '3.11'); a clear error for anything that is not a version."""
    parts = str(version).strip().split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise PexlabSparkError(f"Not a Python version: {version!r} (expected e.g. '3.11').")
    return ".".join(parts[:2])


def driver_python() -> str:
    import sys

    return "{}.{}".format(*sys.version_info[:2])


def check_expected(expected: str, driver: str) -> None:
    """The executors' known major.minor (`expected_python=`) against the driver's."""
    if major_minor(expected) != major_minor(driver):
        raise PythonVersionMismatch(driver, major_minor(expected))


def check_packaged(env: Environment, driver: str) -> None:
    """A PEX of another interpreter than the driver's cannot serve this driver's UDFs."""
    built = major_minor(env.version)
    if built != major_minor(driver):
        raise PythonVersionMismatch(
            driver,
            built,
            f"The PEX was built from {env.python}; package an interpreter with the "
            "driver's version (python=...) or run the notebook in that interpreter.",
        )


_MISMATCH = re.compile(
    r"Python in worker has different version:?\s*\(?([0-9]+)[.,\s]+([0-9]+)\)?\s*"
    r"than that in driver:?\s*\(?([0-9]+)[.,\s]+([0-9]+)",
    re.S,
)


def version_mismatch(text: str) -> PythonVersionMismatch | None:
    """PySpark's refusal of a worker with another major.minor, found in an error's text (classic
    and Connect sessions word it the same way), as a PythonVersionMismatch naming both."""
    m = _MISMATCH.search(text)
    if m is None:
        return None
    return PythonVersionMismatch(f"{m.group(3)}.{m.group(4)}", f"{m.group(1)}.{m.group(2)}")


_TELLING = ("Error", "error", "No such file", "Cannot run program")


def telling_lines(text: str, limit: int = 3, width: int = 300) -> list[str]:
    """The few lines of a JVM or worker error that say what went wrong (else its first ones)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    picked = [ln for ln in lines if any(s in ln for s in _TELLING)][:limit] or lines[:limit]
    return [ln[:width] for ln in picked]
