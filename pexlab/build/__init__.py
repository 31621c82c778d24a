"""From an inspected environment to cached, content-addressed artifacts: the build options and
the fingerprint they give, the PEX (pex, bytecode, zip rewriting), the editable zips, and the
local cache of builds."""

from __future__ import annotations

from pexlab.build.cache import BuildRecord, Cache
from pexlab.build.options import DEFAULT_EXCLUDES, BuildOptions, BuildOptionsLike, OptionsError
from pexlab.build.pex import BuildError, BuildResult, build_pex

__all__ = [
    "DEFAULT_EXCLUDES",
    "BuildError",
    "BuildOptions",
    "BuildOptionsLike",
    "BuildRecord",
    "BuildResult",
    "Cache",
    "OptionsError",
    "build_pex",
]
