"""Inspection of real interpreters: the probe runs inside the target venv, reads every install
shape without importing anything, and turns broken metadata into warnings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from venvs import (
    Project,
    Venv,
    VenvFactory,
    VenvSpec,
    bare_venv,
    egg_link_install,
    hatchling_project,
    other_pythons,
    setuptools_flat_namespace,
    setuptools_project,
    stable_projects_dir,
    write,
)

from pexlab.environment.interpreter import (
    Distribution,
    Environment,
    InspectionError,
    inspect_interpreter,
)

PROJECTS = stable_projects_dir("inspect")


def dist(env: Environment, name: str) -> Distribution:
    found = env.get(name)
    assert found is not None, f"{name} not in {[d.name for d in env.distributions]}"
    return found


# ---- the interpreter itself --------------------------------------------------------------------


def test_probe_runs_in_the_target_interpreter(shapes_venv: Venv, shapes_env: Environment) -> None:
    env = shapes_env
    assert env.python == str(shapes_venv.python)
    assert Path(env.prefix) == shapes_venv.root
    assert env.base_prefix != env.prefix
    assert env.kind == "venv"
    assert env.site_packages == (str(shapes_venv.site_packages),)
    assert env.version.startswith(f"{sys.version_info.major}.{sys.version_info.minor}.")
    assert env.implementation == "cpython"
    assert env.abi == f"cp{sys.version_info.major}{sys.version_info.minor}"
    assert env.platform == sysconfig.get_platform().replace("-", "_").replace(".", "_")
    # What the venv has, not what the test's interpreter has.
    names = {d.name for d in env.distributions}
    assert {"numpy", "insp-plain", "insp-st-src"} <= names
    assert "pytest" not in names
    assert "pex" not in names
    assert env.warnings == ()


def test_json_round_trip(shapes_env: Environment) -> None:
    again = Environment.from_json(json.loads(json.dumps(shapes_env.to_json())))
    assert again == shapes_env


def test_the_callers_environment_variables_do_not_leak_in(
    shapes_venv: Venv, shapes_env: Environment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server that inspects a kernel runs with its own PYTHONPATH/VIRTUAL_ENV: the probe
    must describe the target interpreter, not the caller's settings."""
    extra = tmp_path / "extra"
    write(extra / "intruder-1.0.dist-info" / "METADATA", "Name: intruder\nVersion: 1.0\n")
    monkeypatch.setenv("PYTHONPATH", str(extra))
    monkeypatch.setenv("VIRTUAL_ENV", sys.prefix)
    monkeypatch.setenv("PYTHONHOME", "/nonexistent")
    env = inspect_interpreter(shapes_venv.python)
    assert env.get("intruder") is None
    assert env.distributions == shapes_env.distributions


def test_a_venv_folder_is_accepted_as_the_interpreter(
    shapes_venv: Venv, shapes_env: Environment
) -> None:
    assert inspect_interpreter(shapes_venv.root).python == shapes_env.python


def test_system_interpreter_kind() -> None:
    base = (
        Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    )
    env = inspect_interpreter(base)
    assert env.kind == "system"
    assert env.prefix == env.base_prefix == sys.base_prefix


def test_conda_kind(tmp_path: Path) -> None:
    # No conda here: a conda env is recognised by its conda-meta folder, so add one to a venv.
    venv = bare_venv(tmp_path / "env")
    (venv.root / "conda-meta").mkdir()
    assert inspect_interpreter(venv.python).kind == "conda"


# ---- installed distributions -------------------------------------------------------------------


def test_normal_install(shapes_venv: Venv, shapes_env: Environment) -> None:
    d = dist(shapes_env, "insp-plain")
    assert d.version == "1.4.0"
    assert d.location == str(shapes_venv.site_packages)
    assert d.installer == "pip"
    assert d.editable is None
    assert not d.is_editable
    assert d.warnings == ()
    assert d in shapes_env.installed
    assert d not in shapes_env.editables


def test_compiled_numpy_is_reported(shapes_venv: Venv, shapes_env: Environment) -> None:
    proc = shapes_venv.run("import numpy, sys; sys.stdout.write(numpy.__version__)")
    assert proc.returncode == 0, proc.stderr
    d = dist(shapes_env, "numpy")
    assert d.version == proc.stdout
    assert d.location == str(shapes_venv.site_packages)
    assert d.editable is None


