"""One build job as the server keeps it, lists it and writes it to disk."""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

STATES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Job:
    id: str
    kernel_id: str
    python: str
    fingerprint: str | None
    storage: str | None
    options: dict[str, Any]  # the full BuildOptions.to_json() the server fingerprinted
    include_editable: bool = True
    # The editable zips (by content-hashed name) the environment gave when the job was asked
    # for; None in records of older servers (never matched: their code is unknown).
    editables: list[str] | None = None
    state: str = "queued"
    phase: str | None = None
    progress: float = 0.0
    message: str = ""
    error: str | None = None
    artifacts: dict[str, Any] | None = None
    created_at: str = field(default_factory=now)
    started_at: str | None = None
    finished_at: str | None = None
    pid: int | None = None
    log: deque[str] = field(default_factory=lambda: deque(maxlen=200))

    def to_json(self, log_tail: int | None = None) -> dict[str, Any]:
        data = asdict(self)
        lines = list(self.log)
        data["log"] = lines[-log_tail:] if log_tail else lines
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], maxlen: int = 200) -> Job:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data and k != "log"}
        job = cls(**known)
        job.log = deque(data.get("log", ()), maxlen=maxlen)
        return job
