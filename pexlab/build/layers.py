"""The layered layout (`BuildOptions(layout="layers")`): one content-addressed zip per
distribution, plus a small launcher that assembles them on each node.

pex's `--layout packed` writes a PEX as a folder: `PEX-INFO`, `__main__.py`, `.bootstrap` (pex's
runtime, one zip) and `.deps/<wheel>` (one zip per distribution, keyed in PEX-INFO by the hash
of its installed contents).  pex caches those zips in its own PEX_ROOT (`packed_wheels/`), so a
rebuild after one `pip install` zips only the new distribution (pexlab keeps that property for
its own rewrite of the zips, below).

What pexlab makes of that folder, in the build's cache entry:

- `layers/pexlab-layer-<sha16>-<wheel>`: each `.deps` zip, deflated at the build's level with
  the kernel venv's bytecode added (as for a single-file PEX: `pexlab.build.bytecode`), named
  by the hash of its bytes, so storage and Spark can treat the name as the identity and skip
  what they already hold.  A rebuild links the layers an earlier build of the same interpreter
  made for the same distribution instead of making them again;
- `pexlab-env-<fp16>.pex`: the launcher, an `sh` script (`pexlab.nodecache.launcher`
  `layered_launcher`) carrying the node-cache preamble, the manifest of layers, the small rest
  of the folder (user code, `pex -D`) and the script that turns layers into a venv on a node
  (`pexlab.nodecache.assemble`).  It is the only file an application must ship: a node
  unpacks each layer it lacks once, where pex would (`installed_wheels/<n>/<hash>`), and links
  a venv from them.  pex's runtime is not shipped: nodes never run pex.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from pexlab.build.bytecode import Bytecode
from pexlab.build.cache import LAYERS_DIR, sha256_file
from pexlab.build.zip_rewrite import rewrite
from pexlab.core.errors import PexlabError
from pexlab.nodecache.launcher import layered_launcher

# Of the packed folder, what is pex's and not the launcher's to carry: the layers, pex's
# runtime, its metadata and entry points (nodes never run pex).  The rest is user code
# (`pex -D`), which the node puts in the venv's site-packages.
_NOT_HEAD = (".bootstrap", ".deps", "pex", "__pex__", "PEX-INFO", "__main__.py")
# pex's folder of unpacked distributions in PEX_ROOT, `installed_wheels/<version>`, as pex's
# runtime in the bootstrap names it (`pex.cache.dirs`): the node unpacks layers there, where
# pex itself would, so single-file PEXes on the node share them.
_WHEELS_DIR = re.compile(rb'INSTALLED_WHEELS = Value\(\s*"(installed_wheels)",\s*version=(\d+)')


class LayersError(PexlabError):
    """pex wrote a packed folder pexlab cannot turn into layers."""


@dataclass(frozen=True)
class Layer:
    """One shipped zip: a distribution (`wheel` names it in pex's `.deps`)."""

    file: str  # content-addressed file name, the same locally, in storage and on executors
    wheel: str  # the name pex gives it in `.deps` (and in `installed_wheels/<n>/<hash>/`)
    hash: str  # pex's hash of its installed contents (its `installed_wheels/<hash>` folder)
    size: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Layer:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)  # pex's packed_wheels cache holds the bytes already
    except OSError:
        shutil.copyfile(src, dst)


def _check_name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or "/" in value or value.startswith("."):
        raise LayersError(f"pex's PEX-INFO has an unusable {what}: {value!r}")
    return value


# A finished layer of an earlier build, by (pex's hash of the distribution, wheel name).
Earlier = dict[tuple[str, str], Path]


def make_layers(
    packed: Path,
    entry: Path,
    level: int,
    bytecode: Bytecode | None = None,
    earlier: Earlier | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[Layer]:
    """The packed folder's distributions as layers in `entry/layers/`, in PEX-INFO's order: each
    deflated at `level` with the venv's bytecode added (`pexlab.build.zip_rewrite`), or linked
    from an earlier build that made the same one.  pex's runtime (`.bootstrap`) is not a layer:
    nodes make the venv without pex (`pexlab.nodecache.assemble`)."""
    try:
        info = json.loads((packed / "PEX-INFO").read_text())
    except (OSError, ValueError) as exc:
        raise LayersError(f"pex wrote no readable PEX-INFO in {packed}: {exc}") from exc
    out = entry / LAYERS_DIR
    out.mkdir(parents=True, exist_ok=True)
    wanted = [
        (packed / ".deps" / wheel, _check_name(wheel, "wheel name"), _check_name(h, "hash"))
        for wheel, h in sorted((info.get("distributions") or {}).items())
    ]
    pyc = replace(bytecode, in_deps=False) if bytecode is not None else None
    layers = []
    for i, (src, wheel, dist_hash) in enumerate(wanted):
        if not src.is_file():
            raise LayersError(f"pex's packed folder lacks {src.relative_to(packed)}")
        if progress is not None:
            progress(i, len(wanted), wheel)
        made = (earlier or {}).get((dist_hash, wheel))
        tmp = out / f".{wheel}.tmp"
        if made is not None:
            _link_or_copy(made, tmp)
        else:
            rewrite(src, tmp, level, bytecode=pyc)  # entries named relative to the distribution
        digest = sha256_file(tmp)
        name = f"pexlab-layer-{digest[:16]}-{wheel}"
        os.rename(tmp, out / name)
        layers.append(
            Layer(
                file=name,
                wheel=wheel,
                hash=dist_hash,
                size=(out / name).stat().st_size,
                sha256=digest,
            )
        )
    return layers


def head_zip(packed: Path) -> bytes:
    """The packed folder's user code, which the launcher carries, as one small zip."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(packed.rglob("*")):
            rel = path.relative_to(packed)
            if rel.parts[0] not in _NOT_HEAD and path.is_file():
                zf.write(path, rel.as_posix())
    return buf.getvalue()


def wheels_dir(packed: Path) -> str:
    """Where pex's runtime in this folder keeps unpacked distributions under PEX_ROOT."""
    try:
        with zipfile.ZipFile(packed / ".bootstrap") as zf:
            source = zf.read("pex/cache/dirs.py")
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise LayersError(
            f"pex's bootstrap in {packed} has no readable cache layout: {exc}"
        ) from exc
    found = _WHEELS_DIR.search(source)
    if found is None:
        raise LayersError(
            "this pex names its installed_wheels folder in a way pexlab does not know; "
            "use a pex version pexlab supports (see pyproject.toml) or layout='zipapp'"
        )
    return f"{found[1].decode()}/{found[2].decode()}"


def write_launcher(
    packed: Path, layers: list[Layer], target: Path, eid: str, pex_hash: str, python: str
) -> None:
    """The launcher script for the packed folder's environment, executable."""
    manifest = {
        "pex_hash": pex_hash,
        "wheels_dir": wheels_dir(packed),
        "layers": [
            {"file": x.file, "wheel": x.wheel, "hash": x.hash, "size": x.size} for x in layers
        ],
    }
    text = layered_launcher(
        eid,
        pex_hash,
        python,
        json.dumps(manifest, sort_keys=True),
        base64.b64encode(head_zip(packed)).decode(),
    )
    target.write_text(text)
    target.chmod(0o755)
