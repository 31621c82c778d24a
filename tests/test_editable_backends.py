"""Editable projects of every common build backend run on the executors as in the kernel (#19):
their code, their distribution metadata (`importlib.metadata.version`, entry points) and, after
an edit of a pure-Python file, the new code without a new PEX.

One kernel venv (pyspark-client + one editable project per backend) drives the REAL Connect
server of tests/test_connect.py (its session fixture: bare workers, nothing installed), so every
answer on the executors comes from what pexlab shipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from connectenv import CLIENT, ConnectEnv
from venvs import CACHE, Project, Venv, VenvFactory, VenvSpec, stable_projects_dir, write

from pexlab.build.editable_native import UnshippableEditable, check_shippable
from pexlab.build.editables import zip_editable
from pexlab.core.errors import PexlabError
from pexlab.environment.interpreter import Distribution, Editable, inspect_interpreter

DRIVER = Path(__file__).with_name("editable_backends_driver.py")
GROUP = "pexlab.backend_test"
SPEED_C = """\
#define PY_SSIZE_T_CLEAN
#include <Python.h>
static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, "42"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_speed", NULL, -1, methods};
PyMODINIT_FUNC PyInit__speed(void) { return PyModule_Create(&mod); }
"""

# backend -> (build requires, build-backend, extra pyproject text, src layout)
BACKENDS: dict[str, tuple[str, str, str, bool]] = {
    "setuptools": ('"setuptools>=64"', "setuptools.build_meta", "", True),
    "hatchling": (
        '"hatchling"',
        "hatchling.build",
        '[tool.hatch.build.targets.wheel]\npackages = ["pb_hatchling"]\n',
        False,
    ),
    "flit": ('"flit_core>=3.4,<4"', "flit_core.buildapi", "", False),
    "poetry": ('"poetry-core>=2.0"', "poetry.core.masonry.api", "", False),
    "pdm": ('"pdm-backend"', "pdm.backend", "", True),
    # setuptools with a C extension built in place by `pip install -e` (pb_stc/_speed*.so)
    "stc": ('"setuptools>=64"', "setuptools.build_meta", "", True),
}
NATIVE = {"stc"}


def module_of(backend: str) -> str:
    return f"pb_{backend}"


def dist_of(backend: str) -> str:
    return f"pb-{backend}"


def version_of(i: int) -> str:
    return f"1.{i}.7"


def body(backend: str, tag: str) -> str:
    if backend in NATIVE:  # the answer goes through the compiled module: no fallback
        return (
            f'"""pexlab test project ({backend})."""\n\nfrom . import _speed\n\n\n'
            f'def answer():\n    return "{backend}-{tag}" if _speed.answer() == 42 else "wrong"\n'
        )
    return (
        f'"""pexlab test project ({backend})."""\n\n\ndef answer():\n    return "{backend}-{tag}"\n'
    )


def init_file(root: Path, backend: str) -> Path:
    src = root / "src" if BACKENDS[backend][3] else root
    return src / module_of(backend) / "__init__.py"


def backend_project(base: Path, i: int, backend: str) -> Path:
    requires, build_backend, tool, _ = BACKENDS[backend]
    name, module = dist_of(backend), module_of(backend)
    root = base / name
    write(
        root / "pyproject.toml",
        f'[build-system]\nrequires = [{requires}]\nbuild-backend = "{build_backend}"\n\n'
        f'[project]\nname = "{name.replace("-", "_")}"\nversion = "{version_of(i)}"\n'
        f'description = "pexlab backend test"\n\n'
        f'[project.entry-points."{GROUP}"]\n{module} = "{module}:answer"\n\n{tool}',
    )
    write(init_file(root, backend), body(backend, "v1"))
    if backend in NATIVE:
        write(init_file(root, backend).with_name("_speed.c"), SPEED_C)
        write(
            root / "setup.py",
            "from setuptools import Extension, setup\n\n"
            f'setup(ext_modules=[Extension("{module}._speed", ["src/{module}/_speed.c"])])\n',
        )
    return root


def projects() -> list[tuple[str, Path]]:
    base = stable_projects_dir("backends")
    return [(b, backend_project(base, i, b)) for i, b in enumerate(BACKENDS)]


@pytest.fixture(scope="module")
def backends_kernel(venv_factory: VenvFactory) -> Venv:
    spec = VenvSpec(
        projects=tuple(Project(p, editable=True) for _, p in projects()),
        requirements=(CLIENT,),
    )
    return venv_factory.get(spec)


@pytest.fixture(scope="module")
def backends_run(connect_env: ConnectEnv, backends_kernel: Venv) -> dict:
    found = projects()
    edits = {str(init_file(root, b)): body(b, "v2") for b, root in found}
    try:
        return connect_env.drive(
            "backends",
            driver=DRIVER,
            kernel=backends_kernel,
            timeout=800,
            modules=[[dist_of(b), module_of(b)] for b, _ in found],
            edits=edits,
        )
    finally:
        for b, root in found:
            init_file(root, b).write_text(body(b, "v1"))


def _rows(run: list[dict], dist: str) -> list[dict]:
    return [r[dist] for r in run]


@pytest.mark.spark
@pytest.mark.parametrize("backend", list(BACKENDS))
def test_metadata_and_entry_points_ship_with_the_code(backends_run: dict, backend: str) -> None:
    i = list(BACKENDS).index(backend)
    dist, module = dist_of(backend), module_of(backend)
    kernel = backends_run["kernel"][dist]
    assert kernel["version"] == version_of(i)
    assert kernel["entry_point"] == f"{module}:answer"
    zips = backends_run["one"]["zips"]
    (mine,) = [z for z in zips if z.startswith(module + "-")]
    for row in _rows(backends_run["one_run"], dist):
        assert "import_error" not in row, row
        assert "version_error" not in row, row
        if backend in NATIVE:  # the whole zip, unpacked once on the node (content-keyed)
            assert f"/native/{mine[: -len('.zip')]}/{module}/__init__.py" in row["file"], row
        else:  # from the zip itself (zipimport)
            assert f"/{mine}/{module}/__init__.py" in row["file"], row
        assert row["answer"] == f"{backend}-v1"
        assert row["version"] == version_of(i), row
        assert row["entry_point"] == f"{module}:answer", row
        assert row["entry_point_call"] == f"{backend}-v1", row
        if backend in NATIVE:  # the .so itself, unpacked on the node from the shipped zip
            assert f"/native/{mine[: -len('.zip')]}/{module}/_speed." in row["native"], row


@pytest.mark.spark
@pytest.mark.parametrize("backend", list(BACKENDS))
def test_pure_python_edit_ships_without_a_new_pex(backends_run: dict, backend: str) -> None:
    one, two = backends_run["one"], backends_run["two"]
    assert two["fingerprint"] == one["fingerprint"]
    assert two["reused"] is True
    assert two["pex_mtime"] == one["pex_mtime"]
    assert set(two["zips"]).isdisjoint(one["zips"]), "every project edited: every zip new"
    for row in _rows(backends_run["two_run"], dist_of(backend)):
        assert row["answer"] == f"{backend}-v2", row
        assert row["entry_point_call"] == f"{backend}-v2", row


# ---- no cluster -----------------------------------------------------------------------------


def test_zip_holds_the_dist_info_without_local_paths(backends_kernel: Venv, tmp_path: Path) -> None:
    env = inspect_interpreter(backends_kernel.python)
    for i, (backend, _) in enumerate(projects()):
        dist = env.get(dist_of(backend))
        assert dist is not None, backend
        assert dist.editable is not None, backend
        z = zip_editable(dist, tmp_path / "zips")
        with zipfile.ZipFile(z) as zf:
            names = zf.namelist()
        (info,) = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")}
        assert f"{info}/METADATA" in names, names
        assert f"{info}/entry_points.txt" in names, names
        assert f"{info}/RECORD" not in names
        assert f"{info}/direct_url.json" not in names
        # What an executor's importlib.metadata sees with only the zip on sys.path.
        code = (
            "import importlib.metadata as m, sys; sys.path.insert(0, sys.argv[1]); "
            f"print(m.version({dist_of(backend)!r}))"
        )
        out = subprocess.run(
            [sys.executable, "-I", "-c", code, str(z)], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == version_of(i)


def test_an_editable_pexlab_cannot_locate_fails_the_build_naming_it(tmp_path: Path) -> None:
    (tmp_path / "mystery").mkdir()
    (tmp_path / "mystery" / "__init__.py").write_text("")
    dist = Distribution(
        name="mystery",
        version="0.3",
        editable=Editable(
            project_dir=str(tmp_path),
            source_roots=(str(tmp_path),),
            top_level=("mystery",),
            mechanism="unknown",
        ),
    )
    with pytest.raises(UnshippableEditable, match=r"mystery 0\.3 .*pip install"):
        zip_editable(dist, tmp_path / "zips")
    with pytest.raises(PexlabError):  # what the notebook catches
        check_shippable(dist)


def meson_project(base: Path) -> Path:
    """meson-python + a C extension: its editable install is a rebuild-on-import loader."""
    root = base / "pb-meson"
    write(
        root / "pyproject.toml",
        '[build-system]\nrequires = ["meson-python", "meson", "ninja"]\n'
        'build-backend = "mesonpy"\n\n[project]\nname = "pb-meson"\nversion = "0.4.2"\n',
    )
    write(
        root / "meson.build",
        "project('pb_meson', 'c')\n"
        "py = import('python').find_installation(pure: false)\n"
        "py.extension_module('_speed', 'src/pb_meson/_speed.c', subdir: 'pb_meson', "
        "install: true)\n"
        "py.install_sources('src/pb_meson/__init__.py', subdir: 'pb_meson')\n",
    )
    write(root / "src" / "pb_meson" / "__init__.py", "from ._speed import answer  # noqa\n")
    write(root / "src" / "pb_meson" / "_speed.c", SPEED_C)
    return root


def test_meson_python_editable_fails_the_build_before_the_pex(
    venv_factory: VenvFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pexlab cannot yet ship meson-python's build-folder code: the build stops at once, with the
    project and the fix, instead of shipping a guess (the PEX is never built)."""
    from pexlab.build.cache import Cache
    from pexlab.package import package_environment

    project = meson_project(stable_projects_dir("backends-native"))
    # meson-python's editable loader rebuilds with the venv's own meson/ninja (no isolation).
    spec = VenvSpec(
        requirements=("meson-python", "meson", "ninja"),
        projects=(Project(project, editable=True, pip_args=("--no-build-isolation",)),),
    )
    # ...found on PATH: the venv's bin, which pip run as <venv>/bin/python does not add.
    monkeypatch.setenv("PATH", f"{CACHE / spec.digest() / 'bin'}{os.pathsep}{os.environ['PATH']}")
    venv = venv_factory.get(spec)
    assert venv.run("import pb_meson; print(pb_meson.answer())").stdout.strip() == "42"
    cache = Cache(tmp_path / "cache")
    with pytest.raises(UnshippableEditable, match=r"pb-meson 0\.4\.2 .*pip install") as err:
        package_environment(venv.python, cache=cache)
    assert str(project) in str(err.value)
    assert not list(cache.root.rglob("*.pex")), "failed before building the PEX"
