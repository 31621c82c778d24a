"""`with LocalX() as x:` for the local dev clusters (Spark, Spark Connect, Hadoop), whose
daemons run in process groups of their own (`pexlab.core.processes`)."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, TypeVar


class _StartStop(Protocol):
    def start(self: _S) -> _S: ...

    def stop(self) -> None: ...


_S = TypeVar("_S", bound=_StartStop)


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
