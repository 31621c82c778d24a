"""The identity of a PEX: a stable hash of everything that decides its contents.

Only facts that change the built file go in: interpreter implementation/ABI/platform and
major.minor, the exact `name==version` list handed to pex, the build options and the pex version.
No paths, hostnames or timestamps, so the same environment gives the same fingerprint in another
process or on another machine (CI and a notebook agree on the artifact name).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from pexlab.core.names import canonical_name
from pexlab.environment.interpreter import Environment

if TYPE_CHECKING:
    from pexlab.build.options import BuildOptions

# Bump when pexlab changes how it calls pex in a way that changes the artifact (flags, layout),
# so old cache entries stop matching.
RECIPE_VERSION = "3"  # 2: venv bytecode in the PEX; 3: --sh-boot + node-cache preamble


def selected_distributions(env: Environment, options: BuildOptions) -> list[tuple[str, str]]:
    """The `(name, version)` pairs that go into the PEX, sorted by name.

    Non-editable distributions, minus `options.exclude`, except names forced back by
    `options.include`.  Editable projects never go in: they travel as zips.
    """
    exclude = {canonical_name(n) for n in options.exclude}
    include = {canonical_name(n) for n in options.include}
    chosen = []
    for dist in env.installed:
        name = canonical_name(dist.name)
        if name in exclude and name not in include:
            continue
        chosen.append((name, dist.version))
    return sorted(set(chosen))


def launcher_digest(layout: str = "zipapp") -> str:
    """What pexlab writes into the shipped file around pex's: the single-file preamble, and
    for layers the whole layered launcher (its assembly script runs on every fresh node)."""
    from pexlab.nodecache.launcher import layered_launcher, sh_preamble

    text = sh_preamble("0", "0")
    if layout == "layers":
        text += layered_launcher("0", "0", "python3", "{}", "")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprint(env: Environment, options: BuildOptions, pex_version: str) -> str:
    """Hex sha256 of the PEX-deciding facts of `env` (see module docstring)."""
    doc = {
        "recipe": RECIPE_VERSION,
        "implementation": env.implementation,
        "abi": env.abi,
        "platform": env.platform,
        "python": env.python_major_minor,
        "distributions": [f"{n}=={v}" for n, v in selected_distributions(env, options)],
        "options": options.fingerprint_fields(),
        # The node-cache launcher is part of the file: a changed launcher is a new PEX.
        "launcher": launcher_digest(options.layout) if options.sh_boot else None,
        "pex": pex_version,
    }
    if env.editables:  # the editable zips' native loader is in the PEX (pexlab.nodecache.native)
        from pexlab.nodecache.native import digest

        doc["zip_native"] = digest()
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()
