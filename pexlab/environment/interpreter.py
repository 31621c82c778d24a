"""What a Python interpreter has installed, read without importing the user's packages.

The probe (`probe.py`) is a stdlib-only script run *inside* the target interpreter; this module
runs it and turns its JSON into dataclasses.  Nothing here knows about Jupyter or Spark.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pexlab.core.errors import PexlabError
from pexlab.core.names import canonical_name

PROBE = Path(__file__).with_name("probe.py")


class InspectionError(PexlabError):
    """The target interpreter could not be inspected (missing, not Python, probe failed)."""


@dataclass(frozen=True)
class Editable:
    """An editable (`pip install -e`) install: code lives in a project folder, not site-packages."""

    project_dir: str
    # Folders whose contents go at the root of the editable's zip (e.g. `<project>/src`).
    source_roots: tuple[str, ...] = ()
    # Top-level importable names (packages, modules, PEP 420 namespace packages).
    top_level: tuple[str, ...] = ()
    # How the install points at the project: "pep660-finder", "pth", "egg-link", "meson-python",
    # "scikit-build-core" (its redirect's maps become `mapping`) ("unknown" when
    # only direct_url.json said it is editable and the source folder was guessed).
    mechanism: str = ""
    # (dotted import name, folder or module file) pairs when the install maps names explicitly
    # (setuptools' finder MAPPING): the name may differ from the folder's (package_dir), so a zip
    # must be laid out from these rather than from source_roots x top_level.
    mapping: tuple[tuple[str, str], ...] = ()
    # meson-python ("meson-python" mechanism): the build folder whose install plan lists the
    # installed files, and the command its loader runs there to bring the build up to date.
    build_dir: str = ""
    build_command: tuple[str, ...] = ()


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
    # Where this interpreter installs packages, and its sys.path as the kernel would see it
    # (the probe adds back the user site that `python -I` hides).
    site_packages: tuple[str, ...] = ()
    sys_path: tuple[str, ...] = ()
    # sys.implementation.cache_tag ("cpython-311"): how its .pyc files are named; "" if none.
    cache_tag: str = ""

    @property
    def python_major_minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def editables(self) -> tuple[Distribution, ...]:
        return tuple(d for d in self.distributions if d.editable is not None)

    @property
    def installed(self) -> tuple[Distribution, ...]:
        return tuple(d for d in self.distributions if d.editable is None)

    def get(self, name: str) -> Distribution | None:
        """The distribution called `name` (any spelling: `Foo_Bar` finds `foo-bar`)."""
        wanted = canonical_name(name)
        return next((d for d in self.distributions if d.name == wanted), None)

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
                        mapping=tuple((str(n), str(p)) for n, p in ed.get("mapping", ())),
                        build_dir=ed.get("build_dir", ""),
                        build_command=tuple(ed.get("build_command", ())),
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
            site_packages=tuple(data.get("site_packages", ())),
            sys_path=tuple(data.get("sys_path", ())),
            cache_tag=data.get("cache_tag", ""),
        )


def resolve_python(python: str | os.PathLike[str] | None) -> str:
    """The interpreter to inspect: a path or command name, or an environment's root folder.

    Only a path is trusted (a kernelspec's bare `python` is whatever is first on the *server's*
    PATH), but accepting a venv/conda root is a convenience for the CLI.
    """
    if python is None:
        return sys.executable
    exe = os.fspath(python)
    if os.path.isdir(exe):
        for candidate in ("bin/python", "bin/python3", "python.exe", "Scripts/python.exe"):
            path = os.path.join(exe, candidate)
            if os.path.isfile(path):
                return path
        raise InspectionError(f"{exe!r} is a folder without bin/python: not a Python environment.")
    if os.sep not in exe:
        found = shutil.which(exe)
        if found is None:
            raise InspectionError(f"No interpreter called {exe!r} on PATH.")
        return found
    return exe


def inspect_interpreter(
    python: str | os.PathLike[str] | None = None, timeout: float = 60
) -> Environment:
    """Run the probe in `python` (default: this interpreter) and return what it found."""
    exe = resolve_python(python)
    try:
        # -I: isolated mode, so the user's PYTHONPATH/cwd cannot inject modules into the probe
        # (the probe adds back the user site that -I hides); -S is NOT used: site must run for
        # .pth-based editables to be visible, exactly as at the kernel's start.
        proc = subprocess.run(
            [exe, "-I", str(PROBE)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        raise InspectionError(f"No interpreter at {exe!r}.") from exc
    except PermissionError as exc:
        raise InspectionError(f"{exe!r} is not executable.") from exc
    except subprocess.TimeoutExpired as exc:
        raise InspectionError(f"Inspecting {exe!r} took longer than {timeout:.0f} s.") from exc
    except OSError as exc:  # e.g. ENOEXEC: a file that is not a program
        raise InspectionError(f"Cannot run {exe!r}: {exc.strerror or exc}.") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        if "Unknown option: -I" in proc.stderr:  # Python 2 has no isolated mode
            tail = ["pexlab needs Python 3.8 or newer in the target interpreter (this is Python 2)"]
        raise InspectionError(f"Inspecting {exe!r} failed: " + " | ".join(tail))
    try:
        # The probe prints one JSON line, last: a .pth file in the target may print at startup.
        lines = proc.stdout.strip().splitlines()
        data = json.loads(lines[-1] if lines else "")
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return Environment.from_json(data)
    except (ValueError, KeyError, TypeError) as exc:
        raise InspectionError(f"{exe!r} did not answer like a Python interpreter.") from exc
