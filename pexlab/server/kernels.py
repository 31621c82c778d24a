"""Which interpreter a running kernel really uses, and what that interpreter has installed.

A kernelspec's argv[0] cannot be trusted: jupyter_client rewrites a plain `python` to the
*server's* interpreter, and wrappers (conda run, shell scripts, pyenv shims) hide the real one.
`/proc/<pid>/exe` resolves a venv's `bin/python` symlink to the base interpreter, losing the venv.
So we ask the kernel itself (`sys.executable`) through a silent execute request whose answer
comes back as a user expression - nothing is printed in the notebook, no history is stored.
The answer is cached per (kernel id, kernel process id): a restart gives a new pid.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient

from pexlab.core.errors import PexlabError
from pexlab.environment.interpreter import Environment, InspectionError, inspect_interpreter

_QUERY = (
    "__import__('json').dumps({'executable': __import__('sys').executable, "
    "'prefix': __import__('sys').prefix, 'pid': __import__('os').getpid()})"
)


class UnknownKernel(PexlabError):
    """No running kernel has this id."""


class KernelQueryError(PexlabError):
    """The kernel did not tell us its interpreter (busy, dead, or not a Python kernel)."""


@dataclass(frozen=True)
class KernelInterpreter:
    kernel_id: str
    python: str  # sys.executable as the kernel reports it (a venv's bin/python, not resolved)
    prefix: str
    pid: int | None


class KernelInterpreters:
    """Finds (and caches) the interpreter of running kernels; inspects it without importing user code."""

    def __init__(
        self,
        kernel_manager: Any,
        timeout: float = 15,
        log: Any = None,
        inspect: Callable[[str], Environment] = inspect_interpreter,
    ) -> None:
        self.kernel_manager = kernel_manager
        self._inspect = inspect
        self.timeout = timeout
        self.log = log
        self._cache: dict[str, tuple[Any, KernelInterpreter]] = {}
        self._pending: dict[str, asyncio.Future[KernelInterpreter]] = {}
        self._inspections: dict[str, asyncio.Future[Environment]] = {}
        # python -> its latest inspection: what the change stamp is computed from.
        self._last: dict[str, Environment] = {}

    def _manager(self, kernel_id: str) -> Any:
        try:
            if kernel_id not in self.kernel_manager:
                raise KeyError(kernel_id)
            return self.kernel_manager.get_kernel(kernel_id)
        except Exception:  # KeyError, or jupyter_server's own 404 HTTPError
            self._cache.pop(kernel_id, None)
            raise UnknownKernel(kernel_id) from None

    @staticmethod
    def _identity(km: Any) -> Any:
        # Changes when the kernel process is replaced (restart) even if the id stays.
        provisioner = getattr(km, "provisioner", None)
        pid = getattr(provisioner, "pid", None)
        return (pid, getattr(km, "connection_file", None))

    def forget(self, kernel_id: str) -> None:
        self._cache.pop(kernel_id, None)

    async def interpreter(self, kernel_id: str) -> KernelInterpreter:
        km = self._manager(kernel_id)
        identity = self._identity(km)
        cached = self._cache.get(kernel_id)
        if cached and cached[0] == identity and identity[0] is not None:
            return cached[1]
        # Several requests for one kernel at once share a single query.
        pending = self._pending.get(kernel_id)
        if pending is None:
            pending = asyncio.ensure_future(self._query(kernel_id, km))
            self._pending[kernel_id] = pending
            pending.add_done_callback(lambda _f: self._pending.pop(kernel_id, None))
        found = await asyncio.shield(pending)
        self._cache[kernel_id] = (identity, found)
        return found

    async def _query(self, kernel_id: str, km: Any) -> KernelInterpreter:
        if not await _is_alive(km):
            raise KernelQueryError("The kernel is not running (it may be restarting or dead).")
        client = AsyncKernelClient(**km.get_connection_info(session=True))
        client.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
        try:
            msg_id = client.execute(
                "", silent=True, store_history=False, user_expressions={"pexlab": _QUERY}
            )
            deadline = time.monotonic() + self.timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise KernelQueryError(
                        f"The kernel did not answer within {self.timeout:.0f} s "
                        "(is a cell still running?)."
                    )
                try:
                    reply = await client.get_shell_msg(timeout=left)
                except queue.Empty:
                    continue
                except Exception as exc:  # zmq failure: the kernel's channels are gone
                    raise KernelQueryError(f"Could not talk to the kernel: {exc}") from exc
                if reply.get("parent_header", {}).get("msg_id") == msg_id:
                    break
        finally:
            client.stop_channels()
        return _parse_reply(kernel_id, reply)

    async def inspect(self, python: str) -> Environment:
        pending = self._inspections.get(python)
        if pending is None:
            # The engine's inspection is blocking (a subprocess): keep it off the event loop.
            pending = asyncio.ensure_future(asyncio.to_thread(self._inspect, python))
            self._inspections[python] = pending
            pending.add_done_callback(lambda _f: self._inspections.pop(python, None))
        env = await asyncio.shield(pending)
        self._last[python] = env
        return env

    def last_inspection(self, python: str) -> Environment | None:
        """The latest inspection of `python` by this server, if any (no new probe)."""
        return self._last.get(python)


async def _is_alive(km: Any) -> bool:
    result = km.is_alive()
    if asyncio.iscoroutine(result):
        result = await result
    return bool(result)


def _parse_reply(kernel_id: str, reply: dict[str, Any]) -> KernelInterpreter:
    content = reply.get("content", {})
    expr = content.get("user_expressions", {}).get("pexlab", {})
    if content.get("status") != "ok" or expr.get("status") != "ok":
        raise KernelQueryError(
            "The kernel could not report its Python interpreter (is it a Python kernel?)."
        )
    try:
        text = ast.literal_eval(expr["data"]["text/plain"])
        data = json.loads(text)
        python, prefix = str(data["executable"]), str(data["prefix"])
    except (KeyError, ValueError, SyntaxError, TypeError) as exc:
        raise KernelQueryError(
            "The kernel's answer about its interpreter was not understood."
        ) from exc
    if not os.path.isabs(python) or not os.path.isfile(python):
        # e.g. an embedded interpreter with an empty sys.executable, or a remote kernel.
        raise KernelQueryError(
            f"The kernel reports interpreter {python!r}, which is not a file on the server's machine."
        )
    pid = data.get("pid")
    return KernelInterpreter(kernel_id, python, prefix, pid if isinstance(pid, int) else None)


__all__ = [
    "InspectionError",
    "KernelInterpreter",
    "KernelInterpreters",
    "KernelQueryError",
    "UnknownKernel",
]
