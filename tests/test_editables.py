"""Editable zips from real editable installs: layout, exclusions, content-hashed names,
determinism, atomic writes, and importing the code back from the zip in another interpreter."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
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
    pyproject,
    setuptools_flat_with_module,
    stable_projects_dir,
    write,
)

import pexlab.build.editables as editables
from pexlab.build.editables import EditableError, zip_editable
from pexlab.core.progress import EVENT_PREFIX, ProgressEvent
from pexlab.environment.interpreter import Distribution, Environment, inspect_interpreter

PROJECTS = stable_projects_dir("inspect")


def editable(env: Environment, name: str) -> Distribution:
    d = env.get(name)
    assert d is not None, name
    assert d.editable is not None, name
    return d


def names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as zf:  # the code (metadata: tests/test_editable_backends.py)
        return [
            n for n in zf.namelist() if not n.split("/")[0].endswith((".dist-info", ".egg-info"))
        ]


def run_python(python: str | Path, code: str, *paths: Path) -> str:
    """Run `code` with `paths` first on sys.path, isolated from the caller's environment."""
    prelude = f"import sys; sys.path[:0] = {[str(p) for p in paths]!r}\n"
    proc = subprocess.run(
        [str(python), "-I", "-c", prelude + code], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# ---- layout ------------------------------------------------------------------------------------


def test_src_layout_zip_has_the_package_at_its_root(
    shapes_env: Environment, tmp_path: Path
) -> None:
    z = zip_editable(editable(shapes_env, "insp-st-src"), tmp_path)
    # src/insp_st_src.egg-info, written there by setuptools, stays out.
    assert names(z) == ["insp_st_src/", "insp_st_src/__init__.py"]
    assert z.parent == tmp_path
    assert z.name.startswith("insp_st_src-")
    assert len(z.stem.rsplit("-", 1)[1]) == 12


def test_finder_mapping_zip(shapes_env: Environment, tmp_path: Path) -> None:
    z = zip_editable(editable(shapes_env, "insp-st-flat"), tmp_path)
    assert names(z) == [
        "insp_solo.py",
        "insp_st_flat/",
        "insp_st_flat/__init__.py",
        "insp_st_flat/sub/",
        "insp_st_flat/sub/__init__.py",
    ]


def test_exclusions(shapes_env: Environment, tmp_path: Path) -> None:
    """Caches, VCS and build folders, compiled files and the project's tests/docs stay out; a
    real subpackage that happens to be called `dist` stays in."""
    z = zip_editable(editable(shapes_env, "insp-hatch"), tmp_path)
    assert names(z) == [
        "insp_hatch/",
        "insp_hatch/__init__.py",
        "insp_hatch/core.py",
        "insp_hatch/data/",
        "insp_hatch/data/table.json",
        "insp_hatch/dist/",
        "insp_hatch/dist/__init__.py",
    ]
    # The junk really is there in the project.
    project = PROJECTS / "insp-hatch"
    for junk in (
        ".git/HEAD",
        "build/lib/x.py",
        "insp_hatch/build/leftover.py",
        "insp_hatch/old.pyc",
        "insp_hatch/__pycache__/core.cpython-311.pyc",
        "insp_hatch/node_modules/x.js",
        "insp_hatch/.mypy_cache/x.json",
        "tests/test_core.py",
    ):
        assert (project / junk).exists(), junk


def test_namespace_zip_holds_only_its_own_portion(
    shapes_venv: Venv, shapes_env: Environment, tmp_path: Path
) -> None:
    z = zip_editable(editable(shapes_env, "insp-ns-one"), tmp_path)
    assert names(z) == ["inspns/", "inspns/one/", "inspns/one/__init__.py"]  # no __init__ in inspns
    # The zip's portion and the normally installed portion (site-packages) join one namespace.
    out = run_python(
        shapes_venv.python,
        "import inspns.one, inspns.two; print(inspns.one.where()); print(inspns.two.where())",
        z,
    )
    one, two = out.split()
    assert one.startswith(str(z) + "/inspns/one/")
    assert two.startswith(str(shapes_venv.site_packages))

    flat = zip_editable(editable(shapes_env, "insp-ns-flat"), tmp_path)
    assert names(flat) == ["inspnsf/", "inspnsf/three/", "inspnsf/three/__init__.py"]


def test_legacy_egg_link_zip(tmp_path: Path) -> None:
    venv = bare_venv(tmp_path / "venv")
    egg_link_install(venv, tmp_path / "projects", "legacy-thing", "legacy_thing")
    d = inspect_interpreter(venv.python).get("legacy-thing")
    assert d is not None
    assert names(zip_editable(d, tmp_path / "zips")) == [
        "legacy_thing/",
        "legacy_thing/__init__.py",
    ]


def test_zips_import_in_another_interpreter(shapes_env: Environment, tmp_path: Path) -> None:
    """The test's own interpreter has none of these projects: whatever imports comes from the
    zips (zipimport through sys.path, as on a Spark executor)."""
    zips = [
        zip_editable(editable(shapes_env, name), tmp_path)
        for name in ("insp-st-src", "insp-st-flat", "insp-hatch", "insp-hatch-exact", "insp-ns-one")
    ]
    out = run_python(
        sys.executable,
        "import insp_st_src, insp_st_flat.sub, insp_solo, insp_hatch.core, insp_hexact, inspns.one\n"
        "for m in (insp_st_src, insp_st_flat.sub, insp_solo, insp_hatch.core, insp_hexact, inspns.one):\n"
        "    print(m.__file__)\n"
        "print(insp_hatch.core.ANSWER)",
        *zips,
    )
    *files, answer = out.split()
    assert answer == "42"
    assert all(any(f.startswith(str(z) + "/") for z in zips) for f in files), files


def test_not_editable_is_refused(shapes_env: Environment, tmp_path: Path) -> None:
    plain = shapes_env.get("insp-plain")
    assert plain is not None
    with pytest.raises(EditableError, match="not an editable install"):
        zip_editable(plain, tmp_path)


# ---- names, reuse, determinism -----------------------------------------------------------------


@pytest.fixture(scope="module")
def mutable(
    venv_factory: VenvFactory, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Venv, Path]:
    """A private venv with a hatchling project installed editable from a folder we may edit."""
    base = tmp_path_factory.mktemp("mutable")
    project = hatchling_project(base, "insp-mutable", "insp_mutable")
    write(project / "insp_mutable" / "util.py", "VALUE = 1\n")
    venv = venv_factory.get(VenvSpec(projects=(Project(project, editable=True),)), fresh=True)
    return venv, project


def current(venv: Venv) -> Distribution:
    d = inspect_interpreter(venv.python).get("insp-mutable")
    assert d is not None
    assert d.editable is not None
    return d


def test_name_follows_the_content(mutable: tuple[Venv, Path], tmp_path: Path) -> None:
    venv, project = mutable
    util = project / "insp_mutable" / "util.py"
    first = zip_editable(current(venv), tmp_path)
    stamp = first.stat().st_mtime_ns

    # Unchanged code: same name, the existing zip is reused, not rewritten.
    assert zip_editable(current(venv), tmp_path) == first
    assert first.stat().st_mtime_ns == stamp

    # Bytecode caches appear when the code runs: excluded, so the name does not move.
    compiled = subprocess.run([str(venv.python), "-m", "compileall", "-q", str(project)])
    assert compiled.returncode == 0
    assert (project / "insp_mutable" / "__pycache__").is_dir()
    assert zip_editable(current(venv), tmp_path) == first

    # Changed code: a new name (Spark would otherwise ignore it), the old zip left alone.
    util.write_text("VALUE = 2\n")
    second = zip_editable(current(venv), tmp_path)
    assert second != first
    assert first.exists()
    assert (
        run_python(sys.executable, "import insp_mutable.util as u; print(u.VALUE)", second) == "2\n"
    )

    # A new module is a change too.
    write(project / "insp_mutable" / "extra.py", "X = 1\n")
    third = zip_editable(current(venv), tmp_path)
    assert third not in (first, second)

    # Back to the original content: back to the original name.
    (project / "insp_mutable" / "extra.py").unlink()
    util.write_text("VALUE = 1\n")
    assert zip_editable(current(venv), tmp_path) == first
    assert not list(tmp_path.glob(".*tmp"))


def test_zips_are_deterministic(shapes_env: Environment, tmp_path: Path) -> None:
    d = editable(shapes_env, "insp-hatch")
    a = zip_editable(d, tmp_path / "a")
    b = zip_editable(d, tmp_path / "b")
    assert a.name == b.name
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_a_failed_write_leaves_nothing(
    shapes_env: Environment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fault injection (a disk filling up mid-zip cannot be staged here): the writer dies halfway.
    real_write = editables._write_zip

    def dying_write(target: Path, files: list[tuple[str, Path]]) -> None:
        real_write(target, files[:1])
        raise OSError("No space left on device")

    monkeypatch.setattr(editables, "_write_zip", dying_write)
    with pytest.raises(OSError, match="No space left"):
        zip_editable(editable(shapes_env, "insp-hatch"), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_deleted_project_cannot_be_zipped(tmp_path: Path) -> None:
    venv = bare_venv(tmp_path / "venv")
    project = egg_link_install(venv, tmp_path / "projects", "gone-thing", "gone_thing")
    d = inspect_interpreter(venv.python).get("gone-thing")
    assert d is not None
    shutil.rmtree(project)
    with pytest.raises(EditableError, match="moved or deleted"):
        zip_editable(d, tmp_path / "zips")
    assert not (tmp_path / "zips").exists() or list((tmp_path / "zips").iterdir()) == []


# ---- progress events (pexlab/progress.py) ------------------------------------------------------


def test_zip_reports_progress(shapes_env: Environment, tmp_path: Path) -> None:
    events: list[ProgressEvent] = []
    d = editable(shapes_env, "insp-st-src")
    zip_editable(d, tmp_path, progress=events.append)
    assert [(e.phase, e.fraction) for e in events] == [("zip", 0.0), ("zip", 1.0)]
    events.clear()
    zip_editable(d, tmp_path, progress=events.append)
    assert len(events) == 1
    assert "unchanged" in events[0].message


def test_progress_event_lines_round_trip() -> None:
    event = ProgressEvent("build", 0.25, "resolving 12 distributions")
    line = event.to_line()
    assert line.startswith(EVENT_PREFIX)
    assert "\n" not in line
    assert ProgressEvent.from_line(line + "\n") == event
    assert ProgressEvent.from_line("pex: some ordinary stderr output") is None
    assert ProgressEvent.from_line(EVENT_PREFIX + "{broken") is None
    assert ProgressEvent("upload", None).fraction is None
    with pytest.raises(ValueError, match="unknown progress phase"):
        ProgressEvent("cooking", 0.5, "")
    with pytest.raises(ValueError, match=r"within 0\.\.1"):
        ProgressEvent("zip", 1.5, "")


def test_a_raising_callback_aborts(shapes_env: Environment, tmp_path: Path) -> None:
    """The server cancels a build by raising from its callback: that must not be swallowed."""

    def cancel(event: ProgressEvent) -> None:
        raise KeyboardInterrupt("cancelled")

    with pytest.raises(KeyboardInterrupt):
        zip_editable(editable(shapes_env, "insp-st-flat"), tmp_path, progress=cancel)


def test_setuptools_strict_mode_link_tree(venv_factory: VenvFactory, tmp_path: Path) -> None:
    """`editable_mode=strict`: the .pth points at a tree of symlinks under build/; the zip holds
    the linked files' content, and follows edits of the real files."""
    project = setuptools_flat_with_module(
        stable_projects_dir("inspect-strict"), "insp-strict", "insp_strict", "insp_strict_mod"
    )
    spec = VenvSpec(
        projects=(
            Project(project, editable=True, pip_args=("--config-settings", "editable_mode=strict")),
        )
    )
    venv = venv_factory.get(spec)
    d = editable(inspect_interpreter(venv.python), "insp-strict")
    assert d.editable is not None
    (root,) = d.editable.source_roots
    assert Path(root).parent == project / "build"
    assert (Path(root) / "insp_strict" / "__init__.py").is_symlink()
    z = zip_editable(d, tmp_path)
    assert names(z) == [
        "insp_strict/",
        "insp_strict/__init__.py",
        "insp_strict/sub/",
        "insp_strict/sub/__init__.py",
        "insp_strict_mod.py",
    ]
    with zipfile.ZipFile(z) as zf:
        assert zf.read("insp_strict/sub/__init__.py") == b"LEVEL = 2\n"


def test_concurrent_zips_of_the_same_code_give_one_file(
    shapes_env: Environment, tmp_path: Path
) -> None:
    """Two builds zipping the same project at once (the server runs jobs in parallel) both get
    the same complete zip, and no temporary file survives."""
    from concurrent.futures import ThreadPoolExecutor

    d = editable(shapes_env, "insp-hatch")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: zip_editable(d, tmp_path), range(8)))
    assert len(set(results)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [results[0].name]
    with zipfile.ZipFile(results[0]) as zf:
        assert zf.testzip() is None


def test_package_dir_renamed_is_zipped_under_its_import_name(
    venv_factory: VenvFactory, tmp_path: Path
) -> None:
    """setuptools `package-dir = {fancy = "lib/impl"}`: the code lives in lib/impl but imports as
    `fancy`; the finder's MAPPING says so, and the zip follows the import name."""
    project = stable_projects_dir("inspect-renamed") / "insp-renamed"
    pyproject(
        project,
        "insp-renamed",
        tool="""
        [tool.setuptools]
        packages = ["fancy"]
        package-dir = {fancy = "lib/impl"}
        """,
    )
    write(project / "lib" / "impl" / "__init__.py", "def where():\n    return __file__\n")
    venv = venv_factory.get(VenvSpec(projects=(Project(project, editable=True),)))
    d = editable(inspect_interpreter(venv.python), "insp-renamed")
    assert d.editable is not None
    assert d.editable.mapping == (("fancy", str(project / "lib" / "impl")),)
    z = zip_editable(d, tmp_path)
    assert names(z) == ["fancy/", "fancy/__init__.py"]
    out = run_python(sys.executable, "import fancy; print(fancy.where())", z)
    assert out.startswith(str(z) + "/fancy/")


def test_single_module_project(tmp_path: Path) -> None:
    """A project that is one module (`lonely.py`) next to its metadata, put on sys.path by a
    legacy egg-link (laid out by hand: modern pip cannot make one)."""
    venv = bare_venv(tmp_path / "venv")
    project = tmp_path / "lonely"
    write(project / "lonely.py", "def where():\n    return __file__\n")
    write(project / "setup.py", "raise SystemExit('never run')\n")
    write(project / "lonely.egg-info" / "PKG-INFO", "Name: lonely\nVersion: 1.0\n")
    write(project / "lonely.egg-info" / "top_level.txt", "lonely\n")
    (venv.site_packages / "lonely.egg-link").write_text(f"{project}\n.\n")
    (venv.site_packages / "easy-install.pth").write_text(f"{project}\n")
    d = editable(inspect_interpreter(venv.python), "lonely")
    assert d.editable is not None
    assert d.editable.top_level == ("lonely",)
    z = zip_editable(d, tmp_path / "zips")
    assert names(z) == ["lonely.py"]
    assert run_python(sys.executable, "import lonely; print(lonely.where())", z).startswith(str(z))


def test_notebooks_and_clutter_stay_out_of_the_zip(tmp_path: Path) -> None:
    """A notebook saved inside the project (and its checkpoints), hidden folders, a venv and OS
    files are not code: README's "What ships" rule.  Data files are kept."""
    venv = bare_venv(tmp_path / "venv")
    project = tmp_path / "nbproj"
    pkg = project / "nbpkg"
    write(pkg / "__init__.py", "X = 1\n")
    write(pkg / "table.csv", "a,b\n")
    clutter = (
        "nbpkg/explore.ipynb",
        "nbpkg/.ipynb_checkpoints/explore-checkpoint.ipynb",
        "nbpkg/sub/analysis.ipynb",
        "nbpkg/.idea/workspace.xml",
        "nbpkg/.vscode/settings.json",
        "nbpkg/venv/pyvenv.cfg",
        "nbpkg/venv/lib/x.py",
        "nbpkg/.DS_Store",
        "nbpkg/sub/Thumbs.db",
        "nbpkg/node_modules/x.js",
    )
    for junk in clutter:
        write(project / junk, "{}\n")
    write(pkg / "sub" / "__init__.py", "")
    write(project / "nbproj.egg-info" / "PKG-INFO", "Name: nbproj\nVersion: 1.0\n")
    write(project / "nbproj.egg-info" / "top_level.txt", "nbpkg\n")
    (venv.site_packages / "nbproj.egg-link").write_text(f"{project}\n.\n")
    (venv.site_packages / "easy-install.pth").write_text(f"{project}\n")
    z = zip_editable(editable(inspect_interpreter(venv.python), "nbproj"), tmp_path / "zips")
    assert names(z) == [
        "nbpkg/",
        "nbpkg/__init__.py",
        "nbpkg/sub/",
        "nbpkg/sub/__init__.py",
        "nbpkg/table.csv",
    ]
    assert all((project / junk).is_file() for junk in clutter)


def _hook_install(venv: Venv, project: Path, with_hook: bool) -> None:
    """An editable dist-info laid out by hand: direct_url says editable; with `with_hook`, a
    .pth runs an import hook pexlab does not know, else the wheel installed `mystery/` into
    site-packages (maturin's pure Rust layout)."""
    site = venv.site_packages
    info = site / "mystery-0.3.dist-info"
    write(info / "METADATA", "Metadata-Version: 2.1\nName: mystery\nVersion: 0.3\n")
    write(
        info / "direct_url.json",
        f'{{"dir_info": {{"editable": true}}, "url": "file://{project}"}}',
    )
    record = ["mystery-0.3.dist-info/METADATA,,", "mystery/__init__.py,,"]
    write(site / "mystery" / "__init__.py", "X = 'installed'\n")
    if with_hook:
        write(site / "_mystery_hook.py", "def install():\n    pass\n")
        write(site / "mystery.pth", "import _mystery_hook; _mystery_hook.install()\n")
        record += ["_mystery_hook.py,,", "mystery.pth,,"]
    write(info / "RECORD", "\n".join(record) + "\n")


def test_an_editable_wheel_that_installed_its_code_ships_those_files(tmp_path: Path) -> None:
    venv = bare_venv(tmp_path / "venv")
    project = tmp_path / "mystery-project"
    project.mkdir()
    _hook_install(venv, project, with_hook=False)
    d = editable(inspect_interpreter(venv.python), "mystery")
    assert d.editable is not None
    assert d.editable.mechanism == "installed"
    assert d.warnings == ()
    z = zip_editable(d, tmp_path / "zips")
    assert "mystery/__init__.py" in names(z)


def test_an_import_hook_pexlab_cannot_read_still_fails_the_build(tmp_path: Path) -> None:
    """Files in site-packages next to an unknown hook are not shipped as a guess: the hook may
    point elsewhere (a build folder), so the build stops naming the project."""
    from pexlab.build.editable_native import UnshippableEditable

    venv = bare_venv(tmp_path / "venv")
    project = tmp_path / "mystery-project"
    project.mkdir()
    _hook_install(venv, project, with_hook=True)
    d = editable(inspect_interpreter(venv.python), "mystery")
    assert d.editable is not None
    assert d.editable.mechanism == "unknown"
    with pytest.raises(UnshippableEditable, match=r"mystery 0\.3"):
        zip_editable(d, tmp_path / "zips")
