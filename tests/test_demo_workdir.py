"""scripts/demo_workdir.py: `make lab` opens a working copy of the demo notebook, so JupyterLab's
autosaves never touch the tracked one, and the user's copy survives until the demo changes."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

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


def test_project_is_linked_not_copied(workdir: ModuleType, tmp_path: Path) -> None:
    project = tmp_path / "demo" / "proj"
    (project / "src").mkdir(parents=True)
    folder = tmp_path / "lab"
    folder.mkdir()
    link = workdir.link_project(project, folder)
    assert link.is_symlink()
    assert not os.path.isabs(os.readlink(link))
    (link / "src" / "m.py").write_text("x = 1\n")  # an edit through JupyterLab's file browser
    assert (project / "src" / "m.py").read_text() == "x = 1\n"
    assert workdir.link_project(project, folder) == link  # idempotent


def test_a_real_folder_in_the_way_is_an_error(workdir: ModuleType, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    folder = tmp_path / "lab"
    (folder / "proj").mkdir(parents=True)
    with pytest.raises(SystemExit, match="is not a link to"):
        workdir.link_project(project, folder)
