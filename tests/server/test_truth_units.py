"""Pure parts of what the panel is told: why a package is not shipped, which job is the answer to
a request (never a failure or a success for other artifacts), which editable zips are current,
and the read-only storage check."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from test_units import env

from pexlab.build.cache import Cache
from pexlab.build.editables import current_zip_name, parse_zip_name, zip_editable
from pexlab.build.options import DEFAULT_EXCLUDES, PROVIDED_BY_CLUSTER
from pexlab.environment.interpreter import Distribution, Editable
from pexlab.server.job import Job
from pexlab.server.jobs import JobManager
from pexlab.server.resolve import BY_SERVER, BY_USER, Partial, excluded, resolve_options
from pexlab.storage.base import StorageError
from pexlab.storage.upload import preflight


def test_excluded_names_each_source_of_the_exclusion():
    e = env(
        Distribution("pyspark", "3.5.1"),
        Distribution("py4j", "0.10.9.7"),
        Distribution("pandas", "2.2.0"),
        Distribution("ipykernel", "6.29.0"),
        Distribution("numpy", "1.26.0"),
    )
    server = [*DEFAULT_EXCLUDES, "ipykernel"]
    options = resolve_options(Partial(exclude_extra=("Pandas", "not-installed")), server)
    got = {d["name"]: d["reason"] for d in excluded(e, options, server)}
    assert got == {
        "pyspark": PROVIDED_BY_CLUSTER,
        "py4j": PROVIDED_BY_CLUSTER,
        "ipykernel": BY_SERVER,
        "pandas": BY_USER,
    }
    # The server's default list without pyspark: the user's own exclusion says so.
    options = resolve_options(Partial(exclude_extra=("pyspark",)), ["py4j"])
    assert excluded(e, options, ["py4j"]) == [
        {"name": "py4j", "version": "0.10.9.7", "reason": PROVIDED_BY_CLUSTER},
        {"name": "pyspark", "version": "3.5.1", "reason": BY_USER},
    ]


def _job(state: str, fp: str = "a" * 64, editables: list[str] | None = None, **kw) -> Job:  # type: ignore[no-untyped-def]
    job = Job(
        id=os.urandom(16).hex(),
        kernel_id="k",
        python="/p",
        fingerprint=fp,
        storage=kw.pop("storage", None),
        options={},
        editables=[] if editables is None else editables,
        state=state,
        **kw,
    )
    return job


def _manager(tmp_path: Path, *jobs: Job) -> JobManager:
    async def make() -> JobManager:
        return JobManager(jobs_dir=tmp_path / "jobs", cache_dir=tmp_path)

    manager = asyncio.run(make())
    for i, job in enumerate(jobs):
        job.created_at = f"2024-01-01T00:00:{i:02d}+00:00"
        manager.jobs[job.id] = job
    return manager


def test_a_failure_is_shown_only_for_the_artifacts_it_failed_for(tmp_path):
    failed = _job("failed", editables=["x-111111111111.zip"], storage="/s", error="boom")
    manager = _manager(tmp_path, failed)
    key = ("a" * 64, "/s", True, ["x-111111111111.zip"])
    assert manager.latest(*key) is failed
    # A new request for the same artifacts builds again: a failure is never its answer.
    assert manager.find_same(*key[:3], lambda _fp: True, editables=key[3]) is None
    # Another environment (fingerprint), storage, editable code or zip choice: not this job.
    assert manager.latest("b" * 64, "/s", True, key[3]) is None
    assert manager.latest("a" * 64, None, True, key[3]) is None
    assert manager.latest("a" * 64, "/s", True, ["x-222222222222.zip"]) is None
    assert manager.latest("a" * 64, "/s", False, key[3]) is None


def test_a_success_with_other_editable_code_is_not_the_answer(tmp_path):
    done = _job("succeeded", editables=["x-111111111111.zip"], artifacts={"fingerprint": "a"})
    old = _job("succeeded", editables=None, artifacts={"fingerprint": "a"})  # older record
    manager = _manager(tmp_path, old, done)
    ok = lambda _fp: True  # noqa: E731
    assert manager.find_same("a" * 64, None, True, ok, editables=["x-111111111111.zip"]) is done
    assert manager.find_same("a" * 64, None, True, ok, editables=["x-222222222222.zip"]) is None
    assert manager.latest("a" * 64, None, True, ["x-222222222222.zip"]) is None
    # The PEX was deleted from the cache: the old success is not a result either.
    assert (
        manager.find_same("a" * 64, None, True, lambda _fp: False, ["x-111111111111.zip"]) is None
    )


def test_newest_job_of_a_key_wins(tmp_path):
    failed = _job("failed")
    retry = _job("running")
    manager = _manager(tmp_path, failed, retry)
    assert manager.latest("a" * 64, None, True, []) is retry


def _editable(tmp_path: Path) -> Distribution:
    src = tmp_path / "proj"
    (src / "mod_x").mkdir(parents=True)
    (src / "mod_x" / "__init__.py").write_text("X = 1\n")
    return Distribution(
        "mod-x",
        "0.1",
        editable=Editable(project_dir=str(src), source_roots=(str(src),), top_level=("mod_x",)),
    )


def test_cached_editable_zips_are_listed_and_current_names_follow_the_code(tmp_path):
    dist = _editable(tmp_path)
    cache = Cache(tmp_path / "cache")
    assert cache.editable_zips() == []
    made = zip_editable(dist, cache.editables_dir)  # as a kernel, the CLI or the panel would
    assert current_zip_name(dist) == made.name
    assert parse_zip_name(made.name) == ("mod_x", made.name[-16:-4])
    assert parse_zip_name("not-a-zip.txt") is None
    (cache.editables_dir / f".{made.name}.123.tmp").write_bytes(b"")  # being written
    assert cache.editable_zips() == [made]

    (Path(dist.editable.project_dir) / "mod_x" / "__init__.py").write_text("X = 2\n")  # type: ignore[union-attr]
    assert current_zip_name(dist) != made.name
    assert not (cache.editables_dir / current_zip_name(dist)).exists()  # nothing written


def test_storage_check_without_creating_anything(tmp_path):
    new = tmp_path / "new" / "deep"
    preflight(str(new), create=False)
    assert not (tmp_path / "new").exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(StorageError, match="not a folder"):
        preflight(str(blocker / "sub"), create=False)
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(StorageError, match="No permission"):
            preflight(str(locked / "sub"), create=False)
