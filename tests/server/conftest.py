"""Fixtures for the server extension: a real Jupyter server (pytest-jupyter) with pexlab enabled,
and real kernels whose interpreter lives in a separate virtualenv."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from venvs import Project, Venv, VenvFactory, VenvSpec, setuptools_project  # noqa: E402

# pytest_jupyter.jupyter_server and `venv_factory` come from the top-level tests/conftest.py.


def on_server_loop(fn):  # type: ignore[no-untyped-def]
    """Run an async test on pytest-jupyter's loop (the one the server lives on).

    The project runs pytest-asyncio in auto mode, which would run `async def` tests on its own
    loop, where the in-process server never answers. Wrapping the test in a sync function that
    drives `jp_asyncio_loop` keeps both plugins happy.
    """
    sig = inspect.signature(fn)
    wants_loop = "jp_asyncio_loop" in sig.parameters

    @functools.wraps(fn)
    def wrapper(*args, jp_asyncio_loop, **kwargs):  # type: ignore[no-untyped-def]
        if wants_loop:
            kwargs["jp_asyncio_loop"] = jp_asyncio_loop
        return jp_asyncio_loop.run_until_complete(fn(*args, **kwargs))

    params = list(sig.parameters.values())
    if not wants_loop:
        params.append(inspect.Parameter("jp_asyncio_loop", inspect.Parameter.KEYWORD_ONLY))
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    return wrapper


# Stable folder for the projects: an editable install points at its project folder, and the
# cached venv outlives a single test session.
PROJECTS = REPO / ".cache" / "server-test-projects"
KERNEL_NAME = "pexlab-venv"


def kernel_venv_spec() -> VenvSpec:
    lib = setuptools_project(PROJECTS, "pexlab-srv-lib", "srvlib", version="1.2.3")
    edit = setuptools_project(PROJECTS, "pexlab-srv-edit", "srvedit", version="0.4.0")
    return VenvSpec(
        projects=(Project(lib), Project(edit, editable=True)),
        requirements=("ipykernel",),
    )


@pytest.fixture(scope="session")
def kernel_venv(venv_factory: VenvFactory) -> Venv:
    """Shared, never mutated: ipykernel + srvlib (normal) + srvedit (editable)."""
    return venv_factory.get(kernel_venv_spec())


@pytest.fixture(scope="session")
def pexlab_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the session, so a PEX built by one test is reused by the next."""
    return tmp_path_factory.mktemp("pexlab-cache")


def write_kernelspec(
    kernels_dir: Path, name: str, python: Path, env: dict[str, str] | None = None
) -> None:
    spec = kernels_dir / name
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                # argv[0] is the venv's python: a plain "python" would be rewritten by
                # jupyter_client to the server's own interpreter.
                "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": f"pexlab test ({name})",
                "language": "python",
                **({"env": env} if env else {}),
            }
        )
    )


async def run_in_kernel(serverapp, kernel_id: str, code: str, timeout: float = 600) -> str:  # type: ignore[no-untyped-def]
    """Execute `code` in a running kernel like a notebook cell; its stdout, or AssertionError
    with the traceback if the cell raised."""
    client = serverapp.kernel_manager.get_kernel(kernel_id).client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        msg_id = client.execute(code)
        out: list[str] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            msg = await client.get_iopub_msg(timeout=max(1.0, deadline - loop.time()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content["name"] == "stdout":
                out.append(content["text"])
            elif kind == "error":
                raise AssertionError("\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(out)
    finally:
        client.stop_channels()


@pytest.fixture
def jp_server_config(pexlab_cache: Path) -> dict:
    return server_config(pexlab_cache)


def server_config(pexlab_cache: Path, **pexlab: object) -> dict:
    """A server with pexlab enabled and authentication on; `pexlab` overrides `c.PexLab.*`
    (a test module redefines `jp_server_config` with it)."""
    return {
        "ServerApp": {
            "jpserver_extensions": {"pexlab": True},
            "allow_unauthenticated_access": False,
        },
        "PexLab": {"cache_dir": str(pexlab_cache), "max_concurrent_builds": 2, **pexlab},
    }


@pytest.fixture
def kernelspecs(jp_data_dir: Path, kernel_venv: Venv) -> Path:
    kernels = jp_data_dir / "kernels"
    write_kernelspec(kernels, KERNEL_NAME, kernel_venv.python)
    return kernels


@pytest.fixture
def start_kernel(jp_fetch, kernelspecs):  # type: ignore[no-untyped-def]
    started: list[str] = []

    async def start(name: str = KERNEL_NAME) -> str:
        r = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": name}))
        kid = json.loads(r.body)["id"]
        started.append(kid)
        return kid

    # pytest-jupyter shuts kernels down with the server; nothing else to do here.
    return start


async def wait_for(predicate, timeout: float = 300, interval: float = 0.5):  # type: ignore[no-untyped-def]
    """Poll an async predicate until it returns a truthy value (a hang guard, not a timing test)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
