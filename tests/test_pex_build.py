"""PEX build with the real pex CLI from a real venv's installed distributions, offline."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import json
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest
from buildenv import offline, run_pex_file

from pexlab.build import zip_rewrite
from pexlab.build.cache import Cache
from pexlab.build.fingerprint import fingerprint, selected_distributions
from pexlab.build.pex import BuildError, BuildOptions, build_pex, pex_arguments, pex_version
from pexlab.environment.interpreter import Distribution, Environment, inspect_interpreter

pytest_plugins = ["buildenv"]  # shared session fixtures: main_venv, built, ...

REPO = Path(__file__).resolve().parents[1]


def pex_info(pex: Path) -> dict:
    with zipfile.ZipFile(pex) as zf:
        return json.loads(zf.read("PEX-INFO"))


def dist_names(info: dict) -> set[str]:
    # Wheel file names: `<name>-<version>-...whl`, name with `_` for `-`.
    return {w.split("-", 1)[0].lower().replace("_", "-") for w in info["distributions"]}


# -- fingerprint --------------------------------------------------------------------------


def test_fingerprint_is_stable_across_processes_and_paths(main_env: Environment) -> None:
    fp = fingerprint(main_env, BuildOptions(), pex_version())
    code = (
        "from pexlab.environment.interpreter import inspect_interpreter as i;"
        "from pexlab.build.fingerprint import fingerprint;"
        "from pexlab.build.pex import BuildOptions, pex_version;"
        f"print(fingerprint(i({main_env.python!r}), BuildOptions(), pex_version()))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert other.stdout.strip() == fp
    # Another machine: same packages, different paths -> same fingerprint.
    moved = dataclasses.replace(
        main_env,
        python="/elsewhere/bin/python",
        prefix="/elsewhere",
        base_prefix="/usr",
        version=main_env.python_major_minor + ".99",
        distributions=tuple(dataclasses.replace(d, location="/x") for d in main_env.distributions),
    )
    assert fingerprint(moved, BuildOptions(), pex_version()) == fp


def _with_version(env: Environment, name: str, version: str) -> Environment:
    dists = tuple(
        dataclasses.replace(d, version=version) if d.name == name else d for d in env.distributions
    )
    return dataclasses.replace(env, distributions=dists)


def test_fingerprint_changes_with_what_decides_the_pex(main_env: Environment) -> None:
    pv = pex_version()
    fp = fingerprint(main_env, BuildOptions(), pv)
    assert fingerprint(_with_version(main_env, "six", "0.0.1"), BuildOptions(), pv) != fp
    assert fingerprint(main_env, BuildOptions(compress=True), pv) != fp
    assert fingerprint(main_env, BuildOptions(exclude=("py4j",)), pv) != fp
    assert fingerprint(main_env, BuildOptions(), pv + ".1") != fp
    assert fingerprint(dataclasses.replace(main_env, abi="cp312"), BuildOptions(), pv) != fp
    # Excluded and editable distributions do not go in the PEX, so they do not count.
    assert fingerprint(_with_version(main_env, "pyspark", "9.9.9"), BuildOptions(), pv) == fp
    assert fingerprint(_with_version(main_env, "edlib", "9.9.9"), BuildOptions(), pv) == fp
    # Same names spelled differently are the same option.
    same = BuildOptions(exclude=("PySpark", "py4j", "PySpark_Client", "pyspark.connect"))
    assert fingerprint(main_env, same, pv) == fp


def test_a_changed_layered_launcher_is_a_new_fingerprint(
    main_env: Environment, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pexlab.nodecache import launcher

    pv = pex_version()
    layers, zipapp = BuildOptions(layout="layers"), BuildOptions()
    before = fingerprint(main_env, layers, pv), fingerprint(main_env, zipapp, pv)
    monkeypatch.setattr(launcher, "_ASSEMBLE_RUN", launcher._ASSEMBLE_RUN + "; pass")
    # A cached layered build must not keep handing out the old assembly script.
    assert fingerprint(main_env, layers, pv) != before[0]
    assert fingerprint(main_env, zipapp, pv) == before[1]


def test_selected_distributions_leave_out_editables_and_excludes(main_env: Environment) -> None:
    names = {n for n, _ in selected_distributions(main_env, BuildOptions())}
    assert {"numpy", "six", "plainpkg"} <= names
    assert not names & {"pyspark", "py4j", "edlib", "hatchlib", "nsproj"}
    with_spark = {
        n for n, _ in selected_distributions(main_env, BuildOptions(include=("pyspark",)))
    }
    assert "pyspark" in with_spark
    assert "py4j" not in with_spark


# -- the built PEX ------------------------------------------------------------------------


def test_offline_build_contains_installed_and_leaves_out_editables_and_spark(built) -> None:
    record, _ = built
    info = pex_info(record.path)
    names = dist_names(info)
    assert {"numpy", "six", "plainpkg"} <= names
    assert not names & {"pyspark", "py4j", "edlib", "hatchlib", "nsproj"}
    assert info["inherit_path"] == "fallback"
    with zipfile.ZipFile(record.path) as zf:
        assert zf.testzip() is None
        files = [i for i in zf.infolist() if not i.is_dir() and i.file_size]
        # pex builds stored (fast), pexlab deflates at level 1 (see pex_build docstring), but
        # stores what deflating shrinks by too little to pay for inflating on every node.
        stored = [i for i in files if i.compress_type == zipfile.ZIP_STORED]
        assert all(i.compress_type in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED) for i in files)
        assert len(stored) < len(files) / 10
        for i in stored:
            d = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
            deflated = len(d.compress(zf.read(i)) + d.flush())
            assert deflated > zip_rewrite.STORE_ABOVE * i.file_size, i.filename
    assert record.path.read_bytes()[:2] == b"#!"
    assert not info.get("entry_point")
    assert record.size == record.path.stat().st_size
    assert {
        "name": "numpy",
        "version": next(d["version"] for d in record.distributions if d["name"] == "numpy"),
    } in record.distributions
    assert record.editables == ["edlib", "hatchlib", "nsproj"]


def test_pex_runs_under_another_interpreter(
    built, bare_venv, tmp_path: Path, pex_root: Path
) -> None:
    """The bare venv has nothing installed: whatever imports comes from the PEX."""
    record, _ = built
    code = (
        "import numpy, six, plainpkg; "
        f"print(int(numpy.arange(5).sum()), numpy.__file__.startswith({str(bare_venv.root)!r}))"
    )
    r = run_pex_file(record.path, bare_venv.python, "-c", code, pex_root=pex_root)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["10", "False"]
    # Editable projects and pyspark/py4j are not inside.
    for missing in ("edlib", "hatchlib", "acme.tools", "pyspark", "py4j"):
        r = run_pex_file(
            record.path, bare_venv.python, "-c", f"import {missing}", pex_root=pex_root
        )
        assert r.returncode != 0, (missing, r.stderr)
        assert "ModuleNotFoundError" in r.stderr, (missing, r.stderr)


def _deps_pycs(pex: Path) -> list[str]:
    with zipfile.ZipFile(pex) as zf:
        return [n for n in zf.namelist() if n.startswith(".deps/") and n.endswith(".pyc")]


def test_venv_bytecode_is_shipped_and_used_from_a_fresh_pex_root(
    built, bare_venv, tmp_path: Path
) -> None:
    """pip's .pyc files travel in the PEX as checked hash-based .pyc: an executor with an
    empty PEX_ROOT (and no right to write bytecode) imports them instead of compiling."""
    record, _ = built
    tag = sys.implementation.cache_tag
    with zipfile.ZipFile(record.path) as zf:
        (init,) = [n for n in zf.namelist() if n.endswith("/plainpkg/__init__.py")]
        pyc = zf.read(init.replace("__init__.py", f"__pycache__/__init__.{tag}.pyc"))
        assert int.from_bytes(pyc[4:8], "little") == 0b11
        assert pyc[8:16] == importlib.util.source_hash(zf.read(init))
    assert any(n.startswith(".deps/numpy-") for n in _deps_pycs(record.path))
    r = run_pex_file(
        record.path,
        bare_venv.python,
        "-v",
        "-c",
        "import plainpkg.hello",
        env={"PYTHONDONTWRITEBYTECODE": "1"},
        pex_root=tmp_path / "empty-pex-root",
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"plainpkg/__pycache__/hello.{tag}.pyc matches" in r.stderr
    assert f"plainpkg/__pycache__/__init__.{tag}.pyc matches" in r.stderr


def test_pex_runs_module_and_code_through_its_shebang(
    built, bare_venv, tmp_path: Path, pex_root: Path
) -> None:
    record, _ = built
    # `./env.pex` finds `pythonX.Y` on PATH: put the bare venv first.
    path = f"{bare_venv.root / 'bin'}:/usr/bin:/bin"
    r = run_pex_file(
        record.path, None, "-m", "plainpkg.hello", env={"PATH": path}, pex_root=pex_root
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "hello from plainpkg 1.2.3"
    r = run_pex_file(
        record.path,
        None,
        "-c",
        "import sys, six; print(sys.prefix != sys.base_prefix or 'x')",
        env={"PATH": path},
        pex_root=pex_root,
    )
    assert r.returncode == 0, r.stderr


def test_executor_imports_spark_pyspark_from_pythonpath(
    built, bare_venv, tmp_path: Path, pex_root: Path
) -> None:
    """As on a Spark executor: the real pyspark and py4j are on PYTHONPATH only."""
    record, _ = built
    # The project venv has the real pyspark 4 (test extra); found without importing it.
    spark_path = tmp_path / "spark-python"
    spark_path.mkdir()
    for mod in ("pyspark", "py4j"):
        spec = importlib.util.find_spec(mod)
        assert spec is not None, f"{mod} must be installed in the test venv"
        assert spec.origin, f"{mod} must be installed in the test venv"
        (spark_path / mod).symlink_to(Path(spec.origin).parent)
    spark_version = importlib.metadata.version("pyspark")
    code = "import pyspark, py4j, numpy; print(pyspark.__file__); print(pyspark.__version__)"
    r = run_pex_file(
        record.path,
        bare_venv.python,
        "-c",
        code,
        env={"PYTHONPATH": str(spark_path)},
        pex_root=pex_root,
    )
    assert r.returncode == 0, r.stderr
    file, version = r.stdout.split()
    assert file.startswith(str(spark_path))
    assert version == spark_version
    # And `-m` resolves modules from there too (what `-m pyspark.daemon` relies on).
    (spark_path / "probe_mod.py").write_text("print('from pythonpath')\n")
    r = run_pex_file(
        record.path,
        bare_venv.python,
        "-m",
        "probe_mod",
        env={"PYTHONPATH": str(spark_path)},
        pex_root=pex_root,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "from pythonpath", r.stderr


def test_zipapp_mode_also_inherits_pythonpath(
    main_env, bare_venv, tmp_path: Path, pex_root: Path
) -> None:
    cache = Cache(tmp_path / "c")
    with offline():
        record = build_pex(
            main_env, BuildOptions(venv=False, zip_level=0, bytecode=False), cache
        ).record
    assert pex_info(record.path)["venv"] is False
    with zipfile.ZipFile(record.path) as zf:  # zip_level=0: left as pex stored it
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
    assert _deps_pycs(record.path) == []  # bytecode=False
    (tmp_path / "pp").mkdir()
    (tmp_path / "pp" / "onpath.py").write_text("X = 7\n")
    r = run_pex_file(
        record.path,
        bare_venv.python,
        "-c",
        "import onpath, numpy; print(onpath.X)",
        env={"PYTHONPATH": str(tmp_path / "pp")},
        pex_root=pex_root,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "7", r.stderr


def test_arguments_exclude_editables_and_never_use_an_index(
    main_env: Environment, tmp_path: Path
) -> None:
    args = pex_arguments(main_env, BuildOptions(), tmp_path / "x.pex")
    assert args[:3] == ["--venv-repository", main_env.prefix, "--no-pypi"]
    excluded = {args[i + 1] for i, a in enumerate(args) if a == "--exclude"}
    assert excluded == {
        *("pyspark", "py4j", "pyspark-client", "pyspark-connect"),
        *("edlib", "hatchlib", "nsproj"),
    }
    assert not any(a.startswith(("--index", "-i", "--find-links", "-f")) for a in args)


# -- bad input ----------------------------------------------------------------------------


def test_non_venv_interpreter_fails_with_what_to_do(tmp_path: Path) -> None:
    base = getattr(sys, "_base_executable", None) or sys.executable
    env = inspect_interpreter(base)
    if env.kind == "venv":
        pytest.fail(f"expected {base} to be a non-venv interpreter")
    with pytest.raises(BuildError, match=r"not a virtual environment.*-m venv"):
        build_pex(env, BuildOptions(), Cache(tmp_path))
    assert not (tmp_path / "builds").exists()


def test_include_of_a_missing_name_is_a_clear_error(main_env: Environment, tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="not-installed-pkg"):
        build_pex(main_env, BuildOptions(include=("not-installed-pkg",)), Cache(tmp_path))


def test_pex_failure_is_reported_and_leaves_nothing(main_env: Environment, tmp_path: Path) -> None:
    """A distribution whose files vanished: pex fails, the message carries its stderr."""
    ghost = Distribution(name="ghost-package", version="1.0")
    env = dataclasses.replace(main_env, distributions=(*main_env.distributions, ghost))
    cache = Cache(tmp_path)
    with offline(), pytest.raises(BuildError, match=r"pex failed"):
        build_pex(env, BuildOptions(), cache)
    assert cache.list() == []
    assert not list((tmp_path / "tmp").iterdir())
