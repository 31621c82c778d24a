"""Pure parts of the server extension: drift between an environment and a build record, job
records surviving a restart."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pexlab.build.cache import BuildRecord, Cache
from pexlab.build.options import DEFAULT_EXCLUDES, LAYOUT_VALUES, BuildOptions
from pexlab.environment.interpreter import Distribution, Editable, Environment
from pexlab.server.build_process import build_env
from pexlab.server.config import PexLab
from pexlab.server.drift import compare
from pexlab.server.job import Job
from pexlab.server.jobs import JobManager
from pexlab.server.resolve import (
    Partial,
    RequestError,
    check_storage_allowed,
    parse_partial,
    resolve_options,
    resolve_storage,
)

REPO = Path(__file__).resolve().parents[2]


def env(*dists: Distribution, version: str = "3.11.7") -> Environment:
    return Environment(
        python="/venv/bin/python",
        prefix="/venv",
        base_prefix="/usr",
        version=version,
        implementation="cpython",
        abi="cp311",
        platform="linux_x86_64",
        kind="venv",
        distributions=tuple(dists),
    )


def record(dists: dict[str, str], editables: list[str], exclude=("pyspark", "py4j")) -> BuildRecord:  # type: ignore[no-untyped-def]
    return BuildRecord(
        fingerprint="f" * 64,
        pex_path="/c/x.pex",
        python="/venv/bin/python",
        python_version="3.11.7",
        platform="linux_x86_64",
        distributions=[{"name": n, "version": v} for n, v in dists.items()],
        editables=editables,
        options={"exclude": list(exclude)},
        pex_version="2",
        size=1,
        sha256="0",
        built_at=0.0,
    )


def test_no_record_is_missing():
    assert compare(env(), None).state == "missing"


def test_same_packages_up_to_date_and_excluded_ones_ignored():
    e = env(Distribution("numpy", "2.0.0"), Distribution("pyspark", "4.0.0"))
    assert compare(e, record({"numpy": "2.0.0"}, [])).state == "up-to-date"


def test_added_removed_changed_and_editables():
    e = env(
        Distribution("numpy", "2.1.0"),
        Distribution("Pandas_Extra", "1.0"),
        Distribution("mylib", "0.1", editable=Editable(project_dir="/src/mylib")),
    )
    d = compare(e, record({"numpy": "2.0.0", "requests": "2.31.0"}, ["oldlib"]))
    assert d.state == "stale"
    assert d.added == [{"name": "pandas-extra", "version": "1.0"}]
    assert d.removed == [{"name": "requests", "version": "2.31.0"}]
    assert [(c.name, c.old, c.new) for c in d.changed] == [("numpy", "2.0.0", "2.1.0")]
    assert {(c.name, c.change) for c in d.editables_changed} == {
        ("mylib", "added"),
        ("oldlib", "removed"),
    }


def test_python_version_change_is_stale():
    d = compare(env(version="3.11.9"), record({}, []))
    assert d.state == "stale"
    assert d.python_changed is not None
    assert d.python_changed.new == "3.11.9"


def test_running_jobs_are_interrupted_after_restart_and_files_are_whole(tmp_path):
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    running = Job(
        id="a" * 32,
        kernel_id="k",
        python="/p",
        fingerprint="f",
        storage=None,
        options={},
        state="running",
        pid=123,
    )
    done = Job(
        id="b" * 32,
        kernel_id="k",
        python="/p",
        fingerprint="g",
        storage=None,
        options={},
        state="succeeded",
    )
    for j in (running, done):
        (jobs / f"{j.id}.json").write_text(json.dumps(j.to_json()))
    (jobs / "garbage.json").write_text("{not json")  # a torn or foreign file is skipped

    async def load() -> JobManager:
        return JobManager(jobs_dir=jobs, cache_dir=tmp_path)

    manager = asyncio.run(load())
    assert manager.get(running.id).state == "interrupted"
    assert manager.get(running.id).pid is None
    assert manager.get(done.id).state == "succeeded"
    on_disk = json.loads((jobs / f"{running.id}.json").read_text())
    assert on_disk["state"] == "interrupted"
    assert not list(jobs.glob(".*.tmp")), "temporary files left next to the job records"


# ----------------------------------------------------------------- resolving requests


def test_partial_options_are_the_users_choices_only():
    assert parse_partial(None) == Partial()
    got = parse_partial({"exclude_extra": ["torch", "torch"], "include_editable": False})
    assert got == Partial(("torch",), False)
    for bad, fragment in [
        ({"exclude": ["numpy"]}, "Unknown option"),
        ({"exclude_extra": "numpy"}, "list"),
        ({"exclude_extra": ["a b"]}, "not a package name"),
        ({"include_editable": "yes"}, "true or false"),
        ({"layout": "tree"}, "zipapp, layers"),
        (["x"], "object"),
    ]:
        with pytest.raises(RequestError, match=fragment) as info:
            parse_partial(bad)
        assert info.value.status == 400


def test_unchanged_settings_resolve_to_the_engine_defaults():
    opts = resolve_options(Partial(), list(DEFAULT_EXCLUDES))
    assert opts == BuildOptions()
    assert opts.overrides() == {}


def test_admin_and_user_excludes_are_added_to_the_defaults():
    opts = resolve_options(Partial(("torch",)), [*DEFAULT_EXCLUDES, "tensorflow"])
    assert opts.exclude == (*DEFAULT_EXCLUDES, "tensorflow", "torch")
    assert set(opts.overrides()["exclude"]) == {*DEFAULT_EXCLUDES, "tensorflow", "torch"}
    # The overrides are what the inserted cell passes: they give back the same options.
    assert BuildOptions.from_json(opts.overrides()).to_json() == opts.to_json()


def test_a_layered_layout_is_a_choice_the_cell_repeats():
    opts = resolve_options(parse_partial({"layout": "layers"}), list(DEFAULT_EXCLUDES))
    assert opts.layout == "layers"
    # The inserted cell passes only this, and the session builds the same PEX as the panel.
    assert opts.overrides() == {"layout": "layers"}
    assert parse_partial({}).layout == BuildOptions().layout


def test_the_settings_schema_offers_exactly_the_engines_layouts():
    schema = json.loads((REPO / "schema" / "plugin.json").read_text())
    layout = schema["properties"]["layout"]
    assert [o["const"] for o in layout["oneOf"]] == list(LAYOUT_VALUES)
    assert layout["default"] == BuildOptions().layout


def test_storage_protocols_and_prefixes():
    allowed = ["file", "s3", "gs://team-bucket/pexlab/"]
    check_storage_allowed("/data/pexlab", allowed)
    check_storage_allowed("s3://any/where", allowed)
    check_storage_allowed("gs://team-bucket/pexlab/x", allowed)
    for url in (
        "gs://other-bucket/x",
        "gs://team-bucket/pexlab/../other/x",
        "http://example.com/x",
        "simplecache::s3://b/x",
    ):
        with pytest.raises(RequestError, match="allowed_storage") as info:
            check_storage_allowed(url, allowed)
        assert info.value.status == 422


def test_relative_storage_is_made_absolute_under_the_server_root(tmp_path):
    default = ["file"]
    assert resolve_storage(None, "", default, str(tmp_path)) is None
    assert resolve_storage(None, "store", default, str(tmp_path)) == str(tmp_path / "store")
    assert resolve_storage(" /abs/x ", "", default, str(tmp_path)) == "/abs/x"
    assert resolve_storage("file:///abs/x", "", default, str(tmp_path)) == "file:///abs/x"
    with pytest.raises(RequestError) as info:
        resolve_storage("\x00", "", default, str(tmp_path))
    assert info.value.status == 400


# ----------------------------------------------------------------- drift against typed records


def test_a_name_put_back_by_include_counts_and_editables_compare_by_name():
    e = env(
        Distribution("numpy", "2.0.0"),
        Distribution("pyspark", "4.0.0"),
        Distribution("mylib", "0.1", editable=Editable(project_dir="/moved/mylib")),
    )
    rec = record({"numpy": "2.0.0"}, ["mylib"])
    rec.options["include"] = ["pyspark"]  # shipped: a pyspark missing from the record is drift
    d = compare(e, rec)
    assert d.added == [{"name": "pyspark", "version": "4.0.0"}]
    # The editable moved folders: it is zipped from its new place each session, not stale.
    assert d.editables_changed == []


# ----------------------------------------------------------------- cache under concurrency


def _cached_build(cache: Cache, fp: str) -> None:
    tmp = cache.new_tmp(fp)
    (tmp / "x.pex").write_bytes(b"pex")
    rec = record({}, [])
    rec.fingerprint, rec.size = fp, 3
    rec.pex_path = str(cache.entry_dir(fp) / "x.pex")
    cache.publish(fp, tmp, rec)


def test_concurrent_removes_one_wins_none_fails(tmp_path):
    cache = Cache(tmp_path)
    fp = "1" * 64
    for _ in range(5):
        _cached_build(cache, fp)
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _i: cache.remove(fp), range(8)))
        assert results.count(True) == 1
        assert results.count(False) == 7
        assert cache.get(fp) is None


def test_concurrent_upload_records_are_all_kept(tmp_path):
    cache = Cache(tmp_path)
    fp = "2" * 64
    _cached_build(cache, fp)
    places = [f"s3://bucket-{i}/pexlab" for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda d: cache.record_upload(fp, d, d + "/x.pex"), places))
    assert cache.get(fp).uploads == {d: d + "/x.pex" for d in places}


def test_is_building_sees_a_held_lock(tmp_path):
    cache = Cache(tmp_path)
    assert cache.is_building("3" * 64) is False
    with cache.lock("3" * 64):
        assert cache.is_building("3" * 64) is True
    assert cache.is_building("3" * 64) is False


# ----------------------------------------------------------------- the build subprocess


def test_build_subprocess_gets_no_pythonpath_of_the_server(tmp_path, monkeypatch):
    """The server's PYTHONPATH (here: a fake site-packages) must not reach pex, pip and the
    kernel's interpreter; the server's own pexlab is still what `-m pexlab.cli` runs."""
    leak = tmp_path / "server" / "site-packages"
    monkeypatch.setenv("PYTHONPATH", str(leak))

    env = build_env(tmp_path / "cache")
    assert str(leak) not in env.get("PYTHONPATH", "")
    assert "site-packages" not in env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-m", "pexlab.cli", "build", "--help"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--options-json" in proc.stdout


def test_config_refuses_a_malformed_master_and_names_the_setting():
    assert PexLab().master == "local[*]"
    assert PexLab(master=" spark://127.0.0.1:7077 ").master == "spark://127.0.0.1:7077"
    with pytest.raises(ValueError, match=r"PexLab\.master"):
        PexLab(master="sprak://127.0.0.1:7077")
    assert PexLab().default_excludes == list(DEFAULT_EXCLUDES)
