"""Build jobs through the REST API with real kernels, the real `pexlab build` CLI and real pex."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from pathlib import Path

import pytest
from conftest import on_server_loop, wait_for, write_kernelspec
from live import group_alive
from tornado.httpclient import HTTPClientError
from venvs import setuptools_project

from pexlab.build.cache import Cache
from pexlab.server import EVENT_SCHEMA_ID

pytestmark = pytest.mark.slow


def unique_options() -> dict:
    # A name that is not installed changes the fingerprint (options are part of it) but not the
    # PEX contents: each test gets its own build instead of a cache hit from another test.
    return {"exclude_extra": [f"not-installed-{uuid.uuid4().hex[:8]}"]}


async def post_build(
    jp_fetch, kernel_id: str, options: dict | None = None, storage: str | None = None
) -> dict:  # type: ignore[no-untyped-def]
    body: dict = {"kernel_id": kernel_id}
    if options is not None:
        body["options"] = options
    if storage is not None:
        body["storage"] = storage
    r = await jp_fetch("pexlab", "builds", method="POST", body=json.dumps(body))
    assert r.code == 202
    return json.loads(r.body)


async def get_job(jp_fetch, job_id: str) -> dict:  # type: ignore[no-untyped-def]
    return json.loads((await jp_fetch("pexlab", "builds", job_id)).body)


async def wait_job(jp_fetch, job_id: str, states: set[str], timeout: float = 300) -> dict:  # type: ignore[no-untyped-def]
    async def done():  # type: ignore[no-untyped-def]
        job = await get_job(jp_fetch, job_id)
        return job if job["state"] in states else None

    return await wait_for(done, timeout=timeout, interval=0.2)


async def wait_running_pex(jp_fetch, job_id: str) -> dict:  # type: ignore[no-untyped-def]
    """Until the job is in its build phase with a live process (pex is running)."""

    async def building():  # type: ignore[no-untyped-def]
        job = await get_job(jp_fetch, job_id)
        assert job["state"] in {"queued", "running"}, job
        return job if job["phase"] == "build" and job["pid"] else None

    return await wait_for(building, timeout=120, interval=0.05)


@on_server_loop
async def test_eight_simultaneous_posts_start_one_build_with_artifacts(
    jp_fetch, jp_serverapp, start_kernel, kernel_venv, pexlab_cache
):
    events: list[dict] = []

    async def listener(logger, schema_id, data):  # type: ignore[no-untyped-def]
        events.append(dict(data))

    jp_serverapp.event_logger.add_listener(schema_id=EVENT_SCHEMA_ID, listener=listener)
    kid = await start_kernel()
    options = unique_options()
    jobs = await asyncio.gather(*(post_build(jp_fetch, kid, options) for _ in range(8)))
    assert len({j["id"] for j in jobs}) == 1
    assert sum(j["created"] for j in jobs) == 1
    listed = json.loads((await jp_fetch("pexlab", "builds")).body)["builds"]
    assert [b["id"] for b in listed if b["fingerprint"] == jobs[0]["fingerprint"]] == [
        jobs[0]["id"]
    ]

    job = await wait_job(jp_fetch, jobs[0]["id"], {"succeeded", "failed", "cancelled"})
    assert job["state"] == "succeeded", job
    assert job["progress"] == 1.0
    assert job["log"], "the log tail is empty"
    arts = job["artifacts"]
    assert arts["fingerprint"] == job["fingerprint"], "server and CLI disagree on the fingerprint"
    assert arts["python"] == str(kernel_venv.python)
    pex = Path(arts["pex"]["local_path"])
    assert pex.is_file()
    assert pex.stat().st_size == arts["pex"]["size"]
    assert Path(pexlab_cache) in pex.parents
    (edit,) = arts["editables"]  # the editable project travels as its own zip
    assert edit["kind"] == "editable"
    assert "srv" in edit["name"]
    assert "edit" in edit["name"]
    assert Path(edit["local_path"]).is_file()

    # The artifact is listed, and the kernel's environment now reports its PEX up to date.
    listing = json.loads((await jp_fetch("pexlab", "artifacts")).body)
    assert job["fingerprint"] in [a["fingerprint"] for a in listing["artifacts"]]
    # The state is that of the artifact for the options asked about (the same choices).
    r = await jp_fetch(
        "pexlab", "kernels", kid, "environment", params={"options": json.dumps(options)}
    )
    env = json.loads(r.body)
    assert env["pex"]["state"] == "up-to-date", env["pex"]
    assert env["pex"]["fingerprint"] == job["fingerprint"] == env["build"]["fingerprint"]
    # Other choices name another artifact: not built yet, though the packages are the same.
    other = json.loads((await jp_fetch("pexlab", "kernels", kid, "environment")).body)
    assert other["build"]["fingerprint"] != job["fingerprint"]
    assert other["pex"]["state"] in {"stale", "up-to-date"}

    # Asking again for the same artifact returns the finished job, no new build.
    again = await post_build(jp_fetch, kid, options)
    assert again["id"] == job["id"]
    assert again["created"] is False

    await asyncio.sleep(0)  # let event listeners run
    states = [e["state"] for e in events if e["id"] == job["id"]]
    assert states[0] == "queued", states
    assert "running" in states, states
    assert states[-1] == "succeeded", states


@on_server_loop
async def test_cancel_stops_the_process_tree_and_leaves_nothing(
    jp_fetch, start_kernel, pexlab_cache
):
    kid = await start_kernel()
    job = await post_build(jp_fetch, kid, unique_options())
    running = await wait_running_pex(jp_fetch, job["id"])
    pgid = running["pid"]
    assert group_alive(pgid)

    r = await jp_fetch("pexlab", "builds", job["id"], method="DELETE")
    cancelled = json.loads(r.body)
    assert cancelled["state"] == "cancelled", cancelled
    assert not group_alive(pgid), "a process of the cancelled build is still running"
    cache = Cache(pexlab_cache)
    assert cache.get(job["fingerprint"]) is None
    assert not (cache.builds_dir / job["fingerprint"]).exists()
    assert not list(cache.tmp_dir.glob(job["fingerprint"] + ".*")), "half-written build left behind"
    # Cancelling again is harmless and says the same.
    again = json.loads((await jp_fetch("pexlab", "builds", job["id"], method="DELETE")).body)
    assert again["state"] == "cancelled"


@on_server_loop
async def test_sigkilled_build_fails_cleanly_and_next_build_succeeds(
    jp_fetch, start_kernel, pexlab_cache
):
    cache = Cache(pexlab_cache)
    before = {r.fingerprint: r.sha256 for r in cache.list()}
    kid = await start_kernel()
    options = unique_options()
    job = await post_build(jp_fetch, kid, options)
    running = await wait_running_pex(jp_fetch, job["id"])
    os.kill(running["pid"], signal.SIGKILL)

    failed = await wait_job(jp_fetch, job["id"], {"succeeded", "failed", "cancelled"})
    assert failed["state"] == "failed"
    assert "SIGKILL" in failed["error"]
    # Nothing that was in the cache is damaged, nothing half-built is visible.
    for fp, sha in before.items():
        record = cache.get(fp, verify=True)
        assert record is not None
        assert record.sha256 == sha
    assert cache.get(job["fingerprint"]) is None

    retry = await post_build(jp_fetch, kid, options)
    assert retry["id"] != job["id"]
    assert retry["created"] is True
    done = await wait_job(jp_fetch, retry["id"], {"succeeded", "failed", "cancelled"})
    assert done["state"] == "succeeded", done
    assert cache.get(job["fingerprint"], verify=True) is not None


@on_server_loop
async def test_environment_turns_stale_after_pip_install(
    jp_fetch, start_kernel, jp_data_dir, venv_factory, kernel_venv, tmp_path
):
    venv = venv_factory.get(kernel_venv.spec, fresh=True)  # this test changes the venv
    write_kernelspec(jp_data_dir / "kernels", "pexlab-fresh", venv.python)
    kid = await start_kernel("pexlab-fresh")
    env = json.loads((await jp_fetch("pexlab", "kernels", kid, "environment")).body)
    assert env["python"] == str(venv.python)
    assert env["pex"]["state"] == "missing"

    job = await post_build(jp_fetch, kid)
    done = await wait_job(jp_fetch, job["id"], {"succeeded", "failed", "cancelled"})
    assert done["state"] == "succeeded", done
    env = json.loads((await jp_fetch("pexlab", "kernels", kid, "environment")).body)
    assert env["pex"]["state"] == "up-to-date"

    extra = setuptools_project(tmp_path, "pexlab-srv-extra", "srvextra", version="2.0.0")
    venv.pip("install", str(extra))
    env = json.loads((await jp_fetch("pexlab", "kernels", kid, "environment")).body)
    pex = env["pex"]
    assert pex["state"] == "stale"
    assert pex["added"] == [{"name": "pexlab-srv-extra", "version": "2.0.0"}]
    assert pex["removed"] == []
    assert pex["changed"] == []
    assert pex["fingerprint"] == done["fingerprint"]


@on_server_loop
async def test_delete_artifact(jp_fetch, start_kernel, pexlab_cache):
    kid = await start_kernel()
    options = unique_options()
    job = await post_build(jp_fetch, kid, options)
    done = await wait_job(jp_fetch, job["id"], {"succeeded", "failed", "cancelled"})
    assert done["state"] == "succeeded", done
    fp = done["fingerprint"]
    r = await jp_fetch("pexlab", "artifacts", fp, method="DELETE")
    assert r.code == 204
    assert Cache(pexlab_cache).get(fp) is None
    listing = json.loads((await jp_fetch("pexlab", "artifacts")).body)
    assert fp not in [a["fingerprint"] for a in listing["artifacts"]]
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("pexlab", "artifacts", fp, method="DELETE")
    assert info.value.code == 404
    # The finished job no longer stands for the artifact: asking again builds again.
    again = await post_build(jp_fetch, kid, options)
    assert again["created"] is True
    await wait_job(jp_fetch, again["id"], {"succeeded", "failed", "cancelled"})


@on_server_loop
async def test_build_with_storage_uploads_and_lists_the_location(jp_fetch, start_kernel, tmp_path):
    store = tmp_path / "shared-storage"  # a local folder is a real fsspec destination
    kid = await start_kernel()
    job = await post_build(jp_fetch, kid, unique_options(), storage=str(store))
    done = await wait_job(jp_fetch, job["id"], {"succeeded", "failed", "cancelled"})
    assert done["state"] == "succeeded", (done["error"], done["log"][-10:])
    assert done["storage"] == str(store)
    url = done["artifacts"]["pex"]["url"]
    assert url
    assert url.endswith(".pex")
    uploaded = [p for p in store.rglob("*.pex")]
    assert len(uploaded) == 1
    assert uploaded[0].stat().st_size == done["artifacts"]["pex"]["size"]
    listing = json.loads((await jp_fetch("pexlab", "artifacts")).body)
    (record,) = [a for a in listing["artifacts"] if a["fingerprint"] == done["fingerprint"]]
    assert record["uploads"], record
    assert url in record["uploads"].values()


@on_server_loop
async def test_include_editable_false_ships_no_zip_and_is_its_own_job(jp_fetch, start_kernel):
    kid = await start_kernel()
    without = await post_build(jp_fetch, kid, {"include_editable": False})
    done = await wait_job(jp_fetch, without["id"], {"succeeded", "failed", "cancelled"})
    assert done["state"] == "succeeded", (done["error"], done["log"][-10:])
    assert done["include_editable"] is False
    assert done["artifacts"]["editables"] == []
    # Same PEX (editables never change the fingerprint), but the job that zipped nothing does
    # not stand for a request that wants the zips.
    with_zips = await post_build(jp_fetch, kid, {"include_editable": True})
    assert with_zips["fingerprint"] == done["fingerprint"]
    assert with_zips["id"] != done["id"]
    assert with_zips["created"] is True
    finished = await wait_job(jp_fetch, with_zips["id"], {"succeeded", "failed", "cancelled"})
    assert finished["state"] == "succeeded", finished["error"]
    assert len(finished["artifacts"]["editables"]) == 1
    assert finished["artifacts"]["reused"] is True  # no second pex run for the same PEX
