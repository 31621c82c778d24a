"""Real virtualenvs with real installed packages, for tests.

`make_project` writes a small installable project; `VenvFactory.get(spec)` returns a venv with
those projects installed (normally or editable) plus any PyPI requirements.  Venvs are cached
under `.cache/test-venvs/<hash of the spec>` so a second test run does not rebuild them; the hash
covers the project sources, so a changed project gives a new venv.  Tests that *mutate* a venv
(install a package to make the PEX stale, edit an editable project) must ask for a private copy
with `fresh=True`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from pexlab.local.venvs import make_bare_python

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("PEXLAB_TEST_CACHE", REPO / ".cache" / "test-venvs"))


@dataclass(frozen=True)
class Project:
    """A project folder to install, and whether to install it editable."""

    path: Path
    editable: bool = False
    # Extra pip arguments, e.g. ("--config-settings", "editable_mode=strict").
    pip_args: tuple[str, ...] = ()
    # Globs (relative paths) of what installing writes into the project besides `_generated`'s
    # (cargo's target/, code a backend generates in-tree): left out of the venv's digest.
    generated: tuple[str, ...] = ()


def _generated(parts: tuple[str, ...]) -> bool:
    return (
        "__pycache__" in parts
        or parts[0] in ("build", "dist")
        or any(p.endswith(".egg-info") for p in parts)
    )


@dataclass(frozen=True)
class VenvSpec:
    projects: tuple[Project, ...] = ()
    requirements: tuple[str, ...] = ()
    system_site_packages: bool = False
    # Interpreter the venv is made from (default: the one running the tests).
    python: str | None = None

    def digest(self) -> str:
        h = hashlib.sha256()
        h.update(sys.version.encode())
        if self.python:
            h.update(os.path.realpath(self.python).encode())
        h.update(json.dumps([self.requirements, self.system_site_packages]).encode())
        for p in self.projects:
            h.update(f"{p.path.name}:{p.editable}".encode())
            if p.pip_args:
                h.update(json.dumps(p.pip_args).encode())
            if p.editable:
                # An editable install points at its project folder: the same sources somewhere
                # else (a per-session tmp dir) must not reuse a venv pointing at the old place.
                h.update(str(p.path.resolve()).encode())
            for f in sorted(p.path.rglob("*")):
                # Skip what installing leaves in the project (setuptools writes build/ and
                # *.egg-info in-tree): otherwise the digest changes after the first install.
                rel = f.relative_to(p.path).parts
                skip = _generated(rel) or any(fnmatch("/".join(rel), g) for g in p.generated)
                if f.is_file() and not skip:
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

    @property
    def site_packages(self) -> Path:
        return next(self.root.glob("lib/python*/site-packages"))

    def pip(self, *args: str) -> None:
        subprocess.run(
            [str(self.python), "-m", "pip", "--disable-pip-version-check", "-q", *args],
            check=True,
        )

    def run(self, code: str, **kw) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), "-c", code], capture_output=True, text=True, check=False, **kw
        )


def other_pythons() -> list[str]:
    """Interpreters of other Python versions found on this machine (pyenv or PATH), oldest and
    newest supported by the probe, for cross-version tests."""
    found = []
    for version in ("3.8", "3.13"):
        for candidate in (
            *sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}")),
            shutil.which(f"python{version}"),
        ):
            if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
                found.append(str(candidate))
                break
    return found


def create_venv(root: Path, spec: VenvSpec) -> Venv:
    args = [spec.python or sys.executable, "-m", "venv", str(root)]
    if spec.system_site_packages:
        args.append("--system-site-packages")
    subprocess.run(args, check=True)
    venv = Venv(root, spec)
    if spec.requirements:
        venv.pip("install", *spec.requirements)
    for project in spec.projects:
        if project.editable:
            venv.pip("install", *project.pip_args, "-e", str(project.path))
        else:
            venv.pip("install", *project.pip_args, str(project.path))
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
        root.parent.mkdir(parents=True, exist_ok=True)
        # Several pytest processes (engineers, xdist) may want the same venv: one builds it.
        with open(root.with_name(root.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if (root / ".complete").exists():
                return Venv(root, spec)
            shutil.rmtree(root, ignore_errors=True)
            # A venv's scripts embed its path, so it is built where it will live (a rename
            # afterwards would break shebangs); completion is marked with a file instead.
            venv = create_venv(root, spec)
            (root / ".complete").write_text("ok")
            return venv


def bare_venv(root: Path, system_site_packages: bool = False, python: str | None = None) -> Venv:
    """A venv without pip (created in ~0.1 s), for tests that lay out metadata by hand."""
    make_bare_python(root, python, system_site_packages=system_site_packages)
    return Venv(root, VenvSpec(system_site_packages=system_site_packages, python=python))


def stable_projects_dir(owner: str) -> Path:
    """A folder that outlives the test session, for projects installed *editable* into cached
    venvs (the venv keeps pointing at the project folder).  One subfolder per test owner."""
    path = CACHE.parent / "test-projects" / owner
    path.mkdir(parents=True, exist_ok=True)
    return path


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    content = textwrap.dedent(text).lstrip()
    # Leave an identical file alone: projects in stable folders are rewritten every session.
    if not path.is_file() or path.read_text() != content:
        path.write_text(content)


BACKENDS = {
    "setuptools": ('["setuptools>=64"]', "setuptools.build_meta"),
    "hatchling": ('["hatchling"]', "hatchling.build"),
}


def pyproject(
    root: Path,
    name: str,
    version: str = "0.1.0",
    backend: str = "setuptools",
    deps: tuple[str, ...] = (),
    tool: str = "",
) -> None:
    """The one writer of a test project's pyproject.toml; `tool` is appended as is (dedented)."""
    requires, build_backend = BACKENDS[backend]
    listed = ", ".join(f'"{d}"' for d in deps)
    dependencies = f"\ndependencies = [{listed}]" if deps else ""
    text = (
        f'[build-system]\nrequires = {requires}\nbuild-backend = "{build_backend}"\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"{dependencies}\n'
    )
    write(
        root / "pyproject.toml",
        text + ("\n" + textwrap.dedent(tool).strip() + "\n" if tool else ""),
    )


