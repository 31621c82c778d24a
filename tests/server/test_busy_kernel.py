"""A kernel busy running a cell cannot say which interpreter it runs: 409, not a hang."""

from __future__ import annotations

import json

import pytest
from conftest import on_server_loop, server_config
from tornado.httpclient import HTTPClientError


@pytest.fixture
def jp_server_config(pexlab_cache):  # type: ignore[no-untyped-def]
    return server_config(pexlab_cache, kernel_query_timeout=2)


@on_server_loop
async def test_busy_kernel_gives_409_then_answers_when_idle(
    jp_fetch, jp_serverapp, start_kernel, kernel_venv
):
    kid = await start_kernel()
    client = jp_serverapp.kernel_manager.get_kernel(kid).client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        busy = client.execute("import time; time.sleep(6)")
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("pexlab", "kernels", kid, "environment")
        assert info.value.code == 409
        assert "did not answer" in json.loads(info.value.response.body)["message"]
        # Once the cell is done the queued question is answered and the next request works.
        while True:
            msg = await client.get_iopub_msg(timeout=30)
            if (
                msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
                and msg["parent_header"].get("msg_id") == busy
            ):
                break
        r = await jp_fetch("pexlab", "kernels", kid, "environment")
        assert json.loads(r.body)["python"] == str(kernel_venv.python)
    finally:
        client.stop_channels()
