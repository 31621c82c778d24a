"""What the environment and artifact answers tell the panel, against a real server and kernels:
settings the engine refuses come back as errors next to the setting, excluded packages with
their reason, editable zips made anywhere with current/stale marks, and a build's job is only
ever the one for exactly these artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import on_server_loop, write_kernelspec
from test_builds import post_build, unique_options, wait_job
from venvs import Project, VenvSpec, setuptools_project

from pexlab.build.cache import Cache
from pexlab.build.editables import zip_editable
from pexlab.server.resolve import BY_USER

pytestmark = pytest.mark.slow


async def environment(jp_fetch, kid: str, **params) -> dict:  # type: ignore[no-untyped-def]
    if "options" in params:
        params["options"] = json.dumps(params["options"])
    r = await jp_fetch("pexlab", "kernels", kid, "environment", params=params or None)
    assert r.code == 200
    return json.loads(r.body)


@on_server_loop
async def test_settings_the_engine_refuses_are_reported_next_to_the_setting(
    jp_fetch, start_kernel, tmp_path
):
    kid = await start_kernel()
    build = (await environment(jp_fetch, kid))["build"]
    assert build["errors"] == {}
    assert (build["master"], build["master_kind"]) == ("local[*]", "local")

    build = (await environment(jp_fetch, kid, master="sprak://x:7077"))["build"]
    assert build["master"] == "sprak://x:7077"
    assert build["master_kind"] is None
    assert "Did you mean spark://x:7077" in build["errors"]["master"]
    assert "storage" not in build["errors"]
    build = (await environment(jp_fetch, kid, master=" spark://x:7077 "))["build"]
    assert (build["master"], build["master_kind"], build["errors"]) == (
        "spark://x:7077",
        "standalone",
        {},
    )

    # Refused by c.PexLab.allowed_storage: the value as given, and why (not a 422 for the panel).
    build = (await environment(jp_fetch, kid, storage="ftp://host/dir"))["build"]
    assert build["storage"] == "ftp://host/dir"
    assert "not allowed on this server" in build["errors"]["storage"]

    # Allowed, but uploads could not go there; the read-only check creates nothing.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    build = (await environment(jp_fetch, kid, storage=str(blocker / "sub")))["build"]
    assert "not a folder" in build["errors"]["storage"]
    fresh = tmp_path / "new" / "store"
    build = (await environment(jp_fetch, kid, storage=str(fresh)))["build"]
    assert build["errors"] == {}
    assert build["storage"] == str(fresh)
    assert not (tmp_path / "new").exists()


@on_server_loop
async def test_excluded_packages_come_with_their_reason(jp_fetch, start_kernel):
    kid = await start_kernel()
    env = await environment(jp_fetch, kid)
    assert env["excluded"] == []  # the kernel venv has no pyspark or py4j
    env = await environment(jp_fetch, kid, options={"exclude_extra": ["Pexlab_Srv_Lib"]})
    assert env["excluded"] == [{"name": "pexlab-srv-lib", "version": "1.2.3", "reason": BY_USER}]


@on_server_loop
async def test_zips_made_anywhere_are_listed_and_a_job_is_only_its_own_artifacts(
    jp_fetch, start_kernel, jp_data_dir, venv_factory, pexlab_cache, tmp_path
):
    project = setuptools_project(tmp_path, "pexlab-truth-edit", "truthedit", version="0.1.0")
    venv = venv_factory.get(
        VenvSpec(projects=(Project(project, editable=True),), requirements=("ipykernel",)),
        fresh=True,
    )
    write_kernelspec(jp_data_dir / "kernels", "pexlab-truth", venv.python)
    kid = await start_kernel("pexlab-truth")
    env = await environment(jp_fetch, kid)
    first_zip = next(d["zip"] for d in env["distributions"] if d["name"] == "pexlab-truth-edit")

    # A zip made outside the server (as a kernel's create_spark_session does): listed, current.
    cache = Cache(pexlab_cache)
    dist = cache.inspector.inspect(str(venv.python))[0].get("pexlab-truth-edit")
    assert dist is not None
    made = zip_editable(dist, cache.editables_dir)
    assert made.name == first_zip

    async def zips() -> dict[str, dict]:
        r = await jp_fetch("pexlab", "artifacts", params={"kernel_id": kid})
        return {z["name"]: z for z in json.loads(r.body)["editables"]}

    listed = (await zips())[first_zip]
    assert (listed["current"], listed["stale"], listed["project"]) == (
        True,
        False,
        "pexlab-truth-edit",
    )

    # A failed build belongs to the artifacts it failed for.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    bad = str(blocker / "sub")
    options = unique_options()
    job = await post_build(jp_fetch, kid, options, storage=bad)
    failed = await wait_job(jp_fetch, job["id"], {"succeeded", "failed", "cancelled"})
    assert failed["state"] == "failed", failed
    same = await environment(jp_fetch, kid, options=options, storage=bad)
    assert same["build"]["job"]["id"] == job["id"]
    assert same["build"]["job"]["state"] == "failed"
    other = await environment(jp_fetch, kid, options=unique_options(), storage=bad)
    assert other["build"]["job"] is None
    assert (await environment(jp_fetch, kid, options=options))["build"]["job"] is None

    # A succeeded build, then the editable code changes: the old "Done" is not the answer.
    good = unique_options()
    done = await post_build(jp_fetch, kid, good)
    assert done["created"] is True
    done = await wait_job(jp_fetch, done["id"], {"succeeded", "failed", "cancelled"})
    assert done["state"] == "succeeded", done
    again = await post_build(jp_fetch, kid, good)
    assert (again["id"], again["created"]) == (done["id"], False)
    assert (await environment(jp_fetch, kid, options=good))["build"]["job"]["id"] == done["id"]

    (Path(project) / "src" / "truthedit" / "__init__.py").write_text("VERSION = 'edited'\n")
    env = await environment(jp_fetch, kid, options=good)
    assert env["build"]["job"] is None
    new_zip = next(d["zip"] for d in env["distributions"] if d["name"] == "pexlab-truth-edit")
    assert new_zip != first_zip
    listed = (await zips())[first_zip]
    assert (listed["current"], listed["stale"]) == (False, True)
    assert new_zip not in await zips()  # not zipped yet
    retry = await post_build(jp_fetch, kid, good)
    assert retry["created"] is True
    assert retry["id"] != done["id"]
    # After a failure, the same request is a new job, never the failed one.
    again = await post_build(jp_fetch, kid, options, storage=bad)
    assert (again["created"], again["id"] != job["id"]) == (True, True)
    await wait_job(jp_fetch, retry["id"], {"succeeded", "failed", "cancelled"})
    await wait_job(jp_fetch, again["id"], {"succeeded", "failed", "cancelled"})
    listed = await zips()
    assert listed[new_zip]["current"] is True
    assert listed[first_zip]["stale"] is True