def setuptools_project(
    base: Path,
    name: str,
    module: str,
    version: str = "0.1.0",
    src_layout: bool = True,
    body: str = "",
    deps: tuple[str, ...] = (),
) -> Path:
    """A setuptools project (src layout by default) with one package `module`."""
    root = base / name
    pkg_root = root / "src" if src_layout else root
    pyproject(root, name, version, deps=deps)
    write(
        pkg_root / module / "__init__.py",
        body or f"def where():\n    return __file__\n\nVERSION = {version!r}\n",
    )
    return root


def hatchling_project(
    base: Path, name: str, module: str, version: str = "0.1.0", body: str = ""
) -> Path:
    root = base / name
    pyproject(
        root,
        name,
        version,
        "hatchling",
        tool=f'[tool.hatch.build.targets.wheel]\npackages = ["{module}"]',
    )
    write(root / module / "__init__.py", body or "def where():\n    return __file__\n")
    return root


def namespace_project(
    base: Path, name: str, namespace: str, sub: str, version: str = "0.1.0"
) -> Path:
    """A PEP 420 namespace package `namespace.sub` (no __init__.py in `namespace`)."""
    root = base / name
    pyproject(
        root,
        name,
        version,
        tool=f"""
        [tool.setuptools.packages.find]
        where = ["src"]
        include = ["{namespace}*"]
        namespaces = true
        """,
    )
    write(root / "src" / namespace / sub / "__init__.py", "def where():\n    return __file__\n")
    return root


# ---- every install shape the probe must understand (used by tests/test_environment.py and
# tests/test_editables.py; other suites may reuse the venv, it is never mutated) ---------------

# An import of a `boom` package writes this file then raises: proves nobody imported it.
BOOM_BODY = """
import os
open(os.environ["PEXLAB_TEST_MARKER"], "a").write(__name__ + "\\n")
raise RuntimeError("user package imported: " + __name__)
"""


def setuptools_flat_with_module(base: Path, name: str, package: str, module: str) -> Path:
    """Flat layout + a top-level module: setuptools installs it editable through a finder
    module with a MAPPING (not a plain .pth)."""
    root = base / name
    pyproject(
        root,
        name,
        "0.3.0",
        tool=f"""
        [tool.setuptools]
        packages = ["{package}", "{package}.sub"]
        py-modules = ["{module}"]
        """,
    )
    write(root / package / "__init__.py", "def where():\n    return __file__\n")
    write(root / package / "sub" / "__init__.py", "LEVEL = 2\n")
    write(root / f"{module}.py", "def where():\n    return __file__\n")
    write(root / "tests" / "test_it.py", "def test_nothing():\n    pass\n")
    return root


