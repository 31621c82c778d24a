"""Spark job progress under the notebook cell that runs the job, for sessions made by pexlab.

Spark's own console progress (off under pexlab, classic and Connect alike) draws with carriage
returns, which garbles a cell's output.  Instead, inside an IPython kernel only, one display per
cell shows a line per job (stages done/total, tasks done/total, elapsed), updated in place.
IPython's `pre_run_cell`/`post_run_cell` events tell which cell runs: a new cell gets a new
display (the kernel's current parent header is the running cell's), and when the cell ends its
display is replaced by one final line per job, or nothing when no job was drawn.

Where the numbers come from:

- Classic: a daemon thread polls the context's status tracker every `INTERVAL` seconds, only
  while a cell runs (an idle kernel makes no JVM call).  It only reads the tracker (nothing is
  added to the job), and it ends, joined, when the context stops.
- Spark Connect: the client's progress handler (`registerProgressHandler`, Spark 4), which the
  client calls, in the thread that runs the query, each time the server reports progress
  (`spark.connect.progress.reportInterval`).  One line per operation.  Redraws are throttled to
  one per `INTERVAL` so that a chatty server never slows the query; the handler is removed when
  the session stops.
"""

from __future__ import annotations

import contextlib
import html
import sys
import threading
import time
from collections.abc import Iterable
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
    label: str
    started: float
    stages_done: int = 0
    stages: int = 0
    tasks_done: int = 0
    tasks: int = 0
    failed: int = 0
    finished: float | None = None
    # "done", or "stopped" when the cell raised: a job cut short by an error is not done.
    outcome: str = "done"

    def line(self, now: float) -> str:
        end = self.finished if self.finished is not None else now
        state = self.outcome if self.finished is not None else "running"
        text = (
            f"{self.label} {state}: stages {self.stages_done}/{self.stages} · "
            f"tasks {self.tasks_done}/{self.tasks}"
        )
        if self.failed:
            text += f" ({self.failed} failed)"
        return text + f" · {end - self.started:.1f} s"


class CellBoard:
    """The jobs of the running cell and their one display.  Callers hold `lock` around every
    method but the IPython event hooks, which take it themselves."""

    def __init__(self, display: Any, shell: Any, on_cell_end: Any = None) -> None:
        self.lock = threading.Lock()
        self._display = display
        self._shell = shell
        self._on_cell_end = on_cell_end
        self.jobs: dict[Any, _Job] = {}
        self._handle: Any = None
        # The board is made by a running cell (its pre_run_cell has passed).
        self.in_cell = threading.Event()
        self.in_cell.set()
        shell.events.register("pre_run_cell", self._pre_run_cell)
        shell.events.register("post_run_cell", self._post_run_cell)

    def _pre_run_cell(self, *_: Any) -> None:
        with self.lock:
            self.jobs = {}
            self._handle = None
        self.in_cell.set()

    def _post_run_cell(self, result: Any = None, *_: Any) -> None:
        raised = getattr(result, "error_in_exec", None) is not None
        with self.lock:
            if self._on_cell_end is not None:
                self._on_cell_end()
            now = time.monotonic()
            for job in self.jobs.values():
                if job.finished is None:
                    job.finished = now
                    if raised:
                        job.outcome = "stopped"
            if self._handle is not None:
                self.draw(now)  # the final state: every job marked done
            self._handle = None
            self.jobs = {}
        self.in_cell.clear()

    def draw(self, now: float) -> None:
        if not self.jobs:
            return
        jobs = list(self.jobs.values())
        lines = [job.line(now) for job in jobs]
        rows = [
            f'<div><progress value="{job.tasks_done / job.tasks if job.tasks else 0.0:.3f}" '
            f'max="1" style="width:12em"></progress> {html.escape(line)}</div>'
            for job, line in zip(jobs, lines, strict=True)
        ]
        bundle = {
            "text/plain": "\n".join(lines),
            "text/html": "<div class='pexlab-jobs'>" + "".join(rows) + "</div>",
        }
        if self._handle is None:
            self._handle = self._display.display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def close(self) -> None:
        for name, hook in (
            ("pre_run_cell", self._pre_run_cell),
            ("post_run_cell", self._post_run_cell),
        ):
            with contextlib.suppress(ValueError):
                self._shell.events.unregister(name, hook)