def test_lookup_by_any_spelling(shapes_env: Environment) -> None:
    assert (
        shapes_env.get("Insp_Plain")
        == shapes_env.get("insp.plain")
        == dist(shapes_env, "insp-plain")
    )


# ---- editable installs -------------------------------------------------------------------------


def test_setuptools_editable_src_layout(shapes_venv: Venv, shapes_env: Environment) -> None:
    d = dist(shapes_env, "insp-st-src")
    project = PROJECTS / "insp-st-src"
    assert d.editable is not None
    assert d.editable.project_dir == str(project)
    assert d.editable.source_roots == (str(project / "src"),)
    assert d.editable.top_level == ("insp_st_src",)
    assert d.editable.mechanism == "pth"
    # setuptools leaves src/insp_st_src.egg-info on sys.path: the installed dist-info wins.
    assert (project / "src" / "insp_st_src.egg-info").is_dir()
    assert d.location == str(shapes_venv.site_packages)
    assert d.installer == "pip"
    assert d.warnings == ()


def test_setuptools_editable_finder_mapping(shapes_env: Environment) -> None:
    """Flat layout: setuptools writes a finder module with MAPPING, read here with ast."""
    d = dist(shapes_env, "insp-st-flat")
    project = PROJECTS / "insp-st-flat"
    assert d.editable is not None
    assert d.editable.mechanism == "pep660-finder"
    assert d.editable.project_dir == str(project)
    assert d.editable.mapping == (
        ("insp_solo", str(project / "insp_solo.py")),
        ("insp_st_flat", str(project / "insp_st_flat")),
    )
    assert d.editable.top_level == ("insp_solo", "insp_st_flat")  # not tests/
    assert d.editable.source_roots == (str(project),)


def test_hatchling_editable_pth(shapes_env: Environment) -> None:
    """hatchling puts the whole project folder on sys.path; only the package is the project's
    code, not tests/, docs/, build/, setup.py or conftest.py lying next to it."""
    d = dist(shapes_env, "insp-hatch")
    project = PROJECTS / "insp-hatch"
    assert d.editable is not None
    assert d.editable.mechanism == "pth"
    assert d.editable.project_dir == str(project)
    assert d.editable.source_roots == (str(project),)
    assert d.editable.top_level == ("insp_hatch",)
    assert d.editable.mapping == ()


def test_hatchling_exact_editables_finder(shapes_env: Environment) -> None:
    d = dist(shapes_env, "insp-hatch-exact")
    project = PROJECTS / "insp-hatch-exact"
    assert d.editable is not None
    assert d.editable.mapping == (("insp_hexact", str(project / "insp_hexact")),)
    assert d.editable.top_level == ("insp_hexact",)


def test_namespace_packages_normal_and_editable(shapes_venv: Venv, shapes_env: Environment) -> None:
    proc = shapes_venv.run("import inspns.one, inspns.two, inspnsf.three; print('ok')")
    assert proc.returncode == 0, proc.stderr  # the shapes are real: Python imports them

    one = dist(shapes_env, "insp-ns-one")  # editable, src layout: a static .pth
    assert one.editable is not None
    assert one.editable.source_roots == (str(PROJECTS / "insp-ns-one" / "src"),)
    assert one.editable.top_level == ("inspns",)

    two = dist(shapes_env, "insp-ns-two")  # installed normally into site-packages
    assert two.editable is None
    assert two.version == "0.1.0"

    flat = dist(shapes_env, "insp-ns-flat")  # editable, flat: setuptools finder + NAMESPACES
    assert flat.editable is not None
    assert flat.editable.mechanism == "pep660-finder"
    assert flat.editable.top_level == ("inspnsf",)
    assert flat.editable.mapping == (("inspnsf", str(PROJECTS / "insp-ns-flat" / "inspnsf")),)


