"""The layered layout (`BuildOptions(layout="layers")`, pexlab.build.layers) with real pex, a
real venv changed by real pip, a storage folder, and a node whose Python is bare.

One venv goes through the changes a notebook makes: tabulate only, then `pip install six`, a
six upgrade, and its uninstall.  After each, the test lists storage (only the changed layer is
new there) and the node cache (only the changed layer is extracted there), and runs the
launcher as an executor would: with a bare `python3.11` first on PATH, so every import can only
come from what was shipped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from buildenv import DEAD, offline
from venvs import Project, VenvFactory, VenvSpec, setuptools_project, stable_projects_dir

from pexlab.build.cache import Cache
from pexlab.local.venvs import make_bare_python
from pexlab.nodecache import native
from pexlab.nodecache.assemble import TMP
from pexlab.nodecache.launcher import LAYER_SOURCE_FILE, LAYERED_VENVS, LAYERS_VAR
from pexlab.nodecache.upkeep import PEX_DIR, ROOT_VAR
from pexlab.package import Artifacts, package_environment

LAYERED = {"layout": "layers"}
PY = f"python{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An executor's environment: a bare Python of the kernel's version first on PATH."""
    base = tmp_path_factory.mktemp("node")
    bare = make_bare_python(base / "bare")
    bin_dir = base / "bin"
    bin_dir.mkdir()
    (bin_dir / PY).symlink_to(bare)
    return {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(base / "home"),
        ROOT_VAR: str(base / "cache"),
    }


def start(
    artifacts: Artifacts, node: dict[str, str], code: str, cwd: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the launcher the way Spark runs `./<pex> -c ...` on an executor."""
    return subprocess.run(
        [artifacts.pex.local_path, "-c", code],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**node, **env},
        timeout=300,
        check=False,
    )


def installed_layers(node: dict[str, str]) -> dict[str, int]:
    """The node's extracted layers (pex's installed_wheels), each with its folder's inode."""
    wheels = Path(node[ROOT_VAR]) / PEX_DIR / "installed_wheels"
    return {p.name: p.stat().st_ino for p in wheels.glob("*/*")} if wheels.is_dir() else {}


def package(python: Path, storage: Path, cache: Cache) -> Artifacts:
    with offline():
        return package_environment(python, storage=str(storage), options=LAYERED, cache=cache)


IMPORT = "import tabulate, six; print(six.__version__, six.__file__)"
# Enough distributions that the node unpacks them in several processes.
PARALLEL = ("tabulate==0.9.0", "idna", "packaging", "pyparsing", "attrs", "iniconfig", "pluggy")
# Two distributions of one namespace package (`jaraco/`): each layer has a `jaraco` folder, which
# the node's venv must merge, as one site-packages would.
NAMESPACE = ("jaraco.functools", "jaraco.context")


