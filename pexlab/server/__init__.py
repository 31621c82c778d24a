"""Jupyter Server extension of pexlab: kernel environments, PEX build jobs and artifacts over REST.

Loaded by Jupyter Server through `pexlab._jupyter_server_extension_points` -> this module.
It calls the engine (inspection, fingerprint, cache, the `pexlab build` CLI); it never
reimplements it.
"""

from __future__ import annotations

import asyncio
import atexit
from pathlib import Path
from typing import Any

from pexlab.cache import Cache
from pexlab.environment import Environment
from pexlab.fingerprint import fingerprint
from pexlab.pex_build import BuildOptions, pex_version

from .config import PexLab
from .drift import compare
from .handlers import routes
from .jobs import Job, JobManager
from .kernels import KernelInterpreters

EVENT_SCHEMA = Path(__file__).with_name("events") / "build.yaml"
EVENT_SCHEMA_ID = "https://events.pexlab.dev/build/v1"


class PexLabService:
    """Everything the handlers share: settings, kernel lookup, cache, jobs, events."""

    def __init__(self, serverapp: Any) -> None:
        self.config = PexLab(parent=serverapp)
        self.log = serverapp.log
        self.cache = Cache(self.config.cache_dir or None)
        self.kernels = KernelInterpreters(
            serverapp.kernel_manager, timeout=self.config.kernel_query_timeout, log=self.log
        )
        self.event_logger = getattr(serverapp, "event_logger", None)
        if self.event_logger is not None:
            self.event_logger.register_event_schema(EVENT_SCHEMA)
        self.jobs = JobManager(
            jobs_dir=self.cache.root / "jobs",
            cache_dir=self.cache.root,
            max_concurrent=self.config.max_concurrent_builds,
            log_tail_lines=self.config.log_tail_lines,
            emit=self._emit,
            log=self.log,
        )
        self._creating = asyncio.Lock()
        self._pex_version: asyncio.Future[str] | None = None

    def _emit(self, job: Job) -> None:
        if self.event_logger is None:
            return
        self.event_logger.emit(
            schema_id=EVENT_SCHEMA_ID,
            data={
                "id": job.id,
                "kernel_id": job.kernel_id,
                "state": job.state,
                "phase": job.phase,
                "progress": job.progress,
                "fingerprint": job.fingerprint,
                "message": job.message,
            },
        )

    def job_json(self, job: Job, brief: bool = False) -> dict[str, Any]:
        data = job.to_json(log_tail=10 if brief else self.config.log_tail_lines)
        return data

    async def pex_version(self) -> str:
        # Asked once (it runs pex); a failure is not cached so the next request retries.
        if self._pex_version is None or (
            self._pex_version.done() and self._pex_version.exception() is not None
        ):
            self._pex_version = asyncio.ensure_future(asyncio.to_thread(pex_version))
        return await asyncio.shield(self._pex_version)

    async def fingerprint_for(self, env: Environment, options: dict[str, Any]) -> str:
        opts = BuildOptions(
            exclude=tuple(options.get("exclude", self.config.default_excludes)),
            include=tuple(options.get("include", ())),
            compress=bool(options.get("compress", False)),
        )
        return fingerprint(env, opts, await self.pex_version())

    async def pex_state(self, env: Environment) -> dict[str, Any]:
        record = await asyncio.to_thread(self.cache.latest_for, env.python)
        drift = compare(env, record).to_json()
        if record is not None and drift["state"] == "up-to-date":
            # Same packages, but pex or the build recipe may have moved on since.
            opts = BuildOptions.from_json(record.options or {})
            current = fingerprint(env, opts, await self.pex_version())
            if current != record.fingerprint:
                drift["state"] = "stale"
                drift["reason"] = "The build recipe or pex version changed since the last build."
        drift["pex_path"] = record.pex_path if record else None
        drift["uploads"] = dict(record.uploads) if record else {}
        return drift

    async def start_build(
        self, kernel_id: str, env: Environment, storage: str | None, options: dict[str, Any]
    ) -> tuple[Job, bool]:
        fp = await self.fingerprint_for(env, options)
        # Check-and-create without an await in between, under a lock: N simultaneous POSTs for
        # one artifact start exactly one build.
        async with self._creating:
            same = self.jobs.find_same(fp, storage, lambda f: self.cache.get(f) is not None)
            if same is not None:
                return same, False
            return self.jobs.submit(kernel_id, env.python, fp, storage, options), True

    async def shutdown(self) -> None:
        await self.jobs.shutdown()


def _load_jupyter_server_extension(serverapp: Any) -> None:
    service = PexLabService(serverapp)
    web_app = serverapp.web_app
    web_app.settings["pexlab"] = service
    web_app.add_handlers(".*$", routes(web_app.settings["base_url"]))
    # Module-style extensions get no stop hook from Jupyter Server (only ExtensionApps do), yet
    # builds run in their own process groups and would outlive the server: chain our shutdown
    # in front of the server's extension cleanup, and register an atexit fallback.
    original = serverapp.cleanup_extensions

    async def cleanup_extensions() -> None:
        await service.shutdown()
        await original()

    serverapp.cleanup_extensions = cleanup_extensions
    atexit.register(service.jobs.kill_all)
    serverapp.log.info("pexlab: server extension loaded (cache %s)", service.cache.root)


# Older/newer discovery hooks look for these names too.
load_jupyter_server_extension = _load_jupyter_server_extension
