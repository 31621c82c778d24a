"""How a kernel's environment differs from the last PEX built for its interpreter.

Pure functions over plain data so they are easy to test; the engine's `BuildRecord` is read
through `getattr` (it is a dataclass) and its options decide which distributions count.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pexlab.environment import Environment
from pexlab.names import canonical_name as canonical


@dataclass(frozen=True)
class Change:
    name: str
    old: str
    new: str


@dataclass(frozen=True)
class EditableChange:
    name: str
    change: str  # "added", "removed" or "moved" (project folder differs)
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


def _record_excludes(record: Any) -> set[str]:
    options = getattr(record, "options", None) or {}
    if not isinstance(options, dict):
        options = asdict(options) if hasattr(options, "__dataclass_fields__") else {}
    return {canonical(n) for n in options.get("exclude", ()) or ()}


def _editable_map(items: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or ():
        if isinstance(item, str):
            out[canonical(item)] = ""
        elif isinstance(item, dict):
            name = item.get("name") or ""
            out[canonical(name)] = str(item.get("project_dir") or item.get("path") or "")
    return out


def compare(env: Environment, record: Any | None) -> Drift:
    """Diff `env` against `record` (a BuildRecord or None)."""
    if record is None:
        return Drift(state="missing")
    excludes = _record_excludes(record)
    now = {canonical(d.name): d.version for d in env.installed if canonical(d.name) not in excludes}
    then = {
        canonical(d["name"]): str(d.get("version", ""))
        for d in (getattr(record, "distributions", None) or ())
        if canonical(d["name"]) not in excludes
    }
    added = [{"name": n, "version": now[n]} for n in sorted(now.keys() - then.keys())]
    removed = [{"name": n, "version": then[n]} for n in sorted(then.keys() - now.keys())]
    changed = [
        Change(n, then[n], now[n]) for n in sorted(now.keys() & then.keys()) if now[n] != then[n]
    ]

    eds_now = {canonical(d.name): d.editable.project_dir for d in env.editables if d.editable}
    eds_then = _editable_map(getattr(record, "editables", None))
    editables_changed = [
        EditableChange(n, "added", eds_now[n]) for n in sorted(eds_now.keys() - eds_then.keys())
    ]
    editables_changed += [
        EditableChange(n, "removed", eds_then[n]) for n in sorted(eds_then.keys() - eds_now.keys())
    ]
    editables_changed += [
        EditableChange(n, "moved", eds_now[n])
        for n in sorted(eds_now.keys() & eds_then.keys())
        if eds_then[n] and eds_now[n] != eds_then[n]
    ]
    old_py = str(getattr(record, "python_version", "") or "")
    python_changed = (
        Change("python", old_py, env.version) if old_py and old_py != env.version else None
    )

    stale = bool(added or removed or changed or editables_changed or python_changed)
    return Drift(
        state="stale" if stale else "up-to-date",
        fingerprint=getattr(record, "fingerprint", None),
        built_at=getattr(record, "built_at", None),
        added=added,
        removed=removed,
        changed=changed,
        editables_changed=editables_changed,
        python_changed=python_changed,
    )