def test_each_change_ships_and_extracts_only_its_layer(
    venv_factory: VenvFactory, node: dict[str, str], tmp_path: Path
) -> None:
    venv = venv_factory.get(VenvSpec(requirements=PARALLEL + NAMESPACE), fresh=True)
    storage, cache, work = tmp_path / "storage", Cache(tmp_path / "cache"), tmp_path / "work"
    work.mkdir()
    layers_var = {LAYERS_VAR: str(storage)}

    first = package(venv.python, storage, cache)
    assert first.layers
    assert first.layers_sent == len(first.layers)
    assert first.layer_source == str(storage)
    assert first.env_files() == [first.pex]  # executors read the layers from storage
    # Each layer carries the kernel venv's bytecode, as a single-file PEX does.
    tab = next(x for x in first.layers if "-tabulate-" in x.name)
    with zipfile.ZipFile(tab.local_path) as zf:
        assert f"tabulate/__pycache__/__init__.{sys.implementation.cache_tag}.pyc" in zf.namelist()
    without_six = start(first, node, IMPORT, work, **layers_var)
    # Negative control: the node's own Python has nothing, so six comes only from a layer.
    assert "No module named 'six'" in without_six.stderr, without_six.stderr
    ok = start(first, node, "import tabulate; print(tabulate.__file__)", work, **layers_var)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(node[ROOT_VAR]), ok.stdout  # from the node cache's venv
    both = "import jaraco.functools, jaraco.context, sys; print(sys.prefix)"
    ns = start(first, node, both, work, **layers_var)
    assert ns.returncode == 0, ns.stderr
    site = Path(ns.stdout.strip()) / "lib" / PY / "site-packages"
    assert (site / "jaraco").is_dir()
    assert not (site / "jaraco").is_symlink()
    assert (site / "jaraco" / "functools").is_symlink(), sorted(os.listdir(site / "jaraco"))
    assert (site / "tabulate").is_symlink()  # one distribution's folder: one link
    extracted = installed_layers(node)
    assert len(extracted) == len(first.layers)  # one per distribution

    stored = set(os.listdir(storage))
    previous, before = first, extracted
    for pip_args, version in (
        (("install", "six==1.16.0"), "1.16.0"),
        (("install", "six==1.17.0"), "1.17.0"),
    ):
        venv.pip(*pip_args)
        changed = package(venv.python, storage, cache)
        assert changed.pex.name != previous.pex.name
        # Storage: exactly one new layer (six), beside the new launcher.
        new_in_storage = set(os.listdir(storage)) - stored
        six_layer = [x.name for x in changed.layers if "-six-" in x.name]
        assert new_in_storage == {changed.pex.name, *six_layer}, new_in_storage
        assert changed.layers_sent == 1
        # A top-level module's bytecode sits in the layer's own __pycache__.
        six_zip = next(x.local_path for x in changed.layers if x.name == six_layer[0])
        with zipfile.ZipFile(six_zip) as zf:
            assert f"__pycache__/six.{sys.implementation.cache_tag}.pyc" in zf.namelist()
        # Build: the unchanged layers are pex's cached zips, not zipped again.
        same = {x.name for x in previous.layers} & {x.name for x in changed.layers}
        assert len(same) == len(changed.layers) - 1
        for name in same:
            old_zip = next(Path(x.local_path) for x in previous.layers if x.name == name)
            new_zip = next(Path(x.local_path) for x in changed.layers if x.name == name)
            assert old_zip.stat().st_ino == new_zip.stat().st_ino, name
        if version == "1.17.0":
            # Where no environment can be set (Spark Connect), a file beside the launcher
            # names the folder instead.
            (work / LAYER_SOURCE_FILE).write_text(f"{storage}\n")
        run = start(changed, node, IMPORT, work, **(layers_var if version == "1.16.0" else {}))
        assert run.returncode == 0, run.stderr
        assert run.stdout.split()[0] == version
        # Node: one more extracted layer; the others are the same folders as before.
        after = installed_layers(node)
        assert set(after) - set(before) == {_hash_of(cache, changed, six_layer[0])}
        assert all(after[h] == ino for h, ino in before.items())
        stored, previous, before = set(os.listdir(storage)), changed, after

    venv.pip("uninstall", "-y", "six")
    gone = package(venv.python, storage, cache)
    assert gone.layers_sent == 0  # tabulate and the rest are in storage already
    run = start(gone, node, IMPORT, work, **layers_var)
    assert "No module named 'six'" in run.stderr, run.stderr


def _hash_of(cache: Cache, artifacts: Artifacts, file: str) -> str:
    """The installed_wheels folder name of a layer file (its full hash, from the record)."""
    record = cache.get(artifacts.fingerprint)
    assert record is not None
    return next(str(x["hash"]) for x in record.layers if x["file"] == file)


def test_missing_layer_is_named_and_leaves_nothing_half_made(
    venv_factory: VenvFactory, node: dict[str, str], tmp_path: Path
) -> None:
    venv = venv_factory.get(VenvSpec(requirements=("tabulate==0.9.0",)))
    cache, work = Cache(tmp_path / "cache"), tmp_path / "work"
    work.mkdir()
    with offline():
        artifacts = package_environment(venv.python, options=LAYERED, cache=cache)
    assert artifacts.layer_source is None
    assert artifacts.env_files() == [artifacts.pex, *artifacts.layers]  # they travel with it
    own = {**node, ROOT_VAR: str(tmp_path / "node-cache")}
    code = "import tabulate; print(tabulate.__name__)"

    # Spark shipped only some of the files (a killed or partial fetch): the start fails, names
    # the missing layer and where it looked, and leaves no folder for pex to start from.
    tabulate_layer = next(x for x in artifacts.layers if "-tabulate-" in x.name)
    for x in artifacts.layers:
        if x is not tabulate_layer:
            os.link(x.local_path, work / x.name)
    failed = start(artifacts, own, code, work)
    assert failed.returncode != 0
    assert f"layer {tabulate_layer.name} is in none of {work}" in failed.stderr, failed.stderr
    pex_root = tmp_path / "node-cache" / PEX_DIR
    record = cache.get(artifacts.fingerprint)
    assert record is not None
    pex_hash = record.path.read_text().split(f"$PEX_ROOT/{LAYERED_VENVS}/", 1)[1].split("/")[0]
    venvs = pex_root / LAYERED_VENVS / pex_hash
    wheels = next(pex_root.glob("installed_wheels/*"))
    assert [p.name for p in venvs.iterdir() if not p.name.endswith(".lck")] == []  # no venv
    # No half layer: only whole ones (the layers that were there), no private folders.
    assert all(not p.name.startswith(".") and TMP not in p.name for p in wheels.iterdir())
    assert len(list(wheels.iterdir())) < len(artifacts.layers)

    # A truncated copy is refused by size, not handed to pex.
    (work / tabulate_layer.name).write_bytes(Path(tabulate_layer.local_path).read_bytes()[:100])
    truncated = start(artifacts, own, code, work)
    assert "a partial or foreign file" in truncated.stderr, truncated.stderr

    # A start killed while unpacking a layer or linking the venv leaves its private folders
    # (named by its pid, now gone): the next start removes them and succeeds.
    (work / tabulate_layer.name).unlink()
    os.link(tabulate_layer.local_path, work / tabulate_layer.name)
    half_layer = wheels / f"{_hash_of(cache, artifacts, tabulate_layer.name)}{TMP}999999"
    (half_layer / "tabulate-0.9.0-py3-none-any.whl" / "tabulate").mkdir(parents=True)
    half_venv = venvs / f".venv{TMP}999999"
    (half_venv / "bin").mkdir(parents=True)
    ok = start(artifacts, own, code, work)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "tabulate"
    assert not half_layer.exists()
    assert not half_venv.exists()


