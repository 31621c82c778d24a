"""Shared fixtures. Kept small: suites put their own fixtures in their own conftest files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from venvs import Venv, VenvFactory, shapes_spec, stable_projects_dir  # noqa: E402

from pexlab.environment.interpreter import Environment, inspect_interpreter  # noqa: E402

# pytest accepts `pytest_plugins` only in the top-level conftest (tests/server/conftest.py may not
# declare it once the whole suite runs together). buildenv: the packaging suites' shared session
# fixtures (tests/buildenv.py); connectenv, sparkenv: the Connect server and the standalone
# cluster; hadoopenv: the HDFS + YARN cluster; pytest_jupyter.jupyter_server: jp_fetch & co for
# tests/server.
pytest_plugins = [
    "buildenv",
    "connectenv",
    "sparkenv",
    "hadoopenv",
    "pytest_jupyter.jupyter_server",
]


@pytest.fixture(scope="session")
def venv_factory(tmp_path_factory: pytest.TempPathFactory) -> VenvFactory:
    return VenvFactory(tmp_path_factory.mktemp("venvs"))


@pytest.fixture(scope="session")
def shapes_venv(venv_factory: VenvFactory) -> Venv:
    """numpy + one project per install shape (normal, setuptools editable src/flat, hatchling
    .pth and exact, PEP 420 namespaces, packages that explode on import). Cached across
    sessions; never mutate it (ask `venv_factory.get(spec, fresh=True)` for a private one)."""
    return venv_factory.get(shapes_spec(stable_projects_dir("inspect")))


@pytest.fixture(scope="session")
def shapes_env(shapes_venv: Venv) -> Environment:
    """What the probe reports for `shapes_venv` (frozen: safe to share)."""
    return inspect_interpreter(shapes_venv.python)


# A test that uses one of these fixtures starts (or shares) a cluster: it is marked so, whether
# or not its author remembered, and `make unit` (-m "not spark and not hadoop") leaves it out.
CLUSTER_FIXTURES = {
    "spark_env": "spark",
    "connect_env": "spark",
    "hadoop": "hadoop",
    "hadoop_env": "hadoop",
    "yarn_env": "hadoop",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            marker = CLUSTER_FIXTURES.get(fixture)
            if marker is not None:
                item.add_marker(getattr(pytest.mark, marker))
