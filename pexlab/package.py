"""One call from an interpreter to shippable artifacts: inspect -> fingerprint -> cached or new
PEX -> editable zips -> upload.  The kernel helper, the server extension and the CLI all call
`package_environment`; none of them re-implements a step."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pexlab.build.cache import Cache, sha256_file
from pexlab.build.editable_native import check_shippable
from pexlab.build.options import BuildOptionsLike
from pexlab.build.pex import build_pex
from pexlab.core.progress import ProgressCallback, report
from pexlab.core.sizes import format_size
from pexlab.environment.interpreter import Environment
from pexlab.storage.upload import preflight, shared_folder, upload


@dataclass
class Artifact:
    kind: str  # "pex" | "editable" | "layer"
    name: str  # file name (content-addressed)
    local_path: str
    url: str | None  # where it was uploaded, None if no storage was given
    size: int
    sha256: str
    project: str = ""  # for editables: the distribution name

    @property
    def location(self) -> str:
        """Where executors fetch it: the URL it was uploaded to, else the local file."""
        return str(self.url or self.local_path)


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
    # The PEX picks a node-level PEX_ROOT itself (pexlab.nodecache.upkeep): the conf sets none.
    node_cache: bool = False
    # The layered layout (pexlab.build.layers): `pex` is its launcher, these are its zips.
    layers: list[Artifact] = field(default_factory=list)
    # Where executors read the layers their node lacks ($PEXLAB_LAYERS, pexlab.nodecache.launcher):
    # a storage folder they see at the same path.  None: the layers travel with the application.
    layer_source: str | None = None
    layers_sent: int = 0  # layers uploaded to storage by this call (the rest were there)

    def env_files(self) -> list[Artifact]:
        """What an application must ship for the environment itself (not the editable zips):
        the PEX, or the launcher and, unless executors read them from `layer_source`, the
        layers."""
        return [self.pex, *(self.layers if self.layer_source is None else [])]

    def describe(self) -> str:
        """What ships, in one phrase of the session's summary line (classic and Connect)."""
        text = (
            f"PEX {'reused' if self.reused else 'built'} {self.pex.name} "
            f"({format_size(self.pex.size)})"
        )
        if self.layers:
            text = (
                f"PEX {'reused' if self.reused else 'built'} {self.pex.name}: "
                f"{len(self.layers)} layers ({format_size(sum(x.size for x in self.layers))})"
            )
            if self.storage:
                text += f", {self.layers_sent} uploaded"
        if self.editables:
            text += (
                f" + {len(self.editables)} editable zip(s) "
                f"({format_size(sum(z.size for z in self.editables))})"
            )
        return text

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
            "layers": [asdict(x) for x in self.layers],
            "layer_source": self.layer_source,
            "layers_sent": self.layers_sent,
        }


def inspect_cached(python: str | os.PathLike[str] | None, cache: Cache) -> tuple[Environment, bool]:
    """`cache.inspector.inspect(python)` (see `pexlab.environment.inspection.Inspector`)."""
    return cache.inspector.inspect(python)


def package_environment(
    python: str | os.PathLike[str] | None = None,
    storage: str | None = None,
    options: BuildOptionsLike = None,
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
    cache = cache or Cache()
    if storage:
        # A storage that cannot take the artifacts fails now, not after a long build.
        preflight(storage, storage_options)
    report(progress, "inspect", None, f"inspecting {python or 'this interpreter'}")
    env, _ = cache.inspector.inspect(python, reuse=reuse_inspection)
    report(
        progress, "inspect", 1.0, f"{len(env.installed)} installed, {len(env.editables)} editable"
    )
    warnings = list(env.warnings) + [
        f"{d.name}: {w}" for d in env.distributions for w in d.warnings
    ]
    if include_editable:  # an editable pexlab cannot ship fails now, before a long build
        for dist in env.editables:
            check_shippable(dist)

    record, reused = build_pex(env, options, cache, progress)
    if reused:
        report(progress, "build", 1.0, f"reusing {record.path.name} (environment unchanged)")
    pex = Artifact(
        kind="pex",
        name=record.path.name,
        local_path=record.pex_path,
        url=None,
        size=record.size,
        sha256=record.sha256,
    )

    layers = [
        Artifact(
            kind="layer",
            name=str(x["file"]),
            local_path=str(record.layer_path(x)),
            url=None,
            size=int(x["size"]),
            sha256=str(x["sha256"]),
        )
        for x in record.layers
    ]
    editables: list[Artifact] = []
    if include_editable and env.editables:
        from pexlab.build.editables import (
            zip_editable,  # lazy: only needed when there are editables
        )

        out = cache.editables_dir
        out.mkdir(parents=True, exist_ok=True)
        for i, dist in enumerate(env.editables):
            report(progress, "zip", i / len(env.editables), f"zipping {dist.name}")
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
        report(progress, "zip", 1.0, f"{len(editables)} editable zip(s)")

    sent = 0
    if storage:
        todo = [pex, *layers, *editables]
        for i, art in enumerate(todo):
            report(progress, "upload", i / len(todo), f"uploading {art.name}")
            skipped: list[str] = []
            art.url = upload(Path(art.local_path), storage, progress, storage_options, skipped)
            sent += art.kind == "layer" and not skipped
        cache.record_upload(record.fingerprint, storage, pex.url or "")
        if layers:
            report(progress, "upload", 1.0, f"{sent} of {len(layers)} layers were not in storage")

    return Artifacts(
        fingerprint=record.fingerprint,
        env=env,
        pex=pex,
        editables=editables,
        reused=reused,
        seconds=time.monotonic() - t0,
        storage=storage,
        warnings=warnings,
        node_cache=bool((record.options or {}).get("sh_boot")) or bool(layers),
        layers=layers,
        layer_source=shared_folder(storage) if storage and layers else None,
        layers_sent=sent,
    )
