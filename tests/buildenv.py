"""Shared set-up for the packaging tests (pex build, cache, package, CLI).

One realistic test venv ("main"): numpy (compiled) and six from PyPI; `plainpkg`, a local project
installed normally that depends on the editable `edlib`; editable projects of three shapes
(setuptools src layout, hatchling, PEP 420 namespace); and small local stand-ins named `pyspark`
and `py4j` (the real pyspark is an sdist of hundreds of MB: these only prove that the names are
left out of the PEX; the real pyspark from the project venv is used for the PYTHONPATH test).

Project sources of the cached venv live under .cache (editable installs point at them, so they
must outlive a test session).  Builds run with every package index turned off (`offline()`).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from contextlib import AbstractContextManager
from pathlib import Path
from unittest import mock

import pytest
from venvs import (
    CACHE,
    Project,
    Venv,
    VenvFactory,
    VenvSpec,
    hatchling_project,
    namespace_project,
    setuptools_project,
    write,
)

from pexlab.build.cache import BuildRecord, Cache
from pexlab.build.pex import BuildOptions, build_pex
from pexlab.environment.interpreter import Environment, inspect_interpreter

PROJECTS = CACHE.parent / "test-projects" / "build"
# Unroutable/closed endpoints: anything that tries an index or a proxy fails fast.
DEAD = "http://127.0.0.1:9"
OFFLINE_ENV = {
    "PIP_NO_INDEX": "1",
    "PIP_INDEX_URL": f"{DEAD}/simple",
    "PIP_EXTRA_INDEX_URL": "",
    "PIP_FIND_LINKS": "",
    "HTTP_PROXY": DEAD,
    "HTTPS_PROXY": DEAD,
    "ALL_PROXY": DEAD,
    "http_proxy": DEAD,
    "https_proxy": DEAD,
    "all_proxy": DEAD,
    "NO_PROXY": "",
    "no_proxy": "",
}


def plain_project(
    base: Path, name: str, module: str, version: str, deps: tuple[str, ...] = ()
) -> Path:
    """A setuptools project with dependencies, a submodule runnable with -m."""
    root = setuptools_project(
        base, name, module, version, body=f"VERSION = {version!r}\n", deps=deps
    )
    write(
        root / "src" / module / "hello.py",
        f"from {module} import VERSION\n\nprint('hello from {module}', VERSION)\n",
    )
    return root


def main_projects(base: Path) -> tuple[Project, ...]:
    edlib = setuptools_project(base, "edlib", "edlib")
    hatch = hatchling_project(base, "hatchlib", "hatchlib")
    ns = namespace_project(base, "nsproj", "acme", "tools")
    plain = plain_project(base, "plainpkg", "plainpkg", "1.2.3", deps=("edlib",))
    spark = plain_project(base, "pyspark", "pyspark", "4.0.0")
    py4j = plain_project(base, "py4j", "py4j", "0.10.9.9")
    # Editables first: plainpkg's dependency on edlib is then already satisfied (no index).
    return (
        Project(edlib, editable=True),
        Project(hatch, editable=True),
        Project(ns, editable=True),
        Project(plain),
        Project(spark),
        Project(py4j),
    )


def offline() -> AbstractContextManager[None]:
    """Every index and proxy pointed at a dead endpoint, for this process and its children."""
    return mock.patch.dict(os.environ, OFFLINE_ENV)


def pex_wrapper(script: Path, body: str) -> str:
    """A `$PEXLAB_PEX` command: a shell script around the real pex (`$PEX` in `body`)."""
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text('#!/bin/sh\nPEX="' + sys.executable + ' -m pex"\n' + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def counting_pex(folder: Path) -> tuple[str, Path]:
    """A `$PEXLAB_PEX` command that logs each build it runs, then runs the real pex."""
    log = folder / "pex-calls.log"
    # `pex --version` (asked once per process for the fingerprint) is not a build.
    body = f'[ "$1" = "--version" ] || echo "$$" >> "{log}"\nexec $PEX "$@"\n'
    return pex_wrapper(folder / "counting-pex", body), log


def calls(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.fixture(scope="session")
def main_venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return VenvFactory(tmp_path_factory.mktemp("venvs")).get(
        VenvSpec(projects=main_projects(PROJECTS), requirements=("numpy", "six"))
    )


@pytest.fixture(scope="session")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A venv with nothing installed: a different interpreter invocation to run PEXes with."""
    return VenvFactory(tmp_path_factory.mktemp("venvs")).get(VenvSpec())


@pytest.fixture(scope="session")
def pex_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One PEX_ROOT for every run of a built PEX: the first run unpacks, later runs reuse."""
    return tmp_path_factory.mktemp("pex_root")


@pytest.fixture(scope="session")
def main_env(main_venv: Venv) -> Environment:
    return inspect_interpreter(main_venv.python)


@pytest.fixture(scope="session")
def built(
    main_env: Environment, tmp_path_factory: pytest.TempPathFactory
) -> tuple[BuildRecord, Cache]:
    """The main venv's PEX, built once per test module that asks, with every index off."""
    cache = Cache(tmp_path_factory.mktemp("pexlab-cache"))
    with offline():
        record = build_pex(main_env, BuildOptions(), cache).record
    return record, cache


def run_pex_file(
    pex: Path, python: Path | None, *args: str, env: dict[str, str] | None = None, pex_root: Path
) -> subprocess.CompletedProcess[str]:
    """Run a PEX with `python` (or directly, through its shebang, when None), isolated from the
    caller's environment apart from PATH and `env`."""
    full = {
        "PATH": os.environ["PATH"],
        "PEX_ROOT": str(pex_root),
        "HOME": os.environ.get("HOME", "/"),
    }
    full.update(env or {})
    cmd = [str(python), str(pex), *args] if python else [str(pex), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=full, timeout=300, check=False)
