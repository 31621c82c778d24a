"""One call from an interpreter to shippable artifacts: inspect -> fingerprint -> cached or new
PEX -> editable zips -> upload.  The kernel helper, the server extension and the CLI all call
`package_environment`; none of them re-implements a step."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .cache import Cache, sha256_file
from .environment import Environment, inspect_interpreter
from .pex_build import BuildOptions, build_pex_ex
from .progress import ProgressCallback, ProgressEvent
from .storage import upload


@dataclass
class Artifact:
    kind: str  # "pex" | "editable"
    name: str  # file name (content-addressed)
    local_path: str
    url: str | None  # where it was uploaded, None if no storage was given
    size: int
    sha256: str
    project: str = ""  # for editables: the distribution name


@dataclass
class Artifacts:
    fingerprint: str
    env: Environment
    pex: Artifact
    editables: list[Artifact] = field(default_factory=list)
    reused: bool = False  # the PEX came from the cache (no pex run)
    seconds: float = 0.0
    storage: str | None = None
    warnings: list[str] = field(default_factory=list)
    # The PEX picks a node-level PEX_ROOT itself (pexlab.node_cache): the conf sets none.
    node_cache: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "python": self.env.python,
            "python_version": self.env.version,
            "platform": self.env.platform,
            "env": self.env.to_json(),
            "pex": asdict(self.pex),
            "editables": [asdict(e) for e in self.editables],
            "reused": self.reused,
            "seconds": round(self.seconds, 3),
            "storage": self.storage,
            "warnings": list(self.warnings),
            "node_cache": self.node_cache,
        }


def _stamp(env: Environment) -> list[list[object]]:
    """A cheap fingerprint of what an install/uninstall/upgrade touches: for every folder the
    distributions were found in, its mtime and the name + mtime of each metadata entry in it
    (`*.dist-info`, `*.egg-info`, `*.pth`, `*.egg-link`), the interpreter binary, and the
    folders of editable projects.  pip,
    uv and conda recreate a distribution's metadata folder on any change, so a changed
    environment changes the stamp; one `scandir` per site folder, ~1 ms."""
    out: list[list[object]] = []
    try:
        exe = os.stat(env.python)
        out.append([env.python, exe.st_mtime_ns, exe.st_size])
    except OSError:
        out.append([env.python, None])
    for folder in sorted({d.location for d in env.distributions if d.location}):
        try:
            entries = [[folder, os.stat(folder).st_mtime_ns]]
            with os.scandir(folder) as it:
                for e in it:
                    if e.name.endswith(_META_SUFFIXES):
                        entries.append([e.name, e.stat(follow_symlinks=False).st_mtime_ns])
        except OSError:
            entries = [[folder, None]]
        out.extend(sorted(entries, key=lambda x: str(x[0])))
    # Editable projects: their top-level names are read from their folders, so a package added
    # to or removed from a project (a folder entry) must count as a change too.
    for d in env.editables:
        assert d.editable is not None
        for folder in sorted({d.editable.project_dir, *d.editable.source_roots}):
            try:
                out.append([folder, os.stat(folder).st_mtime_ns])
            except OSError:
                out.append([folder, None])
    return out


_META_SUFFIXES = (".dist-info", ".egg-info", ".pth", ".egg-link")
# Bump when the probe reports something new, so inspections recorded without it are redone.
_RECORD_FORMAT = 2  # 2: cache_tag
_MEMO: dict[str, tuple[list[list[object]], Environment]] = {}


def inspect_cached(python: str | os.PathLike[str] | None, cache: Cache) -> tuple[Environment, bool]:
    """`inspect_interpreter(python)`, skipped when the environment's stamp (see `_stamp`) is the
    one recorded at the last inspection — in this process or, through the cache folder, in an
    earlier one.  Returns the environment and whether the recorded one was reused."""
    key = os.path.abspath(os.fspath(python) if python else sys.executable)
    memo = _MEMO.get(key)
    disk = cache.root / "inspect" / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".json")
    if memo is None:
        try:
            data = json.loads(disk.read_text())
            if data.get("format") != _RECORD_FORMAT:
                raise ValueError("recorded by an older pexlab")
            memo = (data["stamp"], Environment.from_json(data["env"]))
        except (OSError, ValueError, KeyError, TypeError):
            memo = None
    if memo is not None and _stamp(memo[1]) == memo[0]:
        _MEMO[key] = memo
        return memo[1], True
    env = inspect_interpreter(python)
    stamp = _stamp(env)
    _MEMO[key] = (stamp, env)
    try:
        disk.parent.mkdir(parents=True, exist_ok=True)
        tmp = disk.with_name(f".{disk.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"format": _RECORD_FORMAT, "stamp": stamp, "env": env.to_json()}))
        os.replace(tmp, disk)
    except OSError:
        pass  # the memo is an optimisation only
    return env, False


def _emit(
    progress: ProgressCallback | None, phase: str, fraction: float | None, message: str
) -> None:
    if progress is not None:
        progress(ProgressEvent(phase, fraction, message))


def package_environment(
    python: str | os.PathLike[str] | None = None,
    storage: str | None = None,
    options: BuildOptions | None = None,
    include_editable: bool = True,
    progress: ProgressCallback | None = None,
    cache: Cache | None = None,
    storage_options: dict[str, Any] | None = None,
    reuse_inspection: bool = True,
) -> Artifacts:
    """Inspect `python` (default: this interpreter), build or reuse its PEX, zip its editable
    projects and, when `storage` is given, upload everything there.

    `reuse_inspection`: skip the probe subprocess when the interpreter's site folders show no
    install, uninstall or upgrade since the last inspection (see `inspect_cached`)."""
    t0 = time.monotonic()
    options = options or BuildOptions()
    cache = cache or Cache()
    _emit(progress, "inspect", None, f"inspecting {python or 'this interpreter'}")
    env, _ = (
        inspect_cached(python, cache) if reuse_inspection else (inspect_interpreter(python), False)
    )
    _emit(
        progress, "inspect", 1.0, f"{len(env.installed)} installed, {len(env.editables)} editable"
    )
    warnings = list(env.warnings) + [
        f"{d.name}: {w}" for d in env.distributions for w in d.warnings
    ]

    record, reused = build_pex_ex(env, options, cache, progress)
    if reused:
        _emit(progress, "build", 1.0, f"reusing {record.path.name} (environment unchanged)")
    pex = Artifact(
        kind="pex",
        name=record.path.name,
        local_path=record.pex_path,
        url=None,
        size=record.size,
        sha256=record.sha256,
    )

    editables: list[Artifact] = []
    if include_editable and env.editables:
        from .editables import zip_editable  # lazy: only needed when there are editables

        out = cache.editables_dir
        out.mkdir(parents=True, exist_ok=True)
        for i, dist in enumerate(env.editables):
            _emit(progress, "zip", i / len(env.editables), f"zipping {dist.name}")
            z = Path(zip_editable(dist, out))
            editables.append(
                Artifact(
                    kind="editable",
                    name=z.name,
                    local_path=str(z),
                    url=None,
                    size=z.stat().st_size,
                    sha256=sha256_file(z),
                    project=dist.name,
                )
            )
        _emit(progress, "zip", 1.0, f"{len(editables)} editable zip(s)")

    if storage:
        todo = [pex, *editables]
        for i, art in enumerate(todo):
            _emit(progress, "upload", i / len(todo), f"uploading {art.name}")
            art.url = upload(Path(art.local_path), storage, progress, storage_options)
        cache.record_upload(record.fingerprint, storage, pex.url or "")

    return Artifacts(
        fingerprint=record.fingerprint,
        env=env,
        pex=pex,
        editables=editables,
        reused=reused,
        seconds=time.monotonic() - t0,
        storage=storage,
        warnings=warnings,
        node_cache=bool((record.options or {}).get("sh_boot")),
    )