def setuptools_flat_namespace(base: Path, name: str, namespace: str, sub: str) -> Path:
    """A PEP 420 namespace package in a flat layout (setuptools: finder with NAMESPACES)."""
    root = base / name
    pyproject(
        root,
        name,
        tool=f"""
        [tool.setuptools.packages.find]
        include = ["{namespace}*"]
        namespaces = true
        """,
    )
    write(root / namespace / sub / "__init__.py", "def where():\n    return __file__\n")
    return root


def hatchling_exact_project(base: Path, name: str, module: str) -> Path:
    """hatchling with `dev-mode-exact`: the editables library's redirecting finder."""
    root = hatchling_project(base, name, module)
    write(
        root / "pyproject.toml",
        (root / "pyproject.toml").read_text() + "dev-mode-exact = true\n",
    )
    return root


def hatchling_project_with_junk(base: Path, name: str, module: str) -> Path:
    """A flat hatchling project (its whole folder goes on sys.path through a .pth) full of things
    that are not code: VCS data, build output, caches, tests, docs."""
    root = hatchling_project(base, name, module)
    pkg = root / module
    write(pkg / "core.py", "ANSWER = 42\n")
    write(pkg / "data" / "table.json", '{"a": 1}\n')
    write(pkg / "dist" / "__init__.py", "IS_A_REAL_SUBPACKAGE = True\n")  # kept
    write(pkg / "build" / "leftover.py", "x = 1\n")  # no __init__: build output, dropped
    write(pkg / "node_modules" / "x.js", "1\n")
    write(pkg / ".mypy_cache" / "x.json", "{}\n")
    write(pkg / "old.pyc", "not really bytecode\n")
    write(pkg / "__pycache__" / "core.cpython-311.pyc", "not really bytecode\n")
    # Python next to the package but not part of it (the wheel config says `packages = [...]`).
    write(root / "scripts" / "release.py", "print('releasing')\n")
    write(root / "notebooks" / "explore.py", "x = 1\n")
    for junk in (
        ".git/HEAD",
        ".hg/x",
        ".svn/x",
        ".tox/x.py",
        ".venv/pyvenv.cfg",
        "build/lib/x.py",
        "dist/x.whl",
        "node_modules/y.js",
        "tests/test_core.py",
        "docs/conf.py",
        "setup.py",
        "conftest.py",
    ):
        write(root / junk, "junk = 1\n")
    return root


def boom_project(base: Path, name: str, module: str) -> Path:
    return hatchling_project(base, name, module, body=BOOM_BODY)


def shapes_spec(base: Path) -> VenvSpec:
    """numpy (compiled, from PyPI) + one project per install shape."""
    return VenvSpec(
        requirements=("numpy",),
        projects=(
            Project(setuptools_project(base, "insp-plain", "insp_plain", version="1.4.0")),
            Project(setuptools_project(base, "insp-st-src", "insp_st_src"), editable=True),
            Project(
                setuptools_flat_with_module(base, "insp-st-flat", "insp_st_flat", "insp_solo"),
                editable=True,
            ),
            Project(hatchling_project_with_junk(base, "insp-hatch", "insp_hatch"), editable=True),
            Project(
                hatchling_exact_project(base, "insp-hatch-exact", "insp_hexact"), editable=True
            ),
            Project(namespace_project(base, "insp-ns-one", "inspns", "one"), editable=True),
            Project(namespace_project(base, "insp-ns-two", "inspns", "two")),
            Project(
                setuptools_flat_namespace(base, "insp-ns-flat", "inspnsf", "three"), editable=True
            ),
            Project(boom_project(base, "insp-boom", "insp_boom")),
            Project(boom_project(base, "insp-boom-ed", "insp_boom_ed"), editable=True),
        ),
    )


def egg_link_install(venv: Venv, base: Path, name: str, module: str) -> Path:
    """The legacy `setup.py develop` shape, laid out by hand (modern pip and setuptools no longer
    produce it): <project>/src/<name>.egg-info, site-packages/<name>.egg-link and a line in
    easy-install.pth.  Returns the project folder."""
    root = base / name
    src = root / "src"
    write(src / module / "__init__.py", "def where():\n    return __file__\n")
    egg = src / f"{name.replace('-', '_')}.egg-info"
    write(egg / "PKG-INFO", f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.9.0\n")
    write(egg / "top_level.txt", f"{module}\n")
    write(egg / "SOURCES.txt", f"src/{module}/__init__.py\n")
    site = venv.site_packages
    (site / f"{name}.egg-link").write_text(f"{src}\n../\n")
    with open(site / "easy-install.pth", "a") as fh:
        fh.write(f"{src}\n")
    return root
