"""PexLabService: what the REST handlers share (settings, kernel lookup, cache, jobs, events)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

from pexlab.build.cache import BuildRecord, Cache
from pexlab.build.editables import current_zip_name, parse_zip_name
from pexlab.build.fingerprint import fingerprint
from pexlab.build.options import BuildOptions
from pexlab.build.pex import pex_version
from pexlab.core.errors import PexlabError
from pexlab.core.names import canonical_name
from pexlab.environment.inspection import stamp as install_stamp
from pexlab.environment.interpreter import Environment
from pexlab.spark.conf import master_kind, validate_master
from pexlab.storage.upload import preflight

from .config import PexLab
from .drift import compare
from .job import Job
from .jobs import JobManager
from .kernels import KernelInterpreters
from .resolve import (
    Partial,
    RequestError,
    Resolved,
    excluded,
    resolve_options,
    resolve_storage,
)

EVENT_SCHEMA = Path(__file__).with_name("events") / "build.yaml"
EVENT_SCHEMA_ID = "https://events.pexlab.dev/build/v1"
SERVICE_KEY = "pexlab_service"  # web_app.settings key the handlers find the service under
# How long the environment answer waits for the storage's write check (HDFS: a NameNode).
STORAGE_CHECK_TIMEOUT_S = 10.0


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
        # kernel id -> the options last asked for with it: with the kernel's live environment,
        # what the artifact listing marks as current for that kernel.
        self.asked: dict[str, Resolved] = {}

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

    def resolve_for_display(self, partial: Partial, storage: Any) -> tuple[Resolved, str | None]:
        """As `resolve`, but a storage the allow-list refuses is kept as given (stripped) with
        the reason, for the environment answer to show next to the setting; malformed input
        still raises RequestError (400)."""
        try:
            return self.resolve(partial, storage), None
        except RequestError as exc:
            if exc.status != 422 or not isinstance(storage, str):
                raise
            resolved = Resolved(
                options=resolve_options(partial, self.config.default_excludes),
                include_editable=partial.include_editable,
                storage=storage.strip(" "),
            )
            return resolved, str(exc)

    async def storage_error(self, url: str | None) -> str | None:
        """Why uploads to `url` would fail, by the engine's own pre-build check (local folders
        are not created by this read-only question), or None."""
        if not url:
            return None
        try:
            await asyncio.wait_for(
                asyncio.to_thread(preflight, url, None, False), STORAGE_CHECK_TIMEOUT_S
            )
        except asyncio.TimeoutError:
            return f"Storage {url!r} did not answer within {STORAGE_CHECK_TIMEOUT_S:g} s."
        except PexlabError as exc:
            return str(exc)
        except Exception as exc:  # a backend's own error: still the storage's, not the server's
            return f"Cannot use storage {url!r}: {type(exc).__name__}: {exc}"
        return None

    def resolve_master(self, raw: str | None) -> tuple[str, str | None, str | None]:
        """`(master, kind, error)`: the user's master, else `c.PexLab.master`, checked by the
        engine's parser (what the inserted cell would hit); kind is None when it does not parse."""
        master = (raw or "").strip() or self.config.master
        try:
            master = validate_master(master)
            return master, master_kind(master), None
        except PexlabError as exc:
            return master, None, str(exc)

    async def fingerprint_for(self, env: Environment, options: BuildOptions) -> str:
        return fingerprint(env, options, await self.pex_version())

    def build_json(
        self,
        resolved: Resolved,
        fp: str,
        master: str | None = None,
        master_kind: str | None = None,
        errors: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """What the inserted cells need to reproduce this build exactly: the options that differ
        from the defaults, the storage and the master, and the fingerprint they give; `errors`
        names the settings (`master`, `storage`) that cannot be used, and why."""
        if master is None:
            master, master_kind, master_error = self.resolve_master(None)
            errors = {**({"master": master_error} if master_error else {}), **(errors or {})}
        return {
            "options": resolved.options.to_json(),
            "overrides": resolved.options.overrides(),
            "include_editable": resolved.include_editable,
            "storage": resolved.storage,
            "master": master,
            "master_kind": master_kind,
            "default_master": self.config.master,
            "fingerprint": fp,
            "errors": dict(errors or {}),
        }

    def excluded_json(self, env: Environment, resolved: Resolved) -> list[dict[str, str]]:
        return excluded(env, resolved.options, self.config.default_excludes)

    # ------------------------------------------------------------------ editable zips
    @staticmethod
    def _zip_names(env: Environment) -> dict[str, str]:
        """project name -> the zip name its current code gives (projects whose code cannot be
        found are left out: the build reports them)."""
        names: dict[str, str] = {}
        for dist in env.editables:
            try:
                names[dist.name] = current_zip_name(dist)
            except (PexlabError, OSError):
                continue
        return names

    async def zip_names(self, env: Environment) -> dict[str, str]:
        return await asyncio.to_thread(self._zip_names, env)

    @staticmethod
    def editables_key(resolved: Resolved, names: dict[str, str]) -> list[str]:
        """The editable part of a build's identity: the zips it ships."""
        return sorted(names.values()) if resolved.include_editable else []

    def editable_zips_json(self, names: dict[str, str] | None) -> list[dict[str, Any]]:
        """The cache's editable zips; with `names` (a kernel's projects -> their current zip)
        each is `current` (zipping that project now gives this file) or not, and `stale` when
        it is an older zip of one of those projects."""
        wanted = set((names or {}).values())
        projects = {
            parsed[0]: name
            for name, zip_name in (names or {}).items()
            if (parsed := parse_zip_name(zip_name))
        }
        out = []
        for path in self.cache.editable_zips():
            parsed = parse_zip_name(path.name)
            try:
                st = path.stat()
            except OSError:
                continue
            project = projects.get(parsed[0]) if parsed else None
            out.append(
                {
                    "name": path.name,
                    "path": str(path),
                    "project": project or (parsed[0] if parsed else path.stem),
                    "size": st.st_size,
                    "modified_at": st.st_mtime,
                    "current": path.name in wanted,
                    "stale": project is not None and path.name not in wanted,
                }
            )
        return out

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
        editables = self.editables_key(resolved, await self.zip_names(env))
        # Check-and-create without an await in between, under a lock: N simultaneous POSTs for
        # one artifact start exactly one build.
        async with self._creating:
            same = self.jobs.find_same(
                fp,
                resolved.storage,
                resolved.include_editable,
                lambda f: self.cache.get(f) is not None,
                editables=editables,
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
                editables=editables,
            )
            return job, True

    async def shutdown(self) -> None:
        await self.jobs.shutdown()
