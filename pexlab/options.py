"""TEMPORARY stand-in for H1's `pexlab/options.py` (CONTRACT.md section A), so the server branch
runs before the engine split lands.  On `git merge engine`, take the engine's version of this
file as a whole.

The names the server relies on: `BuildOptions` (with `from_json` accepting a partial mapping,
`to_json` and `overrides()`) and `DEFAULT_EXCLUDES`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from .pex_build import BuildOptions as _EngineBuildOptions

DEFAULT_EXCLUDES: tuple[str, ...] = ("pyspark", "py4j", "pyspark-client", "pyspark-connect")


@dataclass(frozen=True)
class BuildOptions(_EngineBuildOptions):
    exclude: tuple[str, ...] = DEFAULT_EXCLUDES

    @classmethod
    def from_json(cls, data: Any) -> BuildOptions:  # type: ignore[override]
        if isinstance(data, BuildOptions):
            return data
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in dict(data or {}).items() if k in known}
        for k in ("exclude", "include", "extra_args"):
            if k in kw:
                kw[k] = tuple(kw[k])
        return cls(**kw)

    def overrides(self) -> dict[str, Any]:
        base, mine = BuildOptions().to_json(), self.to_json()
        return {k: v for k, v in mine.items() if base.get(k) != v}
