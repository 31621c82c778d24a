"""`c.PexLab.max_concurrent_builds` bounds running builds; a queued build can be cancelled."""

from __future__ import annotations

import json

import pytest
from conftest import on_server_loop, server_config
from test_builds import get_job, group_alive, post_build, unique_options, wait_job, wait_running_pex

pytestmark = pytest.mark.slow


@pytest.fixture
def jp_server_config(pexlab_cache):  # type: ignore[no-untyped-def]
    return server_config(pexlab_cache, max_concurrent_builds=1)


@on_server_loop
async def test_second_build_waits_for_a_slot_and_can_be_cancelled_while_queued(
    jp_fetch, start_kernel
):
    kid = await start_kernel()
    first = await post_build(jp_fetch, kid, unique_options())
    running = await wait_running_pex(jp_fetch, first["id"])
    second = await post_build(jp_fetch, kid, unique_options())
    assert second["id"] != first["id"]
    assert (await get_job(jp_fetch, second["id"]))["state"] == "queued"

    r = await jp_fetch("pexlab", "builds", second["id"], method="DELETE")
    assert json.loads(r.body)["state"] == "cancelled"
    r = await jp_fetch("pexlab", "builds", first["id"], method="DELETE")
    assert json.loads(r.body)["state"] == "cancelled"
    assert not group_alive(running["pid"])
    # The slot is free again: a new build runs to the end.
    third = await post_build(jp_fetch, kid, unique_options())
    assert (await wait_job(jp_fetch, third["id"], {"succeeded", "failed", "cancelled"}))[
        "state"
    ] == "succeeded"
