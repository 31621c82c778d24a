"""Build jobs against the real `pexlab build` CLI: a fingerprint the server did not expect fails
the job; stopping the extension (Jupyter Server's stop hook) stops running builds."""

from __future__ import annotations

import asyncio

import pytest
from conftest import on_server_loop
from test_builds import get_job, group_alive, post_build, unique_options, wait_running_pex

from pexlab.build.options import BuildOptions
from pexlab.server.job import ACTIVE
from pexlab.server.jobs import JobManager

pytestmark = pytest.mark.slow


def test_a_fingerprint_other_than_the_servers_fails_the_job(tmp_path, kernel_venv, pexlab_cache):
    async def run() -> dict:
        manager = JobManager(jobs_dir=tmp_path / "jobs", cache_dir=pexlab_cache)
        job = manager.submit(
            "k", str(kernel_venv.python), "0" * 64, None, BuildOptions().to_json(), False
        )
        while job.state in ACTIVE:
            await asyncio.sleep(0.2)
        return job.to_json()

    job = asyncio.run(run())
    assert job["state"] == "failed", job
    assert "expected " + "0" * 64 in job["error"]
    assert job["artifacts"]["fingerprint"] != "0" * 64  # the CLI did build (or reuse) a PEX


@on_server_loop
async def test_stopping_the_extension_stops_running_builds(jp_fetch, jp_serverapp, start_kernel):
    kid = await start_kernel()
    job = await post_build(jp_fetch, kid, unique_options())
    running = await wait_running_pex(jp_fetch, job["id"])
    assert group_alive(running["pid"])
    # What Jupyter Server runs at shutdown (ServerApp.cleanup_extensions).
    await jp_serverapp.extension_manager.stop_all_extensions()
    assert not group_alive(running["pid"]), "a build outlived the server extension"
    assert (await get_job(jp_fetch, job["id"]))["state"] == "interrupted"
