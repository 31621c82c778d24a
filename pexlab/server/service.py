"""PexLabService: what the REST handlers share (settings, kernel lookup, cache, jobs, events)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

from pexlab.build.cache import BuildRecord, Cache
from pexlab.build.fingerprint import fingerprint
from pexlab.build.options import BuildOptions
from pexlab.build.pex import pex_version
from pexlab.core.names import canonical_name
from pexlab.environment.inspection import stamp as install_stamp
from pexlab.environment.interpreter import Environment

from .config import PexLab
from .drift import compare
from .jobs import Job, JobManager
from .kernels import KernelInterpreters
from .resolve import Partial, Resolved, resolve_options, resolve_storage

EVENT_SCHEMA = Path(__file__).with_name("events") / "build.yaml"
EVENT_SCHEMA_ID = "https://events.pexlab.dev/build/v1"
SERVICE_KEY = "pexlab_service"  # web_app.settings key the handlers find the service under


class PexLabService:
    """Everything the handlers share: settings, kernel lookup, cache, jobs, events."""

    def __init__(self, serverapp: Any) -> None:
        self.config = PexLab(parent=serverapp)
        self.log = serverapp.log
        self.root_dir = str(getattr(serverapp, "root_dir", "") or Path.cwd())
        self.cache = Cache(self.config.cache_dir or None)
        self.kernels = KernelInterpreters(
            serverapp.kernel_manager,
            timeout=self.config.kernel_query_timeout,
            log=self.log,
            # The engine's warm path: the probe runs again only when the interpreter's install
            # stamp moved, and builds (CLI, kernels) share these inspections through the cache.
            inspect=lambda python: self.cache.inspector.inspect(python)[0],
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
        # kernel id -> fingerprint of its environment with the options last asked for: what the
        # artifact listing marks as current for that kernel.
        self.current: dict[str, str] = {}

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
        return job.to_json(log_tail=10 if brief else self.config.log_tail_lines)

    async def pex_version(self) -> str:
        # Asked once (it runs pex); a failure is not cached so the next request retries.
        if self._pex_version is None or (
            self._pex_version.done() and self._pex_version.exception() is not None
        ):
            self._pex_version = asyncio.ensure_future(asyncio.to_thread(pex_version))
        return await asyncio.shield(self._pex_version)

    # ------------------------------------------------------------------ options and storage
    def resolve(self, partial: Partial, storage: Any) -> Resolved:
        """The request's choices + the server's settings -> what a build runs with
        (raises resolve.RequestError for refused storage)."""
        return Resolved(
            options=resolve_options(partial, self.config.default_excludes),
            include_editable=partial.include_editable,
            storage=resolve_storage(
                storage, self.config.storage, self.config.allowed_storage, self.root_dir
            ),
        )

    async def fingerprint_for(self, env: Environment, options: BuildOptions) -> str:
        return fingerprint(env, options, await self.pex_version())

    def build_json(self, resolved: Resolved, fp: str) -> dict[str, Any]:
        """What the inserted cells need to reproduce this build exactly: the options that differ
        from the defaults, the storage and the master, and the fingerprint they give."""
        return {
            "options": resolved.options.to_json(),
            "overrides": resolved.options.overrides(),
            "include_editable": resolved.include_editable,
            "storage": resolved.storage,
            "master": self.config.master,
            "fingerprint": fp,
        }

    # ------------------------------------------------------------------ state
    async def pex_state(self, env: Environment, fp: str) -> dict[str, Any]:
        """State of the PEX for `env` built with the options that give `fp`."""
        record: BuildRecord | None = await asyncio.to_thread(self.cache.get, fp)
        exact = record is not None
        if record is None:
            record = await asyncio.to_thread(self.cache.latest_for, env.python)
        drift = compare(env, record).to_json()
        if record is not None and not exact and drift["state"] == "up-to-date":
            # Same packages as the last build, but not the artifact these options, this build
            # recipe and this pex version give.
            drift["state"] = "stale"
            drift["reason"] = (
                "The build options, the build recipe or the pex version changed since the "
                "last build."
            )
        drift["pex_path"] = record.pex_path if record else None
        drift["uploads"] = dict(record.uploads) if record else {}
        return drift

    @staticmethod
    def pexlab_json(env: Environment) -> dict[str, Any]:
        """Whether the kernel's interpreter has pexlab installed (the inserted cells import it)."""
        for dist in env.distributions:
            if canonical_name(dist.name) == "pexlab":
                return {"installed": True, "version": dist.version}
        return {"installed": False, "version": None}

    def stamp(self, env: Environment) -> str:
        """A digest of the engine's install stamp of `env` (site folders' metadata entries):
        changes when anything is installed, removed or upgraded, costs one scandir per folder."""
        blob = json.dumps(install_stamp(env), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:32]

    async def start_build(
        self, kernel_id: str, env: Environment, resolved: Resolved
    ) -> tuple[Job, bool]:
        fp = await self.fingerprint_for(env, resolved.options)
        # Check-and-create without an await in between, under a lock: N simultaneous POSTs for
        # one artifact start exactly one build.
        async with self._creating:
            same = self.jobs.find_same(
                fp,
                resolved.storage,
                resolved.include_editable,
                lambda f: self.cache.get(f) is not None,
            )
            if same is not None:
                return same, False
            job = self.jobs.submit(
                kernel_id,
                env.python,
                fp,
                resolved.storage,
                resolved.options.to_json(),
                include_editable=resolved.include_editable,
            )
            return job, True

    async def shutdown(self) -> None:
        await self.jobs.shutdown()
