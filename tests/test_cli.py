"""The `pexlab` command line, run as a real subprocess (`python -m pexlab`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from buildenv import OFFLINE_ENV

from pexlab.core.progress import EVENT_PREFIX, ProgressEvent

pytest_plugins = ["buildenv"]  # shared session fixtures: main_venv, built, ...

REPO = Path(__file__).resolve().parents[1]


def pexlab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, PYTHONPATH=str(REPO), **OFFLINE_ENV, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "pexlab", *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=REPO,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        ((), ["inspect", "build", "cache"]),
        (("inspect",), ["--python", "--json"]),
        (("build",), ["--storage", "--exclude", "--include", "--events", "--json"]),
        (("cache",), ["list", "prune"]),
        (("cache", "list"), ["--json", "--cache-dir"]),
        (("cache", "prune"), ["--keep", "--older-than-days"]),
    ],
)
def test_help_on_every_command(args: tuple[str, ...], expect: list[str]) -> None:
    r = pexlab(*args, "--help")
    assert r.returncode == 0, r.stderr
    for word in expect:
        assert word in r.stdout


def test_inspect_json(main_venv) -> None:
    r = pexlab("inspect", "--python", str(main_venv.python), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["python"] == str(main_venv.python)
    assert doc["kind"] == "venv"
    names = {d["name"] for d in doc["distributions"]}
    assert {"numpy", "six", "edlib", "plainpkg"} <= names
    text = pexlab("inspect", "--python", str(main_venv.python))
    assert text.returncode == 0
    assert "numpy==" in text.stdout
    assert "edlib" in text.stdout


def test_build_json_events_then_cache_list_and_prune(main_venv, built, tmp_path: Path) -> None:
    record, cache = built
    store = tmp_path / "store"
    common = ("--python", str(main_venv.python), "--cache-dir", str(cache.root))
    r = pexlab("build", *common, "--storage", str(store), "--json", "--events")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["fingerprint"] == record.fingerprint
    assert doc["reused"] is True
    assert doc["pex"]["local_path"] == record.pex_path
    assert Path(doc["pex"]["url"].removeprefix("file://")).is_file()
    assert sorted(e["project"] for e in doc["editables"]) == ["edlib", "hatchlib", "nsproj"]
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    events = [ProgressEvent.from_line(ln) for ln in lines]
    assert lines
    assert all(ln.startswith(EVENT_PREFIX) for ln in lines)
    assert {e.phase for e in events if e} >= {"inspect", "build", "zip", "upload"}

    text = pexlab("build", *common)
    assert text.returncode == 0
    assert "reused" in text.stdout
    assert record.fingerprint in text.stdout

    listed = pexlab("cache", "list", "--cache-dir", str(cache.root), "--json")
    assert listed.returncode == 0, listed.stderr
    assert record.fingerprint in [d["fingerprint"] for d in json.loads(listed.stdout)]
    plain = pexlab("cache", "list", "--cache-dir", str(cache.root))
    assert record.fingerprint[:16] in plain.stdout

    # keep=1 keeps the newest build per interpreter: the shared build survives.
    pruned = pexlab("cache", "prune", "--cache-dir", str(cache.root), "--json")
    assert pruned.returncode == 0
    assert record.fingerprint not in json.loads(pruned.stdout)["removed"]
    assert cache.get(record.fingerprint) is not None


def test_build_without_events_prints_progress_only_for_slow_work(tmp_path: Path, main_venv) -> None:
    """A cold build takes seconds: human progress lines appear on stderr, not on stdout."""
    r = pexlab(
        "build", "--python", str(main_venv.python), "--cache-dir", str(tmp_path), "--no-editables"
    )
    assert r.returncode == 0, r.stderr
    assert "pexlab: Building the PEX" in r.stderr
    assert "built in" in r.stdout
    assert EVENT_PREFIX not in r.stderr


def test_errors_are_one_line_with_exit_1(tmp_path: Path) -> None:
    r = pexlab("inspect", "--python", str(tmp_path / "no-python"))
    assert r.returncode == 1
    assert r.stderr.startswith("pexlab: error:")
    assert "Traceback" not in r.stderr
    base = getattr(sys, "_base_executable", sys.executable)
    r = pexlab("build", "--python", base, "--cache-dir", str(tmp_path))
    assert r.returncode == 1
    assert "not a virtual environment" in r.stderr
    r = pexlab("build", "--python", base, "--cache-dir", str(tmp_path), "--json")
    assert r.returncode == 1
    assert "not a virtual environment" in json.loads(r.stdout)["error"]
    r = pexlab("frobnicate")
    assert r.returncode == 2


def test_options_json_is_the_wire_format_and_flags_win_over_it() -> None:
    from pexlab.build.options import BuildOptions
    from pexlab.cli import _options, build_parser

    def parsed(*argv: str) -> BuildOptions:
        return _options(build_parser().parse_args(["build", *argv]))

    assert parsed() == BuildOptions()
    wire = BuildOptions(exclude=("numpy",), zip_level=0).to_json()
    assert parsed("--options-json", json.dumps(wire)) == BuildOptions.from_json(wire)
    partial = parsed("--options-json", '{"bytecode": false}', "--compress")
    assert partial == BuildOptions(bytecode=False, compress=True)


def test_bad_options_json_and_conf_are_user_errors(tmp_path: Path) -> None:
    r = pexlab("build", "--cache-dir", str(tmp_path), "--options-json", '{"exlcude": []}')
    assert r.returncode == 1
    assert "Unknown build option" in r.stderr
    assert "Traceback" not in r.stderr
    r = pexlab("build", "--cache-dir", str(tmp_path), "--options-json", "{nope")
    assert r.returncode == 1
    assert "--options-json is not JSON" in r.stderr
    r = pexlab("spark-args", "--master", "sprak://h:7077", "--quiet")
    assert r.returncode == 1
    assert "not a Spark master URL" in r.stderr
    r = pexlab("spark-args", "--conf", "novalue", "--quiet")
    assert r.returncode == 1
    assert "--conf expects KEY=VALUE" in r.stderr


def test_spark_args_is_always_registered() -> None:
    r = pexlab("spark-args", "--help")
    assert r.returncode == 0
    assert "--storage" in r.stdout
