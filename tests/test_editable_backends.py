"""Editable projects of every common build backend run on the executors as in the kernel (#19):
their code, their distribution metadata (`importlib.metadata.version`, entry points) and, after
an edit of a pure-Python file, the new code without a new PEX.

One kernel venv (pyspark-client + one editable project per backend) drives the REAL Connect
server of tests/connectenv.py, and another (the full pyspark + its own copies of the projects)
a classic session on the standalone cluster of tests/sparkenv.py; both clusters' workers are
bare (nothing installed), so every answer on the executors comes from what pexlab shipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from connectenv import CLIENT, ConnectEnv
from sparkenv import Env
from venvs import CACHE, Project, Venv, VenvFactory, VenvSpec, stable_projects_dir, write

from pexlab.build.editable_meson import MesonRebuildError
from pexlab.build.editable_native import UnshippableEditable, check_shippable
from pexlab.build.editables import editable_files, zip_editable
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

RS_LIB = """\
//! The compiled half of pb_maturin: a C-ABI function that maturin's cffi bindings load.
#[no_mangle]
pub extern "C" fn answer() -> i32 {
    42
}
"""

# backend -> (build requires, build-backend, extra pyproject text, source folder)
BACKENDS: dict[str, tuple[str, str, str, str]] = {
    "setuptools": ('"setuptools>=64"', "setuptools.build_meta", "", "src"),
    "hatchling": (
        '"hatchling"',
        "hatchling.build",
        '[tool.hatch.build.targets.wheel]\npackages = ["pb_hatchling"]\n',
        "",
    ),
    "flit": ('"flit_core>=3.4,<4"', "flit_core.buildapi", "", ""),
    "poetry": ('"poetry-core>=2.0"', "poetry.core.masonry.api", "", ""),
    "pdm": ('"pdm-backend"', "pdm.backend", "", "src"),
    # setuptools with a C extension built in place by `pip install -e` (pb_stc/_speed*.so)
    "stc": ('"setuptools>=64"', "setuptools.build_meta", "", "src"),
    # meson-python: a rebuild-on-import loader; the .so lives in the build folder
    "meson": ('"meson-python", "meson", "ninja"', "mesonpy", "", "src"),
    # scikit-build-core (redirect mode): the .so is installed into site-packages
    "skb": (
        '"scikit-build-core"',
        "scikit_build_core.build",
        '[tool.scikit-build]\nwheel.packages = ["src/pb_skb"]\n',
        "src",
    ),
    # maturin: a .pth to python/, the Rust cdylib built into the package. cffi bindings: pyo3
    # bindings need the pyo3 crate, and crates.io is not reachable from this machine.
    "maturin": (
        '"maturin>=1.5,<2"',
        "maturin",
        '[tool.maturin]\nbindings = "cffi"\npython-source = "python"\n'
        'module-name = "pb_maturin._rs"\n',
        "python",
    ),
}
# backend -> its compiled submodule
NATIVE = {"stc": "_speed", "meson": "_speed", "skb": "_speed", "maturin": "_rs"}


def module_of(backend: str) -> str:
    return f"pb_{backend}"


def dist_of(backend: str) -> str:
    return f"pb-{backend}"


def version_of(i: int) -> str:
    return f"1.{i}.7"


def body(backend: str, tag: str) -> str:
    native = NATIVE.get(backend)
    if native:  # the answer goes through the compiled module: no fallback
        call = "lib.answer()" if backend == "maturin" else f"{native}.answer()"
        imp = f"from .{native} import lib" if backend == "maturin" else f"from . import {native}"
        return (
            f'"""pexlab test project ({backend})."""\n\nfrom . import {native}  # noqa\n{imp}\n\n\n'
            f'def answer():\n    return "{backend}-{tag}" if {call} == 42 else "wrong"\n'
        )
    return (
        f'"""pexlab test project ({backend})."""\n\n\ndef answer():\n    return "{backend}-{tag}"\n'
    )


def init_file(root: Path, backend: str) -> Path:
    return root / BACKENDS[backend][3] / module_of(backend) / "__init__.py"


def _native_files(root: Path, backend: str) -> None:
    """The build files of a compiled project: one tiny function, answer() == 42."""
    module = module_of(backend)
    c_file = init_file(root, backend).with_name("_speed.c")
    if backend == "stc":
        write(c_file, SPEED_C)
        write(
            root / "setup.py",
            "from setuptools import Extension, setup\n\n"
            f'setup(ext_modules=[Extension("{module}._speed", ["src/{module}/_speed.c"])])\n',
        )
    elif backend == "meson":
        write(c_file, SPEED_C)
        write(
            root / "meson.build",
            f"project('{module}', 'c')\n"
            "py = import('python').find_installation(pure: false)\n"
            f"py.extension_module('_speed', 'src/{module}/_speed.c', subdir: '{module}', "
            "install: true)\n"
            f"py.install_sources('src/{module}/__init__.py', subdir: '{module}')\n",
        )
    elif backend == "skb":
        write(c_file, SPEED_C)
        write(
            root / "CMakeLists.txt",
            f"cmake_minimum_required(VERSION 3.15)\nproject({module} LANGUAGES C)\n"
            "find_package(Python COMPONENTS Interpreter Development.Module REQUIRED)\n"
            f"Python_add_library(_speed MODULE src/{module}/_speed.c WITH_SOABI)\n"
            f"install(TARGETS _speed DESTINATION {module})\n",
        )
    elif backend == "maturin":
        write(
            root / "Cargo.toml",
            f'[package]\nname = "{module}"\nversion = "0.1.0"\nedition = "2021"\n\n'
            '[lib]\nname = "_rs"\ncrate-type = ["cdylib"]\n',
        )
        write(root / "src" / "lib.rs", RS_LIB)


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
        _native_files(root, backend)
    return root


def projects(owner: str = "backends") -> list[tuple[str, Path]]:
    """One project per backend; each kernel venv its own copies (meson's build folder and
    maturin's generated module live in the project folder)."""
    base = stable_projects_dir(owner)
    return [(b, backend_project(base, i, b)) for i, b in enumerate(BACKENDS)]


# meson-python's loader rebuilds with the venv's own meson and ninja (no build isolation);
# maturin's cffi bindings run cffi in the target interpreter (and cffi ships in the PEX).
BUILD_TOOLS = ("meson-python", "meson", "ninja", "cffi")
CARGO = Path.home() / ".cargo" / "bin"


@contextmanager
def build_env(tools: Path) -> Iterator[None]:
    """PATH with a venv's bin holding meson and ninja (pip run as <venv>/bin/python does not
    add its own) and cargo; cargo offline (crates.io is not reachable; the Rust project needs
    no crate)."""
    saved = {k: os.environ.get(k) for k in ("PATH", "CARGO_NET_OFFLINE")}
    os.environ["PATH"] = os.pathsep.join([str(tools), str(CARGO), os.environ["PATH"]])
    os.environ["CARGO_NET_OFFLINE"] = "true"
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def kernel_spec(owner: str = "backends", requirements: tuple[str, ...] = (CLIENT,)) -> VenvSpec:
    no_isolation = {"meson": ("--no-build-isolation",)}
    # What installing writes into a project folder: cargo's target/, maturin's cffi module.
    generated = {"maturin": ("target/*", "python/pb_maturin/_rs/*")}
    return VenvSpec(
        projects=tuple(
            Project(
                p, editable=True, pip_args=no_isolation.get(b, ()), generated=generated.get(b, ())
            )
            for b, p in projects(owner)
        ),
        requirements=(*requirements, *BUILD_TOOLS),
    )


@pytest.fixture(scope="module")
def backends_kernel(venv_factory: VenvFactory) -> Venv:
    spec = kernel_spec()
    with build_env(CACHE / spec.digest() / "bin"):
        return venv_factory.get(spec)


CLASSIC = "backends-classic"
CLASSIC_REQUIREMENTS = ("pyspark==4.3.0", "fsspec")


@pytest.fixture(scope="module")
def classic_kernel(venv_factory: VenvFactory) -> Venv:
    """The same projects (own copies) in a classic driver's venv (the full pyspark)."""
    spec = kernel_spec(CLASSIC, CLASSIC_REQUIREMENTS)
    with build_env(CACHE / spec.digest() / "bin"):
        return venv_factory.get(spec)


def _drive_args(found: list[tuple[str, Path]], kernel: Venv) -> dict:
    return {
        "modules": [[dist_of(b), module_of(b), NATIVE.get(b)] for b, _ in found],
        "edits": {str(init_file(root, b)): body(b, "v2") for b, root in found},
        "kernel_paths": [str(root) for _, root in found]
        + [str(kernel.site_packages / "_pb_meson_editable_loader.py")],
    }


def _restore(found: list[tuple[str, Path]]) -> None:
    for b, root in found:
        init_file(root, b).write_text(body(b, "v1"))


@pytest.fixture(scope="module")
def backends_run(connect_env: ConnectEnv, backends_kernel: Venv) -> dict:
    """One Connect run (server over the standalone cluster of connectenv) for every backend."""
    found = projects()
    try:
        res = connect_env.drive(
            "backends",
            driver=DRIVER,
            kernel=backends_kernel,
            timeout=800,
            **_drive_args(found, backends_kernel),
        )
        res["node_cache"] = str(connect_env.worker_home / ".cache" / "pexlab" / "node-cache")
        return res
    finally:
        _restore(found)


@pytest.fixture(scope="module")
def classic_run(spark_env: Env, classic_kernel: Venv) -> dict:
    """One classic run on the standalone cluster of sparkenv for every backend."""
    found = projects(CLASSIC)
    try:
        res = spark_env.drive(
            "backends_classic",
            driver=DRIVER,
            kernel=classic_kernel,
            process_timeout=800,
            **_drive_args(found, classic_kernel),
        )
        res["node_cache"] = str(spark_env.node_cache)
        return res
    finally:
        _restore(found)


@pytest.fixture(params=["connect", "classic"])
def run(request: pytest.FixtureRequest) -> dict:
    """Each session kind's run (Connect artifacts, classic spark.files + PYTHONPATH)."""
    name = "backends_run" if request.param == "connect" else "classic_run"
    result: dict = request.getfixturevalue(name)
    return result


def _rows(run: list[dict], dist: str) -> list[dict]:
    return [r[dist] for r in run]


@pytest.mark.spark
@pytest.mark.parametrize("backend", list(BACKENDS))
def test_metadata_and_entry_points_ship_with_the_code(run: dict, backend: str) -> None:
    i = list(BACKENDS).index(backend)
    dist, module = dist_of(backend), module_of(backend)
    if "kernel" in run:
        kernel = run["kernel"][dist]
        assert kernel["version"] == version_of(i)
        assert kernel["entry_point"] == f"{module}:answer"
    zips = run["one"]["zips"]
    (mine,) = [z for z in zips if z.startswith(module + "-")]
    node_cache = run["node_cache"]
    for row in _rows(run["one_run"], dist):
        assert "import_error" not in row, row
        assert "version_error" not in row, row
        unpacked = f"{node_cache}/native/{mine[: -len('.zip')]}/{module}/"
        if backend in NATIVE:  # the whole zip, unpacked once on the node (content-keyed)
            assert row["file"] == f"{unpacked}__init__.py", row
        else:  # from the zip itself (zipimport)
            assert f"/{mine}/{module}/__init__.py" in row["file"], row
        assert row["answer"] == f"{backend}-v1"
        assert row["version"] == version_of(i), row
        assert row["entry_point"] == f"{module}:answer", row
        assert row["entry_point_call"] == f"{backend}-v1", row
        # Nothing of the kernel's install is visible: no loader, redirect or source folder.
        assert row["kernel_paths"] == [], row
        if backend in NATIVE:
            # The compiled module itself, unpacked on the node from the shipped zip...
            assert row["native"].startswith(unpacked + NATIVE[backend]), row
            # ...and its shared object is the one mapped into the worker (no fallback).
            assert row["mapped"], row
            assert all(m.startswith(unpacked) for m in row["mapped"]), row


@pytest.mark.spark
@pytest.mark.parametrize("backend", list(BACKENDS))
def test_pure_python_edit_ships_without_a_new_pex(run: dict, backend: str) -> None:
    one, two = run["one"], run["two"]
    assert two["fingerprint"] == one["fingerprint"]
    assert two["reused"] is True
    assert two["pex_mtime"] == one["pex_mtime"]
    assert set(two["zips"]).isdisjoint(one["zips"]), "every project edited: every zip new"
    for row in _rows(run["two_run"], dist_of(backend)):
        assert row["answer"] == f"{backend}-v2", row
        assert row["entry_point_call"] == f"{backend}-v2", row


@pytest.mark.spark
def test_without_pexlab_no_project_imports_on_the_executors(backends_run: dict) -> None:
    """Negative control: the same job on a plain Connect session finds none of the projects,
    so every import above came from what pexlab shipped."""
    for row in backends_run["bare_run"]:
        for backend in BACKENDS:
            result = row[dist_of(backend)]
            assert result["import_error"].startswith("ModuleNotFoundError"), result
            assert "PackageNotFoundError" in result["version_error"], result
            assert result["mapped"] == [], result


@pytest.mark.spark
def test_compiled_modules_ship_in_the_zips_not_in_the_pex(run: dict) -> None:
    """scikit-build-core installs its .so into site-packages: it must reach the project's zip
    (checked on the executors above) and nothing of an editable project the PEX."""
    names = run["one"]["pex_names"]
    for backend in BACKENDS:
        module = module_of(backend)
        assert not [n for n in names if f"/{module}/" in n or n.startswith(f"{module}/")], backend
    assert any("_pexlab_zip_native" in n for n in names), "the path hook is in the PEX"


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


def test_meson_python_zip_holds_the_build_folders_module_after_a_rebuild(
    backends_kernel: Venv, tmp_path: Path
) -> None:
    """The zip is laid out by meson's install plan: __init__.py from the sources, the .so from
    the build folder (after the rebuild its loader would run); not a guess of a folder."""
    env = inspect_interpreter(backends_kernel.python)
    dist = env.get(dist_of("meson"))
    assert dist is not None
    assert dist.editable is not None
    assert dist.editable.mechanism == "meson-python"
    build_dir = Path(dist.editable.build_dir)
    assert build_dir.is_dir()
    files = dict(editable_files(dist))
    root = next(p for b, p in projects() if b == "meson")
    assert files["pb_meson/__init__.py"] == init_file(root, "meson")
    (so,) = [a for a in files if a.startswith("pb_meson/_speed.") and a.endswith(".so")]
    assert files[so].parent == build_dir


def test_scikit_build_core_zip_holds_the_so_installed_in_site_packages(
    backends_kernel: Venv,
) -> None:
    env = inspect_interpreter(backends_kernel.python)
    dist = env.get(dist_of("skb"))
    assert dist is not None
    assert dist.editable is not None
    assert dist.editable.mechanism == "scikit-build-core"
    files = dict(editable_files(dist))
    root = next(p for b, p in projects() if b == "skb")
    assert files["pb_skb/__init__.py"] == init_file(root, "skb")
    (so,) = [a for a in files if a.startswith("pb_skb/_speed.") and a.endswith(".so")]
    assert files[so].parent == backends_kernel.site_packages / "pb_skb"


def test_a_failing_meson_rebuild_stops_the_build_naming_the_project(
    venv_factory: VenvFactory, backends_kernel: Venv, tmp_path: Path
) -> None:
    """The rebuild meson-python's loader would run on import runs before zipping; when it
    fails, nothing ships and the error names the project, the command and the compiler's
    message (a stale .so never ships silently)."""
    project = backend_project(tmp_path / "projects", 0, "meson")
    spec = VenvSpec(
        requirements=("meson-python", "meson", "ninja"),
        projects=(Project(project, editable=True, pip_args=("--no-build-isolation",)),),
    )
    with build_env(backends_kernel.root / "bin"):  # its meson and ninja
        venv = venv_factory.get(spec, fresh=True)
    env = inspect_interpreter(venv.python)
    dist = env.get(dist_of("meson"))
    assert dist is not None
    assert editable_files(dist)  # builds fine as installed
    c_file = init_file(project, "meson").with_name("_speed.c")
    c_file.write_text(SPEED_C.replace("return PyLong_FromLong(42);", "return nonsense;"))
    with pytest.raises(MesonRebuildError, match=r"(?s)pb-meson failed .*ninja.*nonsense") as err:
        editable_files(dist)
    assert isinstance(err.value, PexlabError)


def test_maturin_pure_rust_layout_ships_what_its_wheel_installed(
    venv_factory: VenvFactory, backends_kernel: Venv, tmp_path: Path
) -> None:
    """maturin's default (pure Rust) layout installs the package, compiled module included,
    into site-packages and leaves nothing pointing at the project: pexlab ships those installed
    files (RECORD), and an executor with only the PEX's path hook and the zip imports the
    compiled module from the unpacked zip."""
    from pexlab.nodecache import native

    root = tmp_path / "projects" / "pb-rsonly"
    write(
        root / "pyproject.toml",
        '[build-system]\nrequires = ["maturin>=1.5,<2"]\nbuild-backend = "maturin"\n\n'
        '[project]\nname = "pb-rsonly"\nversion = "0.2.0"\n\n'
        '[tool.maturin]\nbindings = "cffi"\nmodule-name = "pb_rsonly"\n',
    )
    write(
        root / "Cargo.toml",
        '[package]\nname = "pb_rsonly"\nversion = "0.2.0"\nedition = "2021"\n\n'
        '[lib]\ncrate-type = ["cdylib"]\n',
    )
    write(root / "src" / "lib.rs", RS_LIB)
    spec = VenvSpec(requirements=("cffi",), projects=(Project(root, editable=True),))
    with build_env(backends_kernel.root / "bin"):
        venv = venv_factory.get(spec, fresh=True)
    dist = inspect_interpreter(venv.python).get("pb-rsonly")
    assert dist is not None
    assert dist.editable is not None
    assert dist.editable.mechanism == "installed"
    z = zip_editable(dist, tmp_path / "zips")
    with zipfile.ZipFile(z) as zf:
        assert "pb_rsonly/libpb_rsonly.so" in zf.namelist()
    hook = native.write_sources(tmp_path / "hook")
    env_dir = tmp_path / "nc" / "envs" / "0123456789abcdef"
    env_dir.mkdir(parents=True)
    code = (
        "import sys; sys.path[:0] = sys.argv[1:3]; import _pexlab_zip_native as n; n.install();"
        " import pb_rsonly, importlib.metadata as md;"
        " print(pb_rsonly.__file__, pb_rsonly.lib.answer(), md.version('pb-rsonly'))"
    )
    out = subprocess.run(
        [str(venv.python), "-I", "-c", code, str(hook), str(z)],
        env={**os.environ, "PEXLAB_NODE_ENV": str(env_dir)},
        capture_output=True,
        text=True,
        check=True,
    )
    where = tmp_path / "nc" / "native" / z.name[: -len(".zip")] / "pb_rsonly" / "__init__.py"
    assert out.stdout.split() == [str(where), "42", "0.2.0"]
