"""What a Python interpreter has installed, read without importing the user's packages.

The probe (`_probe.py`) is a stdlib-only script run *inside* the target interpreter; this module
runs it and turns its JSON into dataclasses.  Nothing here knows about Jupyter or Spark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROBE = Path(__file__).with_name("_probe.py")


class InspectionError(RuntimeError):
    """The target interpreter could not be inspected (missing, not Python, probe failed)."""


@dataclass(frozen=True)
class Editable:
    """An editable (`pip install -e`) install: code lives in a project folder, not site-packages."""

    project_dir: str
    # Folders whose contents go at the root of the editable's zip (e.g. `<project>/src`).
    source_roots: tuple[str, ...] = ()
    # Top-level importable names (packages, modules, PEP 420 namespace packages).
    top_level: tuple[str, ...] = ()
    # How the install points at the project: "pep660-finder", "pth", "egg-link".
    mechanism: str = ""


@dataclass(frozen=True)
class Distribution:
    name: str  # canonical (PEP 503 normalised) name
    version: str
    location: str = ""
    installer: str = ""
    editable: Editable | None = None
    warnings: tuple[str, ...] = ()

    @property
    def is_editable(self) -> bool:
        return self.editable is not None


@dataclass(frozen=True)
class Environment:
    python: str  # sys.executable of the target interpreter
    prefix: str  # sys.prefix
    base_prefix: str
    version: str  # e.g. "3.11.7"
    implementation: str  # e.g. "cpython"
    abi: str  # e.g. "cp311"
    platform: str  # e.g. "linux_x86_64" (sysconfig.get_platform with - and . as _)
    kind: str  # "venv", "conda" or "system"
    distributions: tuple[Distribution, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def python_major_minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def editables(self) -> tuple[Distribution, ...]:
        return tuple(d for d in self.distributions if d.editable is not None)

    @property
    def installed(self) -> tuple[Distribution, ...]:
        return tuple(d for d in self.distributions if d.editable is None)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Environment:
        dists = []
        for d in data.get("distributions", ()):
            ed = d.get("editable")
            dists.append(
                Distribution(
                    name=d["name"],
                    version=d["version"],
                    location=d.get("location", ""),
                    installer=d.get("installer", ""),
                    editable=Editable(
                        project_dir=ed["project_dir"],
                        source_roots=tuple(ed.get("source_roots", ())),
                        top_level=tuple(ed.get("top_level", ())),
                        mechanism=ed.get("mechanism", ""),
                    )
                    if ed
                    else None,
                    warnings=tuple(d.get("warnings", ())),
                )
            )
        return cls(
            python=data["python"],
            prefix=data["prefix"],
            base_prefix=data.get("base_prefix", data["prefix"]),
            version=data["version"],
            implementation=data.get("implementation", "cpython"),
            abi=data.get("abi", ""),
            platform=data.get("platform", ""),
            kind=data.get("kind", "system"),
            distributions=tuple(sorted(dists, key=lambda d: d.name)),
            warnings=tuple(data.get("warnings", ())),
        )


def inspect_interpreter(python: str | os.PathLike[str] | None = None, timeout: float = 60) -> Environment:
    """Run the probe in `python` (default: this interpreter) and return what it found."""
    exe = str(python or sys.executable)
    try:
        # -I: isolated mode, so the user's PYTHONPATH/cwd cannot inject modules into the probe;
        # -S is NOT used: site must run for .pth-based editables to be visible.
        proc = subprocess.run(
            [exe, "-I", str(PROBE)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise InspectionError(f"No interpreter at {exe!r}.") from exc
    except PermissionError as exc:
        raise InspectionError(f"{exe!r} is not executable.") from exc
    except subprocess.TimeoutExpired as exc:
        raise InspectionError(f"Inspecting {exe!r} took longer than {timeout:.0f} s.") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise InspectionError(f"Inspecting {exe!r} failed: " + " | ".join(tail))
    try:
        return Environment.from_json(json.loads(proc.stdout))
    except (ValueError, KeyError) as exc:
        raise InspectionError(f"{exe!r} did not answer like a Python interpreter.") from exc
