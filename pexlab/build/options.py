"""How a PEX is built: the one options object, its defaults and its wire format.

`BuildOptions` travels unchanged from the server's handler to the fingerprint, to the build
subprocess (`pexlab build --options-json`) and into the cache record, and the environment
response hands `overrides()` to the cells the panel inserts, so a panel build and the cell that
follows compute the same fingerprint.  Every public function taking `options` accepts a
`BuildOptions`, a (possibly partial) JSON-like mapping, or None for the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeAlias

from pexlab.core.errors import PexlabError
from pexlab.core.names import canonical_name

# Left out of every PEX by default: the cluster brings its own Spark (executors put pyspark.zip
# and py4j on their PYTHONPATH), and the Spark Connect client packages are useless there.
DEFAULT_EXCLUDES: tuple[str, ...] = ("pyspark", "py4j", "pyspark-client", "pyspark-connect")
# Why each default exclude is left out, in words for people (the panel shows them).
PROVIDED_BY_CLUSTER = "provided by the cluster (Spark's own python/lib)"
DEFAULT_EXCLUDE_REASONS: dict[str, str] = {
    "pyspark": PROVIDED_BY_CLUSTER,
    "py4j": PROVIDED_BY_CLUSTER,
    "pyspark-client": "Spark Connect client: executors use the cluster's Spark",
    "pyspark-connect": "Spark Connect client: executors use the cluster's Spark",
}
INHERIT_PATH_VALUES = ("false", "prefer", "fallback")
# "zipapp": one PEX file (what spark-submit and CI ship).  "layers": one content-addressed zip
# per distribution plus a small launcher that assembles them on each node (pexlab.build.layers).
LAYOUT_VALUES = ("zipapp", "layers")
_NAME_LISTS = ("exclude", "include")


class OptionsError(PexlabError, ValueError):
    """Build options that cannot be used (unknown key, wrong type)."""


@dataclass(frozen=True)
class BuildOptions:
    # Left out of the PEX (the cluster provides them). Names, PEP 503-normalised on use.
    exclude: tuple[str, ...] = DEFAULT_EXCLUDES
    # Put back even if listed in `exclude` (e.g. include=("pyspark",) to ship your own).
    include: tuple[str, ...] = ()
    compress: bool = False  # deflate at level 6 (smaller, ~4x the CPU of level 1 for big envs)
    # When not `compress`: deflate level pexlab applies to pex's stored zipapp (0 = keep stored).
    zip_level: int = 1
    bytecode: bool = True  # ship the venv's .pyc files (see pexlab.build.bytecode)
    venv: bool = True  # pex --venv: faster warm start on executors (see pexlab.build.pex)
    inherit_path: str = "fallback"  # "false" | "prefer" | "fallback"
    max_install_jobs: int = 0
    # pex --sh-boot + the node-cache launcher preamble (see pexlab.build.pex, pexlab.nodecache.upkeep).
    sh_boot: bool = True
    layout: str = "zipapp"  # LAYOUT_VALUES
    extra_args: tuple[str, ...] = field(default=())  # passed to pex as-is, last

    @property
    def level(self) -> int:
        """The deflate level of the PEX's entries (0: stored)."""
        return 6 if self.compress else max(0, min(self.zip_level, 9))

    def to_json(self) -> dict[str, Any]:
        """The wire format (and what the fingerprint hashes): names canonical and sorted."""
        d = asdict(self)
        for key in _NAME_LISTS:
            d[key] = sorted({canonical_name(n) for n in getattr(self, key)})
        d["extra_args"] = list(self.extra_args)
        return d

    def fingerprint_fields(self) -> dict[str, Any]:
        return self.to_json()

    def overrides(self) -> dict[str, Any]:
        """The fields (in wire format) that differ from `BuildOptions()`: what a caller must
        pass to reproduce these options, and nothing it need not."""
        mine, defaults = self.to_json(), BuildOptions().to_json()
        return {k: v for k, v in mine.items() if v != defaults[k]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], strict: bool = True) -> BuildOptions:
        """Options from their wire format; missing keys keep their defaults.

        `strict`: unknown keys and wrong types raise OptionsError (a request or a user's dict);
        without it unknown keys are dropped (a record written by another pexlab version)."""
        if not isinstance(data, Mapping):
            raise OptionsError(f"Build options must be an object, got {type(data).__name__}.")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown and strict:
            raise OptionsError(
                f"Unknown build option(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(known)}."
            )
        kw: dict[str, Any] = {}
        for key, value in data.items():
            if key in known:
                kw[key] = _checked(key, value, cls.__dataclass_fields__[key].default, strict)
        return cls(**kw)

    @classmethod
    def coerce(cls, options: BuildOptionsLike) -> BuildOptions:
        """`options` as BuildOptions: None gives the defaults, a mapping goes through
        `from_json` (partial: only the keys it names differ from the defaults)."""
        if options is None:
            return cls()
        if isinstance(options, BuildOptions):
            return options
        return cls.from_json(options)


def _checked(key: str, value: Any, default: Any, strict: bool) -> Any:
    """`value` in the type of the field whose default is `default`, or OptionsError."""
    if isinstance(default, tuple):
        # A bare string would be split into letters: the commonest mistake, so refuse it.
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise OptionsError(f"Build option {key!r} must be a list of strings, got {value!r}.")
        if not all(isinstance(v, str) for v in value):
            raise OptionsError(f"Build option {key!r} must be a list of strings, got {value!r}.")
        return tuple(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise OptionsError(f"Build option {key!r} must be true or false, got {value!r}.")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise OptionsError(f"Build option {key!r} must be an integer, got {value!r}.")
        if key == "zip_level" and strict and not 0 <= value <= 9:
            raise OptionsError(f"Build option 'zip_level' must be within 0..9, got {value}.")
        return value
    if not isinstance(value, str):
        raise OptionsError(f"Build option {key!r} must be a string, got {value!r}.")
    allowed = {"inherit_path": INHERIT_PATH_VALUES, "layout": LAYOUT_VALUES}.get(key)
    if allowed is not None and value not in allowed:
        raise OptionsError(
            f"Build option {key!r} must be one of {', '.join(allowed)}, got {value!r}."
        )
    return value


# What public functions accept as `options`.
BuildOptionsLike: TypeAlias = "BuildOptions | Mapping[str, Any] | None"
