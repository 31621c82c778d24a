"""Sessions pexlab makes on Spark Connect are full sessions (#19): every public method a
builder-made session has works on them, against the REAL Connect server of tests/test_connect.py
(its session fixture, bare workers), with the client in the kernel venv (pyspark-client 4.2).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from connectenv import ConnectEnv

from pexlab.spark.connect_session import url_with_session_id

DRIVER = Path(__file__).with_name("connect_session_driver.py")


@pytest.fixture(scope="module")
def full_run(connect_env: ConnectEnv, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return connect_env.drive(
        "full", driver=DRIVER, timeout=420, tmp=str(tmp_path_factory.mktemp("full"))
    )


@pytest.mark.spark
def test_pexlab_session_has_everything_a_builder_session_has(full_run: dict) -> None:
    builder, mine = full_run["builder"], full_run["pexlab"]
    missing = set(builder["attrs"]) - set(mine["attrs"])
    assert not missing, f"attributes a builder-made session has and pexlab's lacks: {missing}"
    assert "release_session_on_close" in mine["attrs"]
    assert full_run["is_default"] is True


@pytest.mark.spark
def test_stop_releases_the_clone_and_never_the_base(full_run: dict) -> None:
    mine = full_run["pexlab"]
    assert mine["stop_error"] is None
    assert mine["is_stopped"] is True
    # The server refuses the released session id (its state is gone)...
    assert mine["released"] is not None, mine
    assert "SESSION_CLOSED" in mine["released"], mine
    assert full_run["active_after_stop"] is False
    # ...while the private base session that holds the PEX lives on.
    assert full_run["bases"] == 1
    assert full_run["base_alive"] is True
    assert full_run["base_alive_at_end"] is True


@pytest.mark.spark
def test_second_session_after_stop_is_a_new_clone_with_the_pex(full_run: dict) -> None:
    assert full_run["second_session"] != full_run["first_session"]
    assert full_run["second_upload"] == "cloned", "PEX copied on the server, not uploaded again"
    for row in full_run["first_where"] + full_run["second_where"]:
        assert "tabulate_error" not in row, row
    assert full_run["second_is_default"] is True
    assert "SESSION_CLOSED" in (full_run["second_released"] or "")


@pytest.mark.spark
def test_progress_handler_interrupt_artifacts_and_copy(full_run: dict) -> None:
    mine = full_run["pexlab"]
    assert full_run["builder"]["progress"]["calls"] > 0
    assert mine["progress"]["calls"] > 0
    assert mine["progress"]["done"] is True
    rows = mine["add_artifacts"]["rows"]
    assert rows, rows
    assert all(r[0] == "hello from the user artifact" for r in rows), rows
    assert all("node-cache" in r[1] for r in rows), "tabulate still from the PEX"
    assert mine["copy"]["error"] is None, mine["copy"]
    assert mine["copy"]["text"] == "copied through the Connect server\n"
    interrupt = mine["interrupt"]
    assert interrupt["interrupted"], interrupt
    assert interrupt["joined"], interrupt
    assert interrupt["job_error"] is not None, interrupt
    assert interrupt["job_seconds"] < 55, interrupt
    assert mine["after_interrupt"] == 3


def test_url_with_session_id_keeps_the_other_parameters() -> None:
    sid = "2f0c7a35-0bcb-4b64-9d36-1c5e9f0b1b1a"
    assert url_with_session_id("sc://h:1", sid) == f"sc://h:1/;session_id={sid}"
    assert url_with_session_id("sc://h:1/", sid) == f"sc://h:1/;session_id={sid}"
    assert (
        url_with_session_id("sc://h:1/;user_id=me;session_id=old;token=t", sid)
        == f"sc://h:1/;user_id=me;token=t;session_id={sid}"
    )
