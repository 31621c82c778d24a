"""Real virtualenvs with real installed packages, for tests.

`make_project` writes a small installable project; `VenvFactory.get(spec)` returns a venv with
those projects installed (normally or editable) plus any PyPI requirements.  Venvs are cached
under `.cache/test-venvs/<hash of the spec>` so a second test run does not rebuild them; the hash
covers the project sources, so a changed project gives a new venv.  Tests that *mutate* a venv
(install a package to make the PEX stale, edit an editable project) must ask for a private copy
with `fresh=True`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("PEXLAB_TEST_CACHE", REPO / ".cache" / "test-venvs"))


@dataclass(frozen=True)
class Project:
    """A project folder to install, and whether to install it editable."""

    path: Path
    editable: bool = False


@dataclass(frozen=True)
class VenvSpec:
    projects: tuple[Project, ...] = ()
    requirements: tuple[str, ...] = ()
    system_site_packages: bool = False

    def digest(self) -> str:
        h = hashlib.sha256()
        h.update(sys.version.encode())
        h.update(json.dumps([self.requirements, self.system_site_packages]).encode())
        for p in self.projects:
            h.update(f"{p.path.name}:{p.editable}".encode())
            for f in sorted(p.path.rglob("*")):
                if f.is_file() and "__pycache__" not in f.parts and ".egg-info" not in str(f):
                    h.update(str(f.relative_to(p.path)).encode())
                    h.update(f.read_bytes())
        return h.hexdigest()[:16]


@dataclass
class Venv:
    root: Path
    spec: VenvSpec = field(default_factory=VenvSpec)

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def pip(self, *args: str) -> None:
        subprocess.run(
            [str(self.python), "-m", "pip", "--disable-pip-version-check", "-q", *args],
            check=True,
        )

    def run(self, code: str, **kw) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), "-c", code], capture_output=True, text=True, check=False, **kw
        )


def create_venv(root: Path, spec: VenvSpec) -> Venv:
    args = [sys.executable, "-m", "venv", str(root)]
    if spec.system_site_packages:
        args.append("--system-site-packages")
    subprocess.run(args, check=True)
    venv = Venv(root, spec)
    if spec.requirements:
        venv.pip("install", *spec.requirements)
    for project in spec.projects:
        if project.editable:
            venv.pip("install", "-e", str(project.path))
        else:
            venv.pip("install", str(project.path))
    return venv


class VenvFactory:
    def __init__(self, tmp_root: Path) -> None:
        self.tmp_root = tmp_root

    def get(self, spec: VenvSpec, fresh: bool = False) -> Venv:
        if fresh:
            root = self.tmp_root / f"venv-{spec.digest()}-{len(list(self.tmp_root.glob('venv-*')))}"
            return create_venv(root, spec)
        root = CACHE / spec.digest()
        if (root / ".complete").exists():
            return Venv(root, spec)
        shutil.rmtree(root, ignore_errors=True)
        tmp = root.with_name(root.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        # Build under a temporary name and rename: a venv's scripts embed its path, so build it
        # where it will live (rename only after pip is done would break shebangs). Instead build
        # in place and mark completion with a file.
        root.parent.mkdir(parents=True, exist_ok=True)
        venv = create_venv(root, spec)
        (root / ".complete").write_text("ok")
        return venv


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


def setuptools_project(base: Path, name: str, module: str, version: str = "0.1.0", src_layout: bool = True, body: str = "") -> Path:
    """A setuptools project (src layout by default) with one package `module`."""
    root = base / name
    pkg_root = root / "src" if src_layout else root
    write(
        root / "pyproject.toml",
        f"""
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{name}"
        version = "{version}"
        """,
    )
    write(pkg_root / module / "__init__.py", body or f"def where():\n    return __file__\n\nVERSION = {version!r}\n")
    return root


def hatchling_project(base: Path, name: str, module: str, version: str = "0.1.0", body: str = "") -> Path:
    root = base / name
    write(
        root / "pyproject.toml",
        f"""
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "{name}"
        version = "{version}"

        [tool.hatch.build.targets.wheel]
        packages = ["{module}"]
        """,
    )
    write(root / module / "__init__.py", body or "def where():\n    return __file__\n")
    return root


def namespace_project(base: Path, name: str, namespace: str, sub: str, version: str = "0.1.0") -> Path:
    """A PEP 420 namespace package `namespace.sub` (no __init__.py in `namespace`)."""
    root = base / name
    write(
        root / "pyproject.toml",
        f"""
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{name}"
        version = "{version}"

        [tool.setuptools.packages.find]
        where = ["src"]
        include = ["{namespace}*"]
        namespaces = true
        """,
    )
    write(root / "src" / namespace / sub / "__init__.py", "def where():\n    return __file__\n")
    return root