def test_legacy_egg_link(tmp_path: Path) -> None:
    # Modern pip/setuptools cannot produce this shape any more: laid out by hand (egg_link_install).
    venv = bare_venv(tmp_path / "venv")
    project = egg_link_install(venv, tmp_path / "projects", "legacy-thing", "legacy_thing")
    proc = venv.run("import legacy_thing; print(legacy_thing.where())")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(str(project / "src")), proc.stderr

    d = dist(inspect_interpreter(venv.python), "legacy-thing")
    assert d.version == "0.9.0"
    assert d.editable is not None
    assert d.editable.mechanism == "egg-link"
    assert d.editable.project_dir == str(project)
    assert d.editable.source_roots == (str(project / "src"),)
    assert d.editable.top_level == ("legacy_thing",)
    assert d.warnings == ()


# ---- never import user code ------------------------------------------------------------------


def test_probe_never_imports_user_packages(
    shapes_venv: Venv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported.txt"
    monkeypatch.setenv("PEXLAB_TEST_MARKER", str(marker))
    # Control: importing them really does write the marker and blow up.
    for module in ("insp_boom", "insp_boom_ed"):
        proc = shapes_venv.run(f"import {module}", env=os.environ.copy())
        assert proc.returncode != 0
        assert "user package imported" in proc.stderr
    assert marker.read_text().split() == ["insp_boom", "insp_boom_ed"]
    marker.unlink()

    env = inspect_interpreter(shapes_venv.python)
    assert not marker.exists()
    assert dist(env, "insp-boom").version == "0.1.0"
    boom_ed = dist(env, "insp-boom-ed")
    assert boom_ed.editable is not None
    assert boom_ed.editable.top_level == ("insp_boom_ed",)


# ---- broken metadata ---------------------------------------------------------------------------


def test_broken_metadata_becomes_warnings(tmp_path: Path) -> None:
    """Shapes pip would not leave behind (written by hand), each a warning on its own entry,
    while the healthy distributions next to them are still reported."""
    venv = bare_venv(tmp_path / "venv")
    site = venv.site_packages
    write(
        site / "healthy-2.0.dist-info" / "METADATA",
        "Metadata-Version: 2.1\nName: healthy\nVersion: 2.0\n",
    )
    write(site / "ghost-1.0.dist-info" / "RECORD", "ghost/__init__.py,,\n")  # no METADATA
    write(site / "halfway-3.1.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: halfway\n")
    write(
        site / "odd-1.0.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: odd\nVersion: 1.0\n"
    )
    write(site / "odd-1.0.dist-info" / "direct_url.json", "{not json")
    # An editable whose finder module is not valid Python.
    write(site / "badfinder-0.1.dist-info" / "METADATA", "Name: badfinder\nVersion: 0.1\n")
    write(
        site / "badfinder-0.1.dist-info" / "RECORD",
        "__editable__.badfinder-0.1.pth,,\n__editable___badfinder_0_1_finder.py,,\n",
    )
    write(site / "__editable__.badfinder-0.1.pth", "import __editable___badfinder_0_1_finder\n")
    write(site / "__editable___badfinder_0_1_finder.py", "MAPPING = {'x': \n")
    # An upgrade interrupted halfway: two versions' metadata side by side.
    write(site / "twice-1.0.dist-info" / "METADATA", "Name: twice\nVersion: 1.0\n")
    write(site / "twice-2.0.dist-info" / "METADATA", "Name: twice\nVersion: 2.0\n")

    env = inspect_interpreter(venv.python)
    assert dist(env, "healthy").warnings == ()
    ghost = dist(env, "ghost")
    assert ghost.version == "1.0"
    assert any("no METADATA" in w for w in ghost.warnings)
    halfway = dist(env, "halfway")
    assert halfway.version == "3.1"
    assert any("incomplete metadata" in w for w in halfway.warnings)
    odd = dist(env, "odd")
    assert odd.version == "1.0"
    assert any("direct_url.json" in w for w in odd.warnings)
    twice = dist(env, "twice")
    assert any("also installed" in w for w in twice.warnings)
    assert [d.name for d in env.distributions].count("twice") == 1
    bad = dist(env, "badfinder")
    assert bad.editable is not None
    assert any("cannot parse editable finder" in w for w in bad.warnings)


@pytest.fixture(scope="module")
def deleted_project_env(
    venv_factory: VenvFactory, tmp_path_factory: pytest.TempPathFactory
) -> Environment:
    """A real `pip install -e` whose project folder is then deleted."""
    base = tmp_path_factory.mktemp("doomed")
    project = setuptools_project(base, "insp-doomed", "insp_doomed")
    venv = venv_factory.get(VenvSpec(projects=(Project(project, editable=True),)), fresh=True)
    shutil.rmtree(project)
    return inspect_interpreter(venv.python)


def test_editable_whose_project_was_deleted(deleted_project_env: Environment) -> None:
    d = dist(deleted_project_env, "insp-doomed")
    assert d.editable is not None  # still editable: it must stay out of the PEX
    assert d.editable.project_dir.endswith("insp-doomed")
    assert any("no longer exists" in w for w in d.warnings)
    assert d.editable.top_level == ()
    assert dist(deleted_project_env, "pip").warnings == ()


# ---- what is not a Python interpreter ----------------------------------------------------------


def test_inspection_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(InspectionError, match="No interpreter at"):
        inspect_interpreter(tmp_path / "nope" / "python")
    with pytest.raises(InspectionError, match="not a Python environment"):
        inspect_interpreter(tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(InspectionError, match="not executable"):
        inspect_interpreter(text)
    liar = tmp_path / "liar"
    liar.write_text("#!/bin/sh\necho hello\n")
    liar.chmod(0o755)
    with pytest.raises(InspectionError, match="did not answer like a Python interpreter"):
        inspect_interpreter(liar)
    failing = tmp_path / "failing"
    failing.write_text("#!/bin/sh\necho 'something broke' >&2\nexit 3\n")
    failing.chmod(0o755)
    with pytest.raises(InspectionError, match="something broke"):
        inspect_interpreter(failing)


def test_probe_is_standalone_stdlib(tmp_path: Path) -> None:
    """The probe is copied nowhere and imports nothing of pexlab: it runs from its file in an
    interpreter that has no pexlab at all (here a bare venv)."""
    venv = bare_venv(tmp_path / "venv")
    proc = subprocess.run(
        [str(venv.python), "-I", "-c", "import pexlab"], capture_output=True, text=True
    )
    assert proc.returncode != 0  # pexlab is not importable there...
    env = inspect_interpreter(venv.python)  # ...and the probe still works
    assert env.python == str(venv.python)
    assert env.distributions == ()


# ---- other Python versions ---------------------------------------------------------------------


def cross_version_spec(python: str) -> VenvSpec:
    base = stable_projects_dir("inspect-xver")
    return VenvSpec(
        python=python,
        projects=(
            Project(setuptools_project(base, "xv-plain", "xv_plain", version="2.0.0")),
            Project(setuptools_project(base, "xv-src", "xv_src"), editable=True),
            Project(hatchling_project(base, "xv-hatch", "xv_hatch"), editable=True),
            Project(setuptools_flat_namespace(base, "xv-ns", "xvns", "leaf"), editable=True),
        ),
    )


@pytest.mark.parametrize(
    "python",
    other_pythons()
    or [pytest.param(None, marks=pytest.mark.skip(reason="no Python 3.8 or 3.13 on this machine"))],
)
def test_other_python_versions(python: str, venv_factory: VenvFactory, tmp_path: Path) -> None:
    """The probe is written for Python 3.8+: run it in the oldest and newest interpreters found
    here, with the editable shapes their own pip/setuptools/hatchling produce."""
    venv = venv_factory.get(cross_version_spec(python))
    expected = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    env = inspect_interpreter(venv.python)
    assert env.python_major_minor == expected
    assert env.abi == "cp" + expected.replace(".", "")
    assert env.kind == "venv"
    assert env.warnings == ()
    assert dist(env, "xv-plain").version == "2.0.0"
    assert dist(env, "xv-plain").editable is None
    src = dist(env, "xv-src").editable
    assert src is not None
    assert src.top_level == ("xv_src",)
    hatch = dist(env, "xv-hatch").editable
    assert hatch is not None
    assert hatch.top_level == ("xv_hatch",)
    ns = dist(env, "xv-ns").editable
    assert ns is not None
    assert ns.top_level == ("xvns",)
    # ...and that interpreter imports the zipped code.
    from pexlab.build.editables import zip_editable

    zips = [zip_editable(dist(env, n), tmp_path) for n in ("xv-src", "xv-hatch", "xv-ns")]
    prelude = f"import sys; sys.path[:0] = {[str(z) for z in zips]!r}\n"
    proc = subprocess.run(
        [
            python,
            "-I",
            "-c",
            prelude + "import xv_src, xv_hatch, xvns.leaf; print(xvns.leaf.where())",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(str(zips[2]) + "/xvns/leaf/")


def test_too_old_interpreters_are_refused_clearly(tmp_path: Path) -> None:
    old = [
        p
        for p in Path.home().glob(".pyenv/versions/*/bin/python")
        if p.parent.parent.name[:3] in ("2.7", "3.6", "3.7")
    ]
    if not old:
        pytest.skip("no Python older than 3.8 on this machine")
    for python in old:
        with pytest.raises(InspectionError, match=r"needs Python 3\.8 or newer"):
            inspect_interpreter(python)


def test_startup_noise_from_pth_files_is_ignored(tmp_path: Path) -> None:
    """A .pth line runs at every start and may print (or fail): the JSON answer still gets
    through, and a failing .pth does not stop the inspection."""
    venv = bare_venv(tmp_path / "venv")
    site = venv.site_packages
    write(site / "noisy.pth", "import sys; print('hello from a .pth file {'); print('')\n")
    write(site / "failing.pth", "import this_module_does_not_exist\n")
    write(site / "fine-1.0.dist-info" / "METADATA", "Name: fine\nVersion: 1.0\n")
    env = inspect_interpreter(venv.python)
    assert dist(env, "fine").version == "1.0"


def test_user_site_packages_are_seen_for_a_system_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pip install --user` packages are visible to a kernel running a system Python; `-I`
    hides them from the probe, which adds them back (and not for an isolated venv)."""
    base = (
        Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    )
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PYTHONUSERBASE", raising=False)
    monkeypatch.delenv("PYTHONNOUSERSITE", raising=False)
    user_site = subprocess.run(
        [str(base), "-c", "import site; print(site.getusersitepackages())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert user_site.startswith(str(tmp_path))
    write(
        Path(user_site) / "mine_only-0.5.dist-info" / "METADATA", "Name: mine-only\nVersion: 0.5\n"
    )
    control = subprocess.run(
        [str(base), "-c", "import importlib.metadata as m; print(m.version('mine-only'))"],
        capture_output=True,
        text=True,
    )
    assert control.stdout.strip() == "0.5", control.stderr  # the kernel would see it

    env = inspect_interpreter(base)
    assert dist(env, "mine-only").location == user_site
    assert user_site in env.site_packages

    venv = bare_venv(tmp_path / "venv")
    assert inspect_interpreter(venv.python).get("mine-only") is None


def test_same_distributions_as_importlib_metadata_in_the_target(
    shapes_venv: Venv, shapes_env: Environment
) -> None:
    """Cross-check: the probe's list is what importlib.metadata itself sees in that venv (first
    one on sys.path wins), just read faster and with editables described."""
    code = (
        "import importlib.metadata as m, json, re\n"
        "seen = {}\n"
        "for d in m.distributions():\n"
        "    seen.setdefault(re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(), d.version)\n"
        "print(json.dumps(seen))"
    )
    proc = subprocess.run(
        [str(shapes_venv.python), "-I", "-c", code], capture_output=True, text=True, check=True
    )
    assert {d.name: d.version for d in shapes_env.distributions} == json.loads(proc.stdout)


def test_the_probes_name_normalisation_is_pexlabs() -> None:
    """The probe runs in another interpreter and cannot import pexlab: its one-line copy of
    canonical_name must agree with the one the engine uses everywhere else."""
    import runpy

    from pexlab.core.names import canonical_name

    probe = runpy.run_path(
        str(Path(__import__("pexlab").__file__).parent / "environment" / "probe.py")
    )
    for name in ("Scikit_Learn", "zope.interface", "a--b__c..d", "PySpark-Connect", "x"):
        assert probe["canonical"](name) == canonical_name(name)
