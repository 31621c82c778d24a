"""The driver JVM's stderr: quiet while a session starts, passed through afterwards.

PySpark's `launch_gateway` starts the JVM as a child process that inherits the kernel's fd 2,
so its start-up chatter ("Using incubator modules", "Using Spark's default log4j profile",
"Setting default log level to", "WARN NativeCodeLoader" ...) lands in the notebook cell on
every good start.  When pexlab starts the JVM it points fd 2 at a pipe for the launch only (the
JVM keeps the pipe as its stderr for its whole life) and a daemon thread reads it:

- while a context starts, lines are buffered;
- after a good start the buffer is dropped and everything later is forwarded, unchanged, to the
  kernel's own stderr (so Spark's later warnings and errors still show);
- after a failed start the buffered lines go into the error (see `JvmStderr.finish`).

A later start in the same JVM (after `stop()`, or pexlab's restart of its own context) buffers
again through the same reader.  A JVM pexlab did not start is left alone.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
from collections.abc import Iterator
from typing import Any

# The most lines kept from one start (the last ones: the reason is usually at the end).
MAX_LINES = 200
THREAD_NAME = "pexlab-jvm-stderr"
# The most lines put into an error after a failed start.
ERROR_LINES = 30


class JvmStderr:
    """The reader of one JVM's stderr pipe (see the module docstring)."""

    def __init__(self, read_fd: int, out_fd: int) -> None:
        self._read_fd = read_fd
        self._out_fd = out_fd  # a dup of the kernel's fd 2 when the JVM was launched
        self._lock = threading.Lock()
        self._buffering = True
        self._lines: list[bytes] = []
        self._partial = b""
        self.gateway: Any = None  # the py4j gateway of the JVM this pipe belongs to
        os.set_blocking(read_fd, False)
        self._thread = threading.Thread(target=self._pump, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def _read_available(self) -> bool:
        """Handle what the pipe holds now (lock held); False at end of file."""
        while True:
            try:
                chunk = os.read(self._read_fd, 65536)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not chunk:
                return False
            if self._buffering:
                data = self._partial + chunk
                *lines, self._partial = data.split(b"\n")
                self._lines.extend(lines)
                del self._lines[:-MAX_LINES]
            else:
                with contextlib.suppress(OSError):
                    os.write(self._out_fd, chunk)

    def _pump(self) -> None:
        while True:
            try:
                select.select([self._read_fd], [], [], 0.5)
            except (OSError, ValueError):
                break
            with self._lock:
                if not self._read_available():
                    break
        with contextlib.suppress(OSError):
            os.close(self._read_fd)
        with contextlib.suppress(OSError):
            os.close(self._out_fd)

    def start_buffering(self) -> None:
        with self._lock:
            self._read_available()
            self._buffering = True
            self._lines = []
            self._partial = b""

    def finish(self) -> list[str]:
        """Stop buffering: return the lines the start printed (all of them up to now) and pass
        everything later through to the kernel's stderr."""
        with self._lock:
            self._read_available()  # what the JVM wrote before this moment belongs to the start
            lines = [*self._lines, *([self._partial] if self._partial else [])]
            self._lines = []
            self._partial = b""
            self._buffering = False
        return [ln.decode("utf-8", "replace").rstrip("\r") for ln in lines]


_current: JvmStderr | None = None


@contextlib.contextmanager
def launching() -> Iterator[JvmStderr]:
    """Around PySpark's JVM launch: the launched JVM (and only it) gets a pipe as its fd 2."""
    global _current
    read_fd, write_fd = os.pipe()
    saved = os.dup(2)
    out = os.dup(2)
    reader = JvmStderr(read_fd, out)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    try:
        yield reader
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    _current = reader


def reader_for(gateway: Any) -> JvmStderr | None:
    """The reader of the JVM behind `gateway`, if pexlab launched it."""
    if _current is not None and gateway is not None and _current.gateway is gateway:
        return _current
    return None


def quiet_lines(lines: list[str]) -> list[str]:
    """The start's lines worth showing with an error (blank lines dropped)."""
    return [ln for ln in lines if ln.strip()]