class JobProgress:
    """The status-tracker poller of one classic SparkContext (see the module docstring)."""

    def __init__(self, sc: SparkContext, display: Any, shell: Any) -> None:
        self._sc = sc
        self._stop = threading.Event()
        self.board = CellBoard(display, shell, on_cell_end=self._poll)
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        board = self.board
        while not self._stop.wait(INTERVAL):
            if not board.in_cell.is_set():
                continue
            if getattr(self._sc, "_jsc", None) is None:
                break
            with board.lock:
                try:
                    if self._poll():
                        board.draw(time.monotonic())
                except Exception:  # the JVM going away under us; never the user's problem
                    if getattr(self._sc, "_jsc", None) is None:
                        break

    def _poll(self) -> bool:
        """Read the tracker (board lock held); True when there is something to draw."""
        if getattr(self._sc, "_jsc", None) is None:
            return False
        jobs = self.board.jobs
        tracker = self._sc.statusTracker()
        now = time.monotonic()
        active = set(tracker.getActiveJobsIds())
        for job_id in sorted(active):
            job = jobs.setdefault(job_id, _Job(f"Spark job {job_id}", now))
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
        for job_id, job in jobs.items():
            if job_id not in active and job.finished is None:
                job.finished = now
                job.stages_done = job.stages
                job.tasks_done = max(job.tasks_done, job.tasks - job.failed)
                just_finished = True
        return bool(active) or just_finished

    def close(self) -> None:
        """Stop polling (the thread is joined) and leave IPython's events."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self.board.close()


class ConnectProgress:
    """A Spark Connect progress handler that draws on a `CellBoard` (see the module docstring).
    The client calls it with keywords: stages, inflight_tasks, operation_id, done."""

    def __init__(self, display: Any, shell: Any) -> None:
        self.board = CellBoard(display, shell)
        self._drawn = 0.0

    def __call__(
        self,
        stages: Iterable[Any] | None,
        inflight_tasks: int,
        operation_id: str | None,
        done: bool,
    ) -> None:
        board = self.board
        now = time.monotonic()
        known = list(stages or ())
        with board.lock:
            job = board.jobs.get(operation_id)
            if job is None:
                if not known:
                    return  # an operation without Spark stages (conf, schema): nothing to show
                job = _Job(f"Spark query {len(board.jobs) + 1}", now)
                board.jobs[operation_id] = job
            if known:
                job.stages = len(known)
                job.stages_done = sum(1 for s in known if s.done)
                job.tasks = sum(s.num_tasks for s in known)
                job.tasks_done = sum(s.num_completed_tasks for s in known)
            if done:
                job.finished = now
                # The client reports the end from its `with` block's exit, so an exception on
                # its way out is the query's failure.  Otherwise the query has finished, even
                # when the server's last report predates the end.
                if sys.exc_info()[0] is not None:
                    job.outcome = "stopped"
                else:
                    job.stages_done = job.stages
                    job.tasks_done = job.tasks
            elif now - self._drawn < INTERVAL:
                return
            self._drawn = now
            board.draw(now)

    def close(self) -> None:
        self.board.close()


def _stop_then(obj: Any, close: Any) -> None:
    """Wrap `obj.stop` on this instance only, so that stopping it also runs `close`: an object
    pexlab did not watch keeps its class's `stop`."""
    stop = obj.stop

    def stop_and_close() -> None:
        try:
            stop()
        finally:
            close()

    setattr(obj, "stop", stop_and_close)  # noqa: B010


def watch(sc: SparkContext) -> JobProgress | None:
    """Show `sc`'s jobs under the running cell, when inside an IPython kernel; the poller stops
    with the context."""
    display = _ipython_display()
    if display is None:
        return None
    progress = JobProgress(sc, display, sys.modules["IPython"].get_ipython())
    setattr(sc, _ATTR, progress)
    _stop_then(sc, progress.close)
    return progress


def watch_connect(session: Any) -> ConnectProgress | None:
    """Show a Spark Connect session's operations under the running cell, when inside an IPython
    kernel; the handler goes away when the session stops."""
    display = _ipython_display()
    if display is None or not hasattr(session, "registerProgressHandler"):
        return None
    progress = ConnectProgress(display, sys.modules["IPython"].get_ipython())
    session.registerProgressHandler(progress)
    setattr(session, _ATTR, progress)

    def close() -> None:
        with contextlib.suppress(Exception):  # a client already closed has no handlers left
            session.removeProgressHandler(progress)
        progress.close()

    _stop_then(session, close)
    return progress
