"""Process groups: what the local clusters' daemons and the server's build jobs run in.

Each child is started in its own session, so it leads a process group that holds whatever it
forks (executors, YARN containers, pex's own subprocesses); stopping signals the group, so
nothing outlives it and nothing else is touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path


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


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Send `sig` to a group; a group that is gone (or no longer ours) is left alone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM the group `proc` leads, SIGKILL it after `timeout` s, and reap `proc`."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)
    # Children the leader forked (executors, containers) are in the group: none may outlive it.
    signal_group(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
