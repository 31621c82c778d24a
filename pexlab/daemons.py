"""Start and stop the local daemons the dev clusters run (Spark, Spark Connect, Hadoop).

Each daemon is started in its own session, so it leads a process group that holds whatever it
forks (executors, YARN containers); stopping signals that group, so nothing outlives it and
nothing else is touched.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Protocol, TypeVar


class _StartStop(Protocol):
    def start(self: _S) -> _S: ...

    def stop(self) -> None: ...


_S = TypeVar("_S", bound=_StartStop)


def spawn_in_group(
    argv: list[str], log: Path, env: Mapping[str, str], cwd: Path
) -> subprocess.Popen[bytes]:
    """Start `argv` in a new session (its own process group), output to `log`."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )


def stop_group(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM the group `proc` leads, SIGKILL it after `timeout` s, and reap `proc`."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    # Children the daemon forked (executors, containers) are in the group: none may outlive it.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


class Daemonized:
    """`with X() as x:` starts on entry and stops on exit, for classes with start()/stop()."""

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(
        self: _StartStop,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