def test_the_layer_server_serves_only_its_files_under_its_token(tmp_path: Path) -> None:
    import urllib.error
    import urllib.request

    from pexlab.package import Artifact
    from pexlab.spark import layer_server

    layer = tmp_path / "pexlab-layer-0123-x.whl"
    layer.write_bytes(b"layer bytes")
    (tmp_path / "secret").write_bytes(b"not served")
    art = Artifact("layer", layer.name, str(layer), None, layer.stat().st_size, "")
    url = layer_server.serve([art], {"spark.driver.host": "127.0.0.1"})
    assert url.startswith("http://127.0.0.1:")
    before = layer_server.served()
    with urllib.request.urlopen(f"{url}/{layer.name}", timeout=10) as r:
        assert r.read() == b"layer bytes"
    assert layer_server.served() == before + 1
    base = url.rpartition("/")[0]
    for path in (f"{url}/secret", f"{url}/../secret", f"{base}/wrong-token/{layer.name}"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(path, timeout=10)
        assert err.value.code == 404, path
    # One server per driver address: a second session's layers join the same one.
    assert layer_server.serve([art], {"spark.driver.host": "127.0.0.1"}) == url


def test_spark_args_of_a_layered_environment(venv_factory: VenvFactory, tmp_path: Path) -> None:
    """The CI path: `pexlab spark-args --layout layers` gives spark-submit the launcher (and,
    for a shared storage folder, where the layers are)."""
    venv = venv_factory.get(VenvSpec(requirements=("tabulate==0.9.0",)))
    storage = tmp_path / "storage"
    env = {**os.environ, "PEXLAB_CACHE_DIR": str(tmp_path / "cache"), "PIP_INDEX_URL": DEAD}
    args = ["--python", str(venv.python), "--storage", str(storage), "--layout", "layers"]
    out = subprocess.run(
        [sys.executable, "-m", "pexlab", "spark-args", "--quiet", *args, "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    conf = json.loads(out.stdout)
    launcher = conf["spark.pyspark.python"].removeprefix("./")
    assert conf["spark.files"] == f"file://{storage / launcher}"
    assert conf[f"spark.executorEnv.{LAYERS_VAR}"] == str(storage)
    assert any(f.startswith("pexlab-layer-") for f in os.listdir(storage))
    built = subprocess.run(
        [sys.executable, "-m", "pexlab", "build", *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert f"beside {launcher}" in built.stdout
    assert ", 0 uploaded)" in built.stdout, built.stdout  # all in storage already


def test_the_venv_holds_the_pex_user_code(
    venv_factory: VenvFactory, node: dict[str, str], tmp_path: Path
) -> None:
    """What pexlab adds to every PEX with editables (`pex -D`: the path hook that imports
    compiled modules of editable zips, `pexlab.nodecache.native`) is in the layered venv too,
    and active from its start, as in a single-file PEX."""
    base = stable_projects_dir("layered")
    project = setuptools_project(base, "pexlab-layered-edit", "pexlab_layered_edit", body="X = 1\n")
    spec = VenvSpec(requirements=("tabulate==0.9.0",), projects=(Project(project, editable=True),))
    venv = venv_factory.get(spec)
    with offline():
        artifacts = package_environment(venv.python, options=LAYERED, cache=Cache(tmp_path / "c"))
    assert artifacts.editables
    work = tmp_path / "work"
    work.mkdir()
    for x in artifacts.layers:
        os.link(x.local_path, work / x.name)
    hook = f"import sys, {native.MODULE} as m; print(m._hook in sys.path_hooks)"
    run = start(artifacts, {**node, ROOT_VAR: str(tmp_path / "node-cache")}, hook, work)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "True"
