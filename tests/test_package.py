"""package_environment end to end: inspect -> cached PEX -> editable zips -> upload."""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path

from buildenv import calls, counting_pex, offline, plain_project, run_pex_file
from venvs import Project, VenvFactory, VenvSpec, setuptools_project

from pexlab.build.cache import Cache
from pexlab.build.pex import BuildOptions
from pexlab.core.progress import ProgressEvent
from pexlab.package import package_environment

pytest_plugins = ["buildenv"]  # shared session fixtures: main_venv, built, ...


def test_package_main_env_to_local_storage(main_venv, built, bare_venv, pex_root, tmp_path) -> None:
    record, cache = built
    store = tmp_path / "store"
    events: list[ProgressEvent] = []
    with offline():
        arts = package_environment(
            main_venv.python, storage=str(store), cache=cache, progress=events.append
        )
    assert arts.reused
    assert arts.fingerprint == record.fingerprint
    assert arts.pex.local_path == record.pex_path
    assert arts.pex.sha256 == record.sha256
    assert arts.pex.url == f"file://{store / arts.pex.name}"
    assert (store / arts.pex.name).stat().st_size == record.size
    by_project = {a.project: a for a in arts.editables}
    assert set(by_project) == {"edlib", "hatchlib", "nsproj"}
    for a in arts.editables:
        assert a.kind == "editable"
        assert a.url == f"file://{store / a.name}"
        assert (store / a.name).read_bytes() == Path(a.local_path).read_bytes()
    roots = {p: sorted(zipfile.ZipFile(a.local_path).namelist()) for p, a in by_project.items()}
    assert "edlib/__init__.py" in roots["edlib"]
    assert "hatchlib/__init__.py" in roots["hatchlib"]
    assert "acme/tools/__init__.py" in roots["nsproj"]
    assert {e.phase for e in events} >= {"inspect", "build", "zip", "upload"}
    doc = json.loads(json.dumps(arts.to_json()))
    assert doc["pex"]["url"] == arts.pex.url
    assert len(doc["editables"]) == 3
    assert cache.get(arts.fingerprint).uploads[str(store)] == arts.pex.url

    # What an executor does: run the uploaded PEX with the editable zips on PYTHONPATH.
    pythonpath = os.pathsep.join(str(store / a.name) for a in arts.editables)
    code = "import edlib, hatchlib, acme.tools, numpy, plainpkg; print(edlib.__file__)"
    r = run_pex_file(
        store / arts.pex.name,
        bare_venv.python,
        "-c",
        code,
        env={"PYTHONPATH": pythonpath},
        pex_root=pex_root,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith(str(store / by_project["edlib"].name))


def test_editing_editable_code_changes_its_zip_not_the_pex(tmp_path, monkeypatch) -> None:
    edit = setuptools_project(tmp_path / "p", "mycode", "mycode", body="X = 1\n")
    tiny = plain_project(tmp_path / "p", "tinylib", "tinylib", "1.0.0")
    venv = VenvFactory(tmp_path).get(
        VenvSpec(projects=(Project(edit, editable=True), Project(tiny))), fresh=True
    )
    cmd, log = counting_pex(tmp_path / "wrap")
    monkeypatch.setenv("PEXLAB_PEX", cmd)
    cache = Cache(tmp_path / "cache")
    with offline():
        first = package_environment(venv.python, storage=str(tmp_path / "s"), cache=cache)
        (edit / "src" / "mycode" / "__init__.py").write_text("X = 2\n")
        second = package_environment(venv.python, storage=str(tmp_path / "s"), cache=cache)
        third = package_environment(venv.python, cache=cache, include_editable=False)
    assert not first.reused
    assert second.reused
    assert third.reused
    assert first.fingerprint == second.fingerprint == third.fingerprint
    assert calls(log) == 1
    (z1,), (z2,) = first.editables, second.editables
    assert z1.name != z2.name
    assert z1.name.startswith("mycode-")
    assert z2.name.startswith("mycode-")
    assert zipfile.ZipFile(z2.local_path).read("mycode/__init__.py") == b"X = 2\n"
    assert (tmp_path / "s" / z1.name).exists()
    assert (tmp_path / "s" / z2.name).exists()
    assert third.editables == []
    assert third.pex.url is None


def test_options_flow_into_the_build(main_venv, tmp_path) -> None:
    """include=pyspark puts the (stand-in) pyspark into the PEX: a different artifact."""
    cache = Cache(tmp_path)
    with offline():
        arts = package_environment(
            main_venv.python,
            options=BuildOptions(include=("pyspark",)),
            cache=cache,
            include_editable=False,
        )
    names = {d["name"] for d in cache.get(arts.fingerprint).distributions}
    assert "pyspark" in names
    assert "py4j" not in names
    with zipfile.ZipFile(arts.pex.local_path) as zf:
        dists = json.loads(zf.read("PEX-INFO"))["distributions"]
    assert any(w.startswith("pyspark-4.0.0") for w in dists)


def test_inspection_is_reused_until_the_environment_changes(tmp_path) -> None:
    from pexlab.package import inspect_cached

    tiny = plain_project(tmp_path / "p", "tinylib", "tinylib", "1.0.0")
    other = plain_project(tmp_path / "p", "otherlib", "otherlib", "0.3.0")
    venv = VenvFactory(tmp_path).get(VenvSpec(projects=(Project(tiny),)), fresh=True)
    cache = Cache(tmp_path / "cache")
    env1, reused1 = inspect_cached(venv.python, cache)
    env2, reused2 = inspect_cached(venv.python, cache)
    assert (reused1, reused2) == (False, True)
    assert env2 == env1
    # A new process (a new Cache, with its own Inspector): the record on disk is used.
    assert inspect_cached(venv.python, Cache(cache.root))[1] is True
    assert Cache(cache.root).inspector.inspect(venv.python, reuse=False)[1] is False
    venv.pip("install", str(other))
    env3, reused3 = inspect_cached(venv.python, cache)
    assert reused3 is False
    assert "otherlib" in {d.name for d in env3.distributions}
    venv.pip("uninstall", "-y", "otherlib")
    env4, reused4 = inspect_cached(venv.python, cache)
    assert reused4 is False
    assert "otherlib" not in {d.name for d in env4.distributions}


def test_a_recorded_inspection_is_reused_only_in_the_current_format(tmp_path: Path) -> None:
    """A record from an older pexlab lacks what the probe reports now (e.g. the cache tag the
    PEX's .pyc names depend on): it is inspected again, not trusted."""
    from pexlab import package

    cache = Cache(tmp_path / "cache")
    _, reused = package.inspect_cached(sys.executable, cache)
    assert not reused
    cache = Cache(cache.root)  # as a new process: only the record on disk is left
    env, reused = package.inspect_cached(sys.executable, cache)
    assert reused
    assert env.cache_tag == sys.implementation.cache_tag

    (record,) = (cache.root / "inspect").glob("*.json")
    old = json.loads(record.read_text())
    del old["format"], old["env"]["cache_tag"]
    record.write_text(json.dumps(old))
    cache = Cache(cache.root)
    env, reused = package.inspect_cached(sys.executable, cache)
    assert not reused
    assert env.cache_tag == sys.implementation.cache_tag
