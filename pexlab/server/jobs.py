"""Build jobs: the engine's CLI (`python -m pexlab.cli build --events`) run as a subprocess.

Why a subprocess and not a thread: pex is a CLI-only tool whose builds spawn pip and can take
minutes; a separate process group can be stopped as a whole (cancel) and cannot block or crash
the server. The CLI reports progress as `PEXLAB_EVENT {json}` lines on stderr and prints the
artifacts as JSON on stdout.

Each job is also a small JSON file in `<cache>/jobs/` (written atomically) so a restarted server
still lists finished builds and reports the ones that were running as `interrupted`.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import os
import shutil
import signal
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pexlab.build.cache import Cache
from pexlab.core.processes import signal_group
from pexlab.core.progress import EVENT_PREFIX, ProgressEvent

from .build_process import build_command, build_env, stop_group_async
from .job import ACTIVE, Job, now

# Share of the overall progress bar given to each packaging phase (a PEX build dominates).
_PHASE_SPAN: dict[str, tuple[float, float]] = {
    "inspect": (0.0, 0.05),
    "build": (0.05, 0.8),
    "zip": (0.8, 0.9),
    "upload": (0.9, 1.0),
}
# Finished job records kept across restarts (oldest dropped first).
MAX_FINISHED_JOBS = 200
# Grace period between SIGTERM and SIGKILL when cancelling.
TERM_GRACE_S = 5.0


class JobManager:
    """Starts, tracks, cancels and persists build jobs. One per server."""

    def __init__(
        self,
        jobs_dir: Path,
        cache_dir: Path,
        max_concurrent: int = 2,
        log_tail_lines: int = 200,
        emit: Callable[[Job], None] | None = None,
        log: Any = None,
    ) -> None:
        self.jobs_dir = jobs_dir
        self.cache_dir = cache_dir
        self.log_tail_lines = log_tail_lines
        self.emit = emit or (lambda job: None)
        self.logger = log
        self.jobs: dict[str, Job] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._procs: dict[str, asyncio.subprocess.Process] = {}
        self._cancelled: set[str] = set()
        self._semaphore = asyncio.Semaphore(max_concurrent)
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self._load()

    # ----------------------------------------------------------------- persistence
    def _load(self) -> None:
        for path in sorted(self.jobs_dir.glob("*.json")):
            try:
                job = Job.from_json(json.loads(path.read_text()), self.log_tail_lines)
            except (OSError, ValueError, TypeError, KeyError):
                continue  # a foreign or corrupt file is not a job
            if job.state in ACTIVE:
                # The server that ran it is gone, and its process group with it.
                job.state = "interrupted"
                job.error = "The server stopped while this build was running."
                job.finished_at = job.finished_at or now()
                job.pid = None
                self._save(job)
            self.jobs[job.id] = job
        # Keep the record folder small: forget the oldest finished jobs beyond a bound.
        finished = sorted(
            (j for j in self.jobs.values() if j.state not in ACTIVE), key=lambda j: j.created_at
        )
        for job in finished[: max(0, len(finished) - MAX_FINISHED_JOBS)]:
            del self.jobs[job.id]
            (self.jobs_dir / f"{job.id}.json").unlink(missing_ok=True)

    def _save(self, job: Job) -> None:
        path = self.jobs_dir / f"{job.id}.json"
        tmp = path.with_name(f".{job.id}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(job.to_json()))
        os.replace(tmp, path)  # atomic: readers never see half a file

    def _changed(self, job: Job) -> None:
        self._save(job)
        try:
            self.emit(job)
        except Exception:  # an event sink must never break a build
            if self.logger:
                self.logger.exception("pexlab: could not emit build event")

    # ----------------------------------------------------------------- queries
    def list(self) -> list[Job]:
        return sorted(self.jobs.values(), key=lambda j: j.created_at, reverse=True)

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    @staticmethod
    def _same_key(
        job: Job,
        fingerprint: str,
        storage: str | None,
        include_editable: bool,
        editables: builtins.list[str] | None,
    ) -> bool:
        """Whether `job` was asked for exactly these artifacts: the PEX (`fingerprint` covers
        the packages and the options), the storage, and the editable code."""
        return (
            job.fingerprint == fingerprint
            and job.storage == storage
            and job.include_editable == include_editable
            and job.editables is not None
            and editables is not None
            and sorted(job.editables) == sorted(editables)
        )

    def find_same(
        self,
        fingerprint: str,
        storage: str | None,
        include_editable: bool,
        artifact_ok: Callable[[str], bool],
        editables: builtins.list[str] | None = None,
    ) -> Job | None:
        """A job for the same artifacts that is running, queued, or done with its PEX still
        cached.  A failed, cancelled or interrupted job is never the answer to a new request:
        the request builds again."""
        for job in self.list():
            if not self._same_key(job, fingerprint, storage, include_editable, editables):
                continue
            if job.state in ACTIVE:
                return job
            if job.state == "succeeded" and job.artifacts and artifact_ok(fingerprint):
                return job
        return None

    def latest(
        self,
        fingerprint: str,
        storage: str | None,
        include_editable: bool,
        editables: builtins.list[str] | None,
    ) -> Job | None:
        """The newest job, in any state, for exactly these artifacts: what the panel shows as
        the state of the build it would ask for (a failure for other options, another storage,
        another environment or other editable code is not this one's)."""
        for job in self.list():
            if self._same_key(job, fingerprint, storage, include_editable, editables):
                return job
        return None

    def forget_fingerprint(self, fingerprint: str) -> None:
        """The artifact was deleted: finished jobs for it no longer count as 'done'."""
        for job in self.jobs.values():
            if job.fingerprint == fingerprint and job.state == "succeeded":
                job.artifacts = None
                job.message = "Artifact deleted from the cache."
                self._save(job)

    # ----------------------------------------------------------------- lifecycle
    def submit(
        self,
        kernel_id: str,
        python: str,
        fingerprint: str | None,
        storage: str | None,
        options: dict[str, Any],
        include_editable: bool = True,
        editables: builtins.list[str] | None = None,
    ) -> Job:
        job = Job(
            id=uuid.uuid4().hex,
            kernel_id=kernel_id,
            python=python,
            fingerprint=fingerprint,
            storage=storage,
            options=options,
            include_editable=include_editable,
            editables=sorted(editables) if editables is not None else None,
        )
        job.log = deque(maxlen=self.log_tail_lines)
        self.jobs[job.id] = job
        self._changed(job)
        self._tasks[job.id] = asyncio.ensure_future(self._run(job))
        self._tasks[job.id].add_done_callback(lambda _t: self._tasks.pop(job.id, None))
        return job

    async def _run(self, job: Job) -> None:
        try:
            async with self._semaphore:
                if job.id in self._cancelled:
                    return
                await self._execute(job)
        except asyncio.CancelledError:
            # Server shutdown: leave the record 'running' so the next start says 'interrupted'.
            raise
        except Exception as exc:  # never leave a job stuck in 'running'
            if self.logger:
                self.logger.exception("pexlab: build %s crashed", job.id)
            self._finish(job, "failed", error=f"The build could not run: {exc}")

    async def _execute(self, job: Job) -> None:
        job.state, job.started_at, job.phase = "running", now(), "inspect"
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        proc = await asyncio.create_subprocess_exec(
            *build_command(
                job.python, job.options, self.cache_dir, job.storage, job.include_editable
            ),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(self.cache_dir),
            env=await asyncio.to_thread(build_env, self.cache_dir),
            # Own session = own process group: cancel stops pex and the pips it spawned.
            start_new_session=True,
            limit=1024 * 1024,
        )
        job.pid = proc.pid
        self._procs[job.id] = proc
        self._changed(job)
        try:
            stdout, code = await self._collect(job, proc)
        finally:
            self._procs.pop(job.id, None)
            job.pid = None
        if job.id in self._cancelled or code != 0:
            await asyncio.to_thread(self._remove_leftovers, job)
        if job.id in self._cancelled:
            self._finish(job, "cancelled", message="Cancelled.")
            return
        if code != 0:
            self._finish(job, "failed", error=self._failure_message(job, code, stdout))
            return
        try:
            job.artifacts = json.loads(stdout.decode() or "null")
        except ValueError:
            self._finish(
                job, "failed", error="The build finished but its result was not valid JSON."
            )
            return
        built = job.artifacts.get("fingerprint") if isinstance(job.artifacts, dict) else None
        if built != job.fingerprint:
            # The server promised the panel (and the inserted cells) the artifact with its
            # fingerprint; another one is not a success: server and CLI disagree on options.
            self._finish(
                job,
                "failed",
                error=f"The build produced the artifact {built or '(none)'} but the server "
                f"expected {job.fingerprint}: the server and the pexlab CLI disagree on the "
                "build options or the environment. This is a pexlab bug; please report it "
                "with the build log.",
            )
            return
        job.progress = 1.0
        self._finish(job, "succeeded", message="Done.")

    async def _collect(self, job: Job, proc: asyncio.subprocess.Process) -> tuple[bytes, int]:
        # Both pipes exist: the process was started with stdout=PIPE, stderr=PIPE.
        assert proc.stdout is not None
        assert proc.stderr is not None
        out = asyncio.ensure_future(proc.stdout.read())
        err = asyncio.ensure_future(self._read_stderr(job, proc.stderr))
        readers = asyncio.gather(out, err)
        # Watch the CLI itself, not only its pipes: if it dies (e.g. SIGKILL) a pex/pip child it
        # started may still hold the pipes open and keep writing; such orphans are stopped.
        while proc.returncode is None and not readers.done():
            await asyncio.wait({readers}, timeout=0.5)
        code = await proc.wait()
        signal_group(proc.pid, signal.SIGKILL)
        try:
            await asyncio.wait_for(asyncio.shield(readers), timeout=30)
        except asyncio.TimeoutError:
            readers.cancel()
            return b"", code if code != 0 else 1
        return out.result(), code

    def _remove_leftovers(self, job: Job) -> None:
        """A stopped build leaves its private `tmp/<fingerprint>.*` folder behind (never read as a
        result, but disk space): remove it unless another process now builds the same thing."""
        if not job.fingerprint:
            return
        cache = Cache(self.cache_dir)
        if cache.is_building(job.fingerprint):
            return
        for leftover in cache.tmp_dir.glob(f"{job.fingerprint}.*"):
            shutil.rmtree(leftover, ignore_errors=True)

    def _failure_message(self, job: Job, code: int, stdout: bytes) -> str:
        if code < 0:
            name = (
                signal.Signals(-code).name
                if -code in signal.Signals._value2member_map_
                else str(-code)
            )
            return f"The build process was killed ({name})."
        with contextlib.suppress(ValueError, AttributeError):
            data = json.loads(stdout.decode())
            if isinstance(data, dict) and data.get("error"):
                return str(data["error"])
        for line in reversed(job.log):
            if line.strip():
                return line.strip()
        return f"The build failed (exit code {code})."

    async def _read_stderr(self, job: Job, stream: asyncio.StreamReader) -> None:
        while True:
            raw = await stream.readline()
            if not raw:
                return
            line = raw.decode(errors="replace").rstrip("\n")
            if line.startswith(EVENT_PREFIX):
                self._on_event(job, line[len(EVENT_PREFIX) :])
            else:
                job.log.append(line)

    def _on_event(self, job: Job, payload: str) -> None:
        event = ProgressEvent.from_line(EVENT_PREFIX + payload)
        if event is None:
            job.log.append(payload)
            return
        if event.message:
            job.log.append(f"[{event.phase}] {event.message}")
            job.message = event.message
        changed_phase = event.phase != job.phase
        job.phase = event.phase
        # A build reports packaging phases only; anything else leaves the bar where it is.
        lo, hi = _PHASE_SPAN.get(event.phase, (job.progress, job.progress))
        frac = min(max(event.fraction or 0.0, 0.0), 1.0)
        job.progress = max(job.progress, round(lo + (hi - lo) * frac, 4))
        if changed_phase:
            self._changed(job)

    def _finish(self, job: Job, state: str, message: str = "", error: str | None = None) -> None:
        job.state = state
        job.finished_at = now()
        job.error = error
        if message:
            job.message = message
        elif error:
            job.message = error
        self._changed(job)

    async def cancel(self, job_id: str) -> Job | None:
        job = self.jobs.get(job_id)
        if job is None:
            return None
        if job.state not in ACTIVE:
            return job
        self._cancelled.add(job.id)
        proc = self._procs.get(job.id)
        if proc is None:
            # Still waiting for a slot: it never started, nothing to clean.
            task = self._tasks.get(job.id)
            if task:
                task.cancel()
            self._finish(job, "cancelled", message="Cancelled before it started.")
            return job
        await stop_group_async(proc, TERM_GRACE_S)
        # _execute sees the cancel flag and records 'cancelled' once the process is reaped.
        task = self._tasks.get(job.id)
        if task:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(task), timeout=TERM_GRACE_S * 2)
        return job

    def kill_all(self) -> None:
        """Last resort at interpreter exit: no build process group outlives the server."""
        for proc in self._procs.values():
            signal_group(proc.pid, signal.SIGKILL)

    async def shutdown(self) -> None:
        """Server stopping: stop running builds; their records say 'running' -> 'interrupted' next start."""
        for job_id, proc in list(self._procs.items()):
            await stop_group_async(proc, TERM_GRACE_S)
            job = self.jobs.get(job_id)
            if job:
                job.state = "interrupted"
                job.error = "The server stopped while this build was running."
                job.finished_at = now()
                self._save(job)
        for task in list(self._tasks.values()):
            task.cancel()
