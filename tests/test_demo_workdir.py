"""scripts/demo_workdir.py: `make lab` opens a working copy of the demo notebook, so JupyterLab's
autosaves never touch the tracked one, and the user's copy survives until the demo changes; the
demo project is a copy too, installed editable into the demo kernel's venv, so the README's edit
loop leaves `git status` clean."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from venvs import VenvSpec

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def workdir() -> ModuleType:
    path = REPO / "scripts" / "demo_workdir.py"
    spec = importlib.util.spec_from_file_location("pexlab_demo_workdir", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_copy_is_made_kept_and_set_aside_when_the_demo_changes(
    workdir: ModuleType, tmp_path: Path
) -> None:
    source = tmp_path / "demo" / "nb.ipynb"
    source.parent.mkdir()
    source.write_text('{"v": 1}')
    folder = tmp_path / "lab"

    copy = workdir.sync_notebook(source, folder)
    assert copy == folder / "nb.ipynb"
    assert copy.read_text() == '{"v": 1}'

    # The user ran it (JupyterLab saved outputs): the next run keeps their copy...
    copy.write_text('{"v": 1, "outputs": "mine"}')
    workdir.sync_notebook(source, folder)
    assert copy.read_text() == '{"v": 1, "outputs": "mine"}'
    assert source.read_text() == '{"v": 1}'

    # ...until the demo itself changes: then a fresh copy, and theirs set aside, not lost.
    source.write_text('{"v": 2}')
    workdir.sync_notebook(source, folder)
    assert copy.read_text() == '{"v": 2}'
    aside = [p for p in folder.glob("nb-*.ipynb")]
    assert [p.read_text() for p in aside] == ['{"v": 1, "outputs": "mine"}']
    # Nothing else a user would see in the file browser (the stamp is a dot-file).
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted(
        ["nb.ipynb", aside[0].name]
    )


def test_project_is_copied_kept_and_set_aside_when_the_demo_changes(
    workdir: ModuleType, tmp_path: Path
) -> None:
    project = tmp_path / "demo" / "proj"
    (project / "src" / "m").mkdir(parents=True)
    (project / "src" / "m" / "__init__.py").write_text("x = 1\n")
    (project / "src" / "m.egg-info").mkdir()  # left by an editable install: not copied
    folder = tmp_path / "lab"
    copy = workdir.copy_project(project, folder)
    assert copy == folder / "proj"
    assert not copy.is_symlink()
    assert not (copy / "src" / "m.egg-info").exists()
    (copy / "src" / "m" / "__init__.py").write_text("x = 2\n")  # the user's edit
    assert (project / "src" / "m" / "__init__.py").read_text() == "x = 1\n"
    assert workdir.copy_project(project, folder) == copy  # kept across runs
    assert (copy / "src" / "m" / "__init__.py").read_text() == "x = 2\n"

    (project / "src" / "m" / "__init__.py").write_text("x = 3\n")  # the demo changed
    workdir.copy_project(project, folder)
    assert (copy / "src" / "m" / "__init__.py").read_text() == "x = 3\n"
    aside = [p for p in folder.glob("proj-*") if p.is_dir()]
    assert [(p / "src" / "m" / "__init__.py").read_text() for p in aside] == ["x = 2\n"]


def test_a_link_from_an_older_make_lab_is_replaced_by_a_copy(
    workdir: ModuleType, tmp_path: Path
) -> None:
    project = tmp_path / "proj"
    (project / "src").mkdir(parents=True)
    (project / "src" / "a.py").write_text("")
    folder = tmp_path / "lab"
    folder.mkdir()
    (folder / "proj").symlink_to(project, target_is_directory=True)
    copy = workdir.copy_project(project, folder)
    assert not copy.is_symlink()
    assert (copy / "src" / "a.py").is_file()


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def test_the_edit_loop_edits_the_installed_copy_and_the_clone_stays_clean(
    workdir: ModuleType, tmp_path: Path, venv_factory
) -> None:  # type: ignore[no-untyped-def]
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(REPO), str(clone)], check=True)
    _git(clone, "checkout", "-q", _git(REPO, "rev-parse", "HEAD").strip())
    tracked = clone / "demo" / "pexlab_demo_project"
    notebooks = clone / ".cache" / "lab" / "notebooks"  # what `make lab` uses, git-ignored
    workdir.sync_notebook(clone / "demo" / "notebooks" / "pexlab-demo.ipynb", notebooks)
    copy = workdir.copy_project(tracked, notebooks)

    venv = venv_factory.get(VenvSpec(), fresh=True)  # stands in for .cache/demo-venv
    assert workdir.install_editable(venv.python, copy) is True
    assert workdir.install_editable(venv.python, copy) is False  # already from the copy
    where = "import pexlab_demo; print(pexlab_demo.__file__)"
    assert Path(venv.run(where).stdout.strip()).is_relative_to(copy)

    # The README's edit loop: edit the project next to the notebook, run again.
    init = copy / "src" / "pexlab_demo" / "__init__.py"
    init.write_text(init.read_text() + "\nEDITED = True\n")
    assert venv.run("import pexlab_demo; print(pexlab_demo.EDITED)").stdout.strip() == "True"
    assert _git(clone, "status", "--porcelain", "--untracked-files=all") == ""
    assert "EDITED" not in (tracked / "src" / "pexlab_demo" / "__init__.py").read_text()
