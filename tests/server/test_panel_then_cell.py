"""A panel build followed by what the inserted cell runs is a cache hit, under NON-default server
settings (an admin's extra default exclude, a default storage folder).

Real Jupyter server, real kernel in its own venv, real `pexlab build` subprocess and real pex.
The "cell" is executed in the kernel's interpreter with exactly what the environment response
hands the frontend (`build.overrides`, `build.storage`), like the inserted setup cell; it calls
`package_environment` (what `create_spark_session` calls first) so no cluster is needed.  In the
kernel, pexlab comes from the repo (PYTHONPATH), pex from the test venv (PEXLAB_PEX), and the
artifact cache is the server's (PEXLAB_CACHE_DIR): the shared default cache of a real install.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest
from conftest import (
    REPO,
    kernel_venv_spec,
    on_server_loop,
    run_in_kernel,
    server_config,
    write_kernelspec,
)
from test_builds import post_build, wait_job
from venvs import VenvSpec

from pexlab.build.cache import Cache
from pexlab.build.options import DEFAULT_EXCLUDES

pytestmark = pytest.mark.slow

ADMIN_EXCLUDE = "pexlab-srv-lib"  # installed in the kernel: the admin's setting changes the PEX
ADMIN_MASTER = "spark://127.0.0.1:7077"  # only handed to the cells; no cluster is started


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("admin-storage")


@pytest.fixture
def jp_server_config(pexlab_cache, store):  # type: ignore[no-untyped-def]
    return server_config(
        pexlab_cache,
        default_excludes=[*DEFAULT_EXCLUDES, ADMIN_EXCLUDE],
        storage=str(store),
        master=ADMIN_MASTER,
    )


@pytest.fixture(scope="session")
def cell_venv(venv_factory):  # type: ignore[no-untyped-def]
    """The kernel venv plus fsspec (what an installed pexlab brings, for the upload)."""
    base = kernel_venv_spec()
    return venv_factory.get(
        VenvSpec(projects=base.projects, requirements=(*base.requirements, "fsspec"))
    )


CELL = """
import json
from pexlab.build.fingerprint import fingerprint
from pexlab.build.options import BuildOptions
from pexlab.package import package_environment
from pexlab.build.pex import pex_version

overrides = json.loads({overrides!r})
arts = package_environment(storage={storage!r}, options=overrides)  # as the cell passes it
# The negative control: what a cell that ignores the server's settings would ask for.
plain = fingerprint(arts.env, BuildOptions(), pex_version())
print("RESULT " + json.dumps({{
    "fingerprint": arts.fingerprint, "reused": arts.reused, "url": arts.pex.url, "plain": plain,
}}))
"""


@on_server_loop
async def test_panel_build_then_inserted_cell_is_a_cache_hit(
    jp_fetch, jp_serverapp, jp_data_dir, cell_venv, pexlab_cache, store
):
    write_kernelspec(
        jp_data_dir / "kernels",
        "pexlab-cell",
        cell_venv.python,
        env={
            "PYTHONPATH": str(REPO),
            "PEXLAB_CACHE_DIR": str(pexlab_cache),
            "PEXLAB_PEX": f"{sys.executable} -m pex",
        },
    )
    r = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "pexlab-cell"}))
    kid = json.loads(r.body)["id"]
    user_choice = {"exclude_extra": [f"not-installed-{uuid.uuid4().hex[:8]}"]}

    # The panel: build with the user's choices only (no defaults, no storage in the request).
    job = await post_build(jp_fetch, kid, user_choice)
    done = await wait_job(jp_fetch, job["id"], {"succeeded", "failed", "cancelled"})
    assert done["state"] == "succeeded", (done["error"], done["log"][-15:])
    assert done["storage"] == str(store)
    record = Cache(pexlab_cache).get(done["fingerprint"])
    assert record is not None
    assert ADMIN_EXCLUDE not in [d["name"] for d in record.distributions]
    assert set(record.options["exclude"]) >= {ADMIN_EXCLUDE, *user_choice["exclude_extra"]}

    # What the frontend inserts comes from the environment response for the same choices.
    query = json.dumps(user_choice)
    r = await jp_fetch("pexlab", "kernels", kid, "environment", params={"options": query})
    env = json.loads(r.body)
    build = env["build"]
    assert build["fingerprint"] == done["fingerprint"]
    assert env["pex"]["state"] == "up-to-date", env["pex"]
    assert build["storage"] == str(store)
    assert build["master"] == ADMIN_MASTER
    assert set(build["overrides"]["exclude"]) == {
        *DEFAULT_EXCLUDES,
        ADMIN_EXCLUDE,
        *user_choice["exclude_extra"],
    }
    assert build["options"]["exclude"] == build["overrides"]["exclude"]

    # The cell, in the kernel's own interpreter.
    out = await run_in_kernel(
        jp_serverapp,
        kid,
        CELL.format(overrides=json.dumps(build["overrides"]), storage=build["storage"]),
    )
    (line,) = [x for x in out.splitlines() if x.startswith("RESULT ")]
    cell = json.loads(line[len("RESULT ") :])
    assert cell["fingerprint"] == done["fingerprint"], "the cell would rebuild"
    assert cell["reused"] is True, "the cell ran pex although the panel had built this PEX"
    assert cell["url"]
    assert str(store) in cell["url"]
    # Negative control: without the server's resolved options the cell asks for another PEX.
    assert cell["plain"] != done["fingerprint"]
