"""What the panel polls and shows: the environment's `build` and `pexlab` objects, the cheap change
stamp (a terminal `pip install` changes it without a new inspection), and the artifact listing
that follows builds made anywhere, with the current one marked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from conftest import on_server_loop, write_kernelspec
from venvs import setuptools_project

pytestmark = pytest.mark.slow


async def get_json(jp_fetch, *parts, **params):  # type: ignore[no-untyped-def]
    r = await jp_fetch(*parts, params=params or None)
    return json.loads(r.body)


@on_server_loop
async def test_stamp_turns_on_terminal_install_and_pexlab_is_reported(
    jp_fetch, start_kernel, jp_data_dir, venv_factory, kernel_venv, tmp_path
):
    venv = venv_factory.get(kernel_venv.spec, fresh=True)  # this test changes the venv
    write_kernelspec(jp_data_dir / "kernels", "pexlab-stamp", venv.python)
    kid = await start_kernel("pexlab-stamp")

    env = await get_json(jp_fetch, "pexlab", "kernels", kid, "environment")
    assert env["pexlab"] == {"installed": False, "version": None}
    # Default settings: nothing for the inserted cell to override, nowhere to upload.
    assert env["build"]["overrides"] == {}
    assert env["build"]["storage"] is None
    assert env["build"]["master"] == "local[*]"
    assert env["build"]["include_editable"] is True
    first = await get_json(jp_fetch, "pexlab", "kernels", kid, "stamp")
    assert first["stamp"] == env["stamp"]
    assert first["python"] == str(venv.python)
    again = await get_json(jp_fetch, "pexlab", "kernels", kid, "stamp")
    assert again["stamp"] == first["stamp"]

    # A terminal install (not through the kernel, not through the server).
    fake = setuptools_project(tmp_path, "pexlab", "pexlab_stand_in", version="9.9.9")
    venv.pip("install", str(fake))
    after = await get_json(jp_fetch, "pexlab", "kernels", kid, "stamp")
    assert after["stamp"] != first["stamp"]

    env = await get_json(jp_fetch, "pexlab", "kernels", kid, "environment")
    assert env["pexlab"] == {"installed": True, "version": "9.9.9"}
    assert env["stamp"] == after["stamp"]


@on_server_loop
async def test_artifacts_follow_a_cli_build_and_mark_the_current_one(
    jp_fetch, start_kernel, kernel_venv, pexlab_cache
):
    kid = await start_kernel()
    choice = {"exclude_extra": [f"not-installed-{uuid.uuid4().hex[:8]}"]}
    env = await get_json(
        jp_fetch, "pexlab", "kernels", kid, "environment", options=json.dumps(choice)
    )
    fp = env["build"]["fingerprint"]
    assert env["pex"]["state"] in {"missing", "stale"}
    listing = await get_json(jp_fetch, "pexlab", "artifacts", kernel_id=kid)
    assert fp not in [a["fingerprint"] for a in listing["artifacts"]]

    # A build made outside the server: the CLI in a terminal, same cache, same options.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pexlab.cli",
            "build",
            "--python",
            str(kernel_venv.python),
            "--cache-dir",
            str(pexlab_cache),
            "--options-json",
            json.dumps(env["build"]["options"]),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["fingerprint"] == fp

    listing = await get_json(jp_fetch, "pexlab", "artifacts", kernel_id=kid)
    marked = {a["fingerprint"]: a["current"] for a in listing["artifacts"]}
    assert marked[fp] is True
    assert sum(marked.values()) == 1
    # Without a kernel or fingerprint nothing is marked; with a fingerprint, that one is.
    listing = await get_json(jp_fetch, "pexlab", "artifacts")
    assert not any(a["current"] for a in listing["artifacts"])
    listing = await get_json(jp_fetch, "pexlab", "artifacts", fingerprint=fp)
    assert [a["fingerprint"] for a in listing["artifacts"] if a["current"]] == [fp]
    env = await get_json(
        jp_fetch, "pexlab", "kernels", kid, "environment", options=json.dumps(choice)
    )
    assert env["pex"]["state"] == "up-to-date"
    assert env["pex"]["fingerprint"] == fp
