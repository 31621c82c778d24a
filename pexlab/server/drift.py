"""How a kernel's environment differs from a PEX built for its interpreter.

Pure functions over the engine's `BuildRecord` and `Environment`, so they are easy to test; the
record's options decide which distributions count.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pexlab.build.cache import BuildRecord
from pexlab.core.names import canonical_name as canonical
from pexlab.environment.interpreter import Environment


@dataclass(frozen=True)
class Change:
    name: str
    old: str
    new: str


@dataclass(frozen=True)
class EditableChange:
    name: str
    change: str  # "added" or "removed"
    project_dir: str = ""


@dataclass(frozen=True)
class Drift:
    state: str  # "missing", "up-to-date" or "stale"
    fingerprint: str | None = None  # of the last build for this interpreter
    built_at: float | None = None  # unix time, like BuildRecord.built_at
    added: list[dict[str, str]] = field(default_factory=list)
    removed: list[dict[str, str]] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    editables_changed: list[EditableChange] = field(default_factory=list)
    python_changed: Change | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _left_out(record: BuildRecord) -> set[str]:
    """Names the record's options kept out of the PEX (excluded and not put back)."""
    options = record.options or {}
    exclude = {canonical(n) for n in options.get("exclude", ()) or ()}
    include = {canonical(n) for n in options.get("include", ()) or ()}
    return exclude - include


def compare(env: Environment, record: BuildRecord | None) -> Drift:
    """Diff `env` against `record` (None: nothing was built)."""
    if record is None:
        return Drift(state="missing")
    left_out = _left_out(record)
    now = {canonical(d.name): d.version for d in env.installed if canonical(d.name) not in left_out}
    then = {
        canonical(d["name"]): str(d.get("version", ""))
        for d in record.distributions
        if canonical(d["name"]) not in left_out
    }
    added = [{"name": n, "version": now[n]} for n in sorted(now.keys() - then.keys())]
    removed = [{"name": n, "version": then[n]} for n in sorted(then.keys() - now.keys())]
    changed = [
        Change(n, then[n], now[n]) for n in sorted(now.keys() & then.keys()) if now[n] != then[n]
    ]

    # Editable projects travel as zips made at each session from their folder, so only the set
    # of names counts (a record keeps names only: a moved project is zipped from its new place).
    eds_now = {canonical(d.name): d.editable.project_dir for d in env.editables if d.editable}
    eds_then = {canonical(n) for n in record.editables}
    editables_changed = [
        EditableChange(n, "added", eds_now[n]) for n in sorted(eds_now.keys() - eds_then)
    ]
    editables_changed += [EditableChange(n, "removed") for n in sorted(eds_then - eds_now.keys())]
    old_py = record.python_version
    python_changed = (
        Change("python", old_py, env.version) if old_py and old_py != env.version else None
    )

    stale = bool(added or removed or changed or editables_changed or python_changed)
    return Drift(
        state="stale" if stale else "up-to-date",
        fingerprint=record.fingerprint,
        built_at=record.built_at,
        added=added,
        removed=removed,
        changed=changed,
        editables_changed=editables_changed,
        python_changed=python_changed,
    )
