"""Pure parts of the server extension: drift between an environment and a build record, job
records surviving a restart."""

from __future__ import annotations

import asyncio
import json

from pexlab.cache import BuildRecord
from pexlab.environment import Distribution, Editable, Environment
from pexlab.server.drift import compare
from pexlab.server.jobs import Job, JobManager


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
    assert d.state == "stale" and d.python_changed is not None and d.python_changed.new == "3.11.9"


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
