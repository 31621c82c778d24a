"""Spark job progress under the notebook cell that runs the job (classic sessions made by pexlab).

Spark's own console progress bar (off by default under pexlab) draws with carriage returns on
stderr, which garbles a cell's output.  Instead, inside an IPython kernel only, a daemon thread
polls the context's status tracker every `INTERVAL` seconds and keeps one display per cell up to
date: a line per running job (stages done/total, tasks done/total, elapsed).  IPython's
`pre_run_cell`/`post_run_cell` events tell which cell runs: a new cell gets a new display (the
kernel's current parent header is the running cell's), and when the cell ends its display is
replaced by one final line (or cleared when no job ran long enough to be drawn).  The thread
only reads the tracker (nothing is added to the job), and it ends, joined, when the context
stops (`sc.stop()`, also through `SparkSession.stop()`).
"""

from __future__ import annotations

import contextlib
import html
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pexlab.spark.notebook_progress import _ipython_display

if TYPE_CHECKING:
    from pyspark import SparkContext

INTERVAL = 0.5
THREAD_NAME = "pexlab-job-progress"
_ATTR = "_pexlab_job_progress"


@dataclass
class _Job:
    job_id: int
    started: float
    stages_done: int = 0
    stages: int = 0
    tasks_done: int = 0
    tasks: int = 0
    failed: int = 0
    finished: float | None = None

    def line(self, now: float) -> str:
        end = self.finished if self.finished is not None else now
        state = "done" if self.finished is not None else "running"
        text = (
            f"Spark job {self.job_id} {state}: stages {self.stages_done}/{self.stages} · "
            f"tasks {self.tasks_done}/{self.tasks}"
        )
        if self.failed:
            text += f" ({self.failed} failed)"
        return text + f" · {end - self.started:.1f} s"


class JobProgress:
    """The poller of one SparkContext (see the module docstring)."""

    def __init__(self, sc: SparkContext, display: Any, shell: Any) -> None:
        self._sc = sc
        self._display = display
        self._shell = shell
        self._lock = threading.Lock()
        self._stop = threading.Event()
        # Jobs come from cells: an idle kernel makes no JVM call.  Set at once, because the
        # context is made by a running cell (its pre_run_cell has passed).
        self._in_cell = threading.Event()
        self._in_cell.set()
        self._jobs: dict[int, _Job] = {}
        self._handle: Any = None
        shell.events.register("pre_run_cell", self._pre_run_cell)
        shell.events.register("post_run_cell", self._post_run_cell)
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    # -- IPython events (main thread) ---------------------------------------------------------

    def _pre_run_cell(self, *_: Any) -> None:
        with self._lock:
            self._jobs = {}
            self._handle = None
        self._in_cell.set()

    def _post_run_cell(self, *_: Any) -> None:
        with self._lock:
            self._poll()
            now = time.monotonic()
            for job in self._jobs.values():
                if job.finished is None:
                    job.finished = now
            if self._handle is not None:
                self._draw(now)  # the final state: every job marked done
            self._handle = None
            self._jobs = {}
        self._in_cell.clear()

    # -- the poller ---------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL):
            if not self._in_cell.is_set():
                continue
            if getattr(self._sc, "_jsc", None) is None:
                break
            with self._lock:
                try:
                    changed = self._poll()
                    if changed:
                        self._draw(time.monotonic())
                except Exception:  # the JVM going away under us; never the user's problem
                    if getattr(self._sc, "_jsc", None) is None:
                        break

    def _poll(self) -> bool:
        """Read the tracker (lock held); True when there is something to draw."""
        if getattr(self._sc, "_jsc", None) is None:
            return False
        tracker = self._sc.statusTracker()
        now = time.monotonic()
        active = set(tracker.getActiveJobsIds())
        for job_id in active:
            job = self._jobs.setdefault(job_id, _Job(job_id, now))
            info = tracker.getJobInfo(job_id)
            if info is None:
                continue
            stages = [tracker.getStageInfo(s) for s in info.stageIds]
            known = [s for s in stages if s is not None]
            job.stages = len(info.stageIds)
            job.tasks = sum(s.numTasks for s in known)
            job.tasks_done = sum(s.numCompletedTasks for s in known)
            job.failed = sum(s.numFailedTasks for s in known)
            job.stages_done = sum(
                1 for s in known if s.numTasks and s.numCompletedTasks >= s.numTasks
            )
        just_finished = False
        for job in self._jobs.values():
            if job.job_id not in active and job.finished is None:
                job.finished = now
                job.stages_done = job.stages
                job.tasks_done = max(job.tasks_done, job.tasks - job.failed)
                just_finished = True
        return bool(active) or just_finished

    def _draw(self, now: float) -> None:
        if not self._jobs:
            return
        lines = [job.line(now) for job in sorted(self._jobs.values(), key=lambda j: j.job_id)]
        rows = []
        for job in sorted(self._jobs.values(), key=lambda j: j.job_id):
            frac = job.tasks_done / job.tasks if job.tasks else 0.0
            rows.append(
                f'<div><progress value="{frac:.3f}" max="1" style="width:12em"></progress> '
                f"{html.escape(job.line(now))}</div>"
            )
        bundle = {
            "text/plain": "\n".join(lines),
            "text/html": "<div class='pexlab-jobs'>" + "".join(rows) + "</div>",
        }
        if self._handle is None:
            self._handle = self._display.display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def close(self) -> None:
        """Stop polling (the thread is joined) and leave IPython's events."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        for name, hook in (
            ("pre_run_cell", self._pre_run_cell),
            ("post_run_cell", self._post_run_cell),
        ):
            with contextlib.suppress(ValueError):
                self._shell.events.unregister(name, hook)


def watch(sc: SparkContext) -> JobProgress | None:
    """Show `sc`'s jobs under the running cell, when inside an IPython kernel; the poller stops
    with the context (its `stop` is wrapped on this instance)."""
    display = _ipython_display()
    if display is None:
        return None
    shell = sys.modules["IPython"].get_ipython()
    progress = JobProgress(sc, display, shell)
    setattr(sc, _ATTR, progress)
    stop = sc.stop

    def stop_and_close() -> None:
        try:
            stop()
        finally:
            progress.close()

    # On this instance only: a context pexlab did not watch keeps SparkContext.stop.
    setattr(sc, "stop", stop_and_close)  # noqa: B010
    return progress
