"""The Galata run picks a free port at run time (ui-tests/ui-env.js), so `make test` passes while
the user has JupyterLab on 8888."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

UI_TESTS = Path(__file__).resolve().parents[1] / "ui-tests"
NODE = shutil.which("node")


def _ui_env(env: dict[str, str]) -> dict[str, str]:
    script = "console.log(JSON.stringify(require('./ui-env').ensureUiEnv()))"
    out = subprocess.run(
        [str(NODE), "-e", script], cwd=UI_TESTS, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


@pytest.mark.skipif(NODE is None, reason="Node.js is required by the Makefile; not on PATH here")
def test_port_is_free_and_not_8888_while_8888_is_taken(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)}
    with socket.socket() as taken:
        try:
            taken.bind(("127.0.0.1", 8888))
        except OSError:
            pass  # already held by someone else: the situation under test anyway
        else:
            taken.listen()
        ports = {int(_ui_env(env)["port"]) for _ in range(3)}
        assert 8888 not in ports
        for port in ports:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", port))  # free: binding it works
    first = _ui_env(env)
    assert Path(first["stateDir"]).is_dir()
    assert Path(first["stateDir"]).parent == tmp_path


@pytest.mark.skipif(NODE is None, reason="Node.js is required by the Makefile; not on PATH here")
def test_values_given_by_the_caller_are_kept() -> None:
    env = {"PATH": "/usr/bin:/bin", "PEXLAB_UI_PORT": "4321", "PEXLAB_UI_STATE_DIR": "/x"}
    assert _ui_env(env) == {"port": "4321", "stateDir": "/x"}
