"""What a request asks for -> what the server builds: the one place where the user's partial
choices meet the server's settings.

A request carries only the user's choices (`{"exclude_extra": [...], "include_editable": bool,
"layout": "zipapp" | "layers"}`);
the frontend never knows the defaults.  `resolve_options` turns them, with
`c.PexLab.default_excludes`, into ONE `BuildOptions`: that object gives the fingerprint, travels
to the build subprocess as `--options-json`, is stored in the build record, and its
`overrides()` is what the inserted cell passes, so a panel build and the cell agree.

Storage is resolved the same way (request, else `c.PexLab.storage`), made absolute for plain
paths (the build subprocess and the kernel do not share the server's working directory), and
checked against `c.PexLab.allowed_storage`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pexlab.build.options import DEFAULT_EXCLUDE_REASONS, LAYOUT_VALUES, BuildOptions
from pexlab.core.errors import PexlabError
from pexlab.core.names import canonical_name
from pexlab.environment.interpreter import Environment

from .config import PACKAGE_NAME

PARTIAL_KEYS = ("exclude_extra", "include_editable", "layout")
MAX_NAMES = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_VISIBLE = re.compile(r"[^\x00-\x20\x7f]")


class RequestError(PexlabError):
    """A request the server refuses; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Partial:
    """The user's choices, validated (the wire format of requests)."""

    exclude_extra: tuple[str, ...] = ()
    include_editable: bool = True
    layout: str = BuildOptions.layout  # LAYOUT_VALUES

    def to_json(self) -> dict[str, Any]:
        return {
            "exclude_extra": list(self.exclude_extra),
            "include_editable": self.include_editable,
            "layout": self.layout,
        }


@dataclass(frozen=True)
class Resolved:
    """Everything a build depends on, as the server will run it."""

    options: BuildOptions
    include_editable: bool
    storage: str | None


def parse_partial(raw: Any) -> Partial:
    """Validate a request's `options` (None = no choices)."""
    if raw is None:
        return Partial()
    if not isinstance(raw, dict):
        raise RequestError(400, "options must be an object.")
    unknown = set(raw) - set(PARTIAL_KEYS)
    if unknown:
        raise RequestError(
            400,
            f"Unknown option(s): {', '.join(sorted(map(str, unknown)))} "
            f"(accepted: {', '.join(PARTIAL_KEYS)}).",
        )
    extra = raw.get("exclude_extra", [])
    if not isinstance(extra, list) or len(extra) > MAX_NAMES:
        raise RequestError(
            400, f"options.exclude_extra must be a list of at most {MAX_NAMES} package names."
        )
    for name in extra:
        if not isinstance(name, str) or not PACKAGE_NAME.match(name):
            raise RequestError(400, f"options.exclude_extra: {name!r} is not a package name.")
    include_editable = raw.get("include_editable", True)
    if not isinstance(include_editable, bool):
        raise RequestError(400, "options.include_editable must be true or false.")
    layout = raw.get("layout", BuildOptions.layout)
    if layout not in LAYOUT_VALUES:
        raise RequestError(
            400, f"options.layout must be one of {', '.join(LAYOUT_VALUES)}, not {layout!r}."
        )
    return Partial(tuple(dict.fromkeys(extra)), include_editable, layout)


def resolve_options(partial: Partial, default_excludes: Sequence[str]) -> BuildOptions:
    """The server's defaults plus the user's extra names, in that order (so unchanged settings
    give exactly `BuildOptions()` and an empty `overrides()`)."""
    exclude = tuple(dict.fromkeys([*default_excludes, *partial.exclude_extra]))
    return BuildOptions.from_json({"exclude": list(exclude), "layout": partial.layout})


def protocols(url: str) -> list[str]:
    """The fsspec protocols a URL uses (`simplecache::s3://b` -> ["simplecache", "s3"]);
    a plain path is "file"."""
    parts = url.split("::")
    out = [p.lower() for p in parts[:-1]]  # chained wrappers are bare protocol names
    last = parts[-1]
    out.append(last.split("://", 1)[0].lower() if "://" in last else "file")
    return out


def check_storage_allowed(url: str, allowed: Sequence[str]) -> None:
    """Refuse (422) a storage URL that no entry of `c.PexLab.allowed_storage` covers.  An entry
    with "://" or "/" is a URL prefix (a URL with ".." in its path never matches one); anything
    else is a protocol."""
    prefixes = [a for a in allowed if "://" in a or "/" in a]
    names = {a.lower() for a in allowed if a not in prefixes}
    climbs = ".." in url.replace("\\", "/").split("/")
    if not climbs and any(url.startswith(p) for p in prefixes):
        return
    refused = [p for p in protocols(url) if p not in names]
    if refused:
        raise RequestError(
            422,
            f"Storage {url!r} is not allowed on this server: protocol "
            f"{(refused or protocols(url))[0]!r} is not in c.PexLab.allowed_storage = "
            f"{list(allowed)!r}; use one of those, or ask the server's administrator to add it.",
        )


def resolve_storage(raw: Any, default: str, allowed: Sequence[str], root_dir: str) -> str | None:
    """The storage a build uploads to: the request's, else the server's default, else None.

    Plain relative paths are taken relative to the server's root folder (where the notebooks
    are) and returned absolute, so the build subprocess and the kernel name the same folder."""
    if raw is None:
        raw = default or None
        if raw is None:
            return None
    # Same rule as the OpenAPI pattern: no control characters, not blank, at most 2048 chars.
    if (
        not isinstance(raw, str)
        or len(raw) > 2048
        or _CONTROL.search(raw)
        or not _VISIBLE.search(raw)
    ):
        raise RequestError(
            400, "storage must be a URL of at most 2048 characters without control characters."
        )
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(400, "storage is not valid Unicode.") from None
    url = raw.strip(" ")
    check_storage_allowed(url, allowed)
    if "://" not in url and "::" not in url:
        url = os.path.normpath(os.path.join(root_dir, os.path.expanduser(url)))
    return url


# Why a distribution is not shipped, when no default reason names it (see `excluded`).
BY_SERVER = "excluded by c.PexLab.default_excludes"
BY_USER = "excluded by your settings"


def excluded(
    env: Environment, options: BuildOptions, default_excludes: Sequence[str]
) -> list[dict[str, str]]:
    """The kernel's installed distributions that `options` leaves out of the PEX, each with
    where the exclusion comes from: the engine's defaults (with their reason), the server's
    `c.PexLab.default_excludes`, or the user's `exclude_extra`."""
    left_out = {canonical_name(n) for n in options.exclude} - {
        canonical_name(n) for n in options.include
    }
    server = {canonical_name(n) for n in default_excludes}
    out = []
    for dist in sorted(env.installed, key=lambda d: canonical_name(d.name)):
        name = canonical_name(dist.name)
        if name not in left_out:
            continue
        reason = DEFAULT_EXCLUDE_REASONS.get(name, BY_SERVER) if name in server else BY_USER
        out.append({"name": dist.name, "version": dist.version, "reason": reason})
    return out
