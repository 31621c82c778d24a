"""The node-level, per-user, content-keyed environment cache that executors use by default.

Why: pex turns a PEX into a venv under PEX_ROOT on first use.  A PEX_ROOT inside the executor's
work dir (`./.pex`) dies with the application, so every new application (every kernel restart,
every edit of an editable project) extracts the whole environment again on every executor:
3.1x bare for a notebook environment.  One PEX_ROOT per environment that outlives applications
makes every later application start as fast as a preinstalled venv (Ray's runtime_env does the
same: content-addressed, unpacked once per node, LRU-evicted above a size cap).

Layout on each node (nothing to set up; the first application creates it):

    <root>/                        per user: owned by the executor's user, mode 0700 in /tmp
      pex/                         ONE PEX_ROOT for all of this user's environments (pex's own
                                   layout inside): installed_wheels/<n>/<hash>/ holds one
                                   layer per distribution, unpacked once and shared;
                                   venvs/<n>/<pex hash>/ one venv per environment, made of
                                   symlinks into the layers (by pex; by the launcher itself,
                                   `assemble`, in venvs/pexlab/ for layered environments)
      envs/<env id>/               one environment's record
      envs/<env id>/.pexlab-pex    the PEX's pex_hash: the name of its venv
      envs/<env id>/.pexlab-used   touched at every interpreter start: the LRU clock
      envs/<env id>/.pexlab-size   its venv's disk usage in bytes, recorded once
      .sizes/<n>-<hash>            a layer's disk usage, recorded once
      native/<zip stem>/           an editable zip with compiled modules, unpacked by the
                                   PEX's path hook (nodecache/native.py); evicted like envs
      .evict.lock                  one evictor at a time per node

Why one shared PEX_ROOT: pex keys what it unpacks by content (a distribution's hash), so two
environments one `pip install` apart share every other layer, and a node unpacks a layer once,
ever (uv and conda do the same with their package caches).  A PEX_ROOT per environment made a
one-package change unpack the whole environment again on every node.

`<env id>` is the first 16 hex digits of the PEX's fingerprint (its name is
`pexlab-env-<env id>.pex`), so a different environment never shares a folder.  `<root>` is the
first usable of:

1. `$PEXLAB_NODE_CACHE` (an admin or `spark.executorEnv.PEXLAB_NODE_CACHE` may choose it);
2. `${XDG_CACHE_HOME:-$HOME/.cache}/pexlab/node-cache`;
3. `${TMPDIR:-/tmp}/pexlab-<uid>` (created 0700);
4. `./.pex` in the executor's work dir (always writable: the old per-application behaviour);

where usable means: creatable, writable, and owned by the executor's user (a folder someone
else made in /tmp is skipped, so nobody can plant code in another user's environment).

How: the choice has to happen on the node, before pex starts, with nothing of pexlab installed
there.  pexlab builds its PEX with `--sh-boot` (pex's POSIX `sh` launcher, also the faster
start) and puts a few lines of `sh` in front of pex's launcher (`launcher.sh_preamble`): unless PEX_ROOT
is already set (the user's `pex_root=` sets it through `spark.executorEnv.PEX_ROOT` and always
wins) they pick the folder, export PEX_ROOT and touch the LRU clock.  Concurrent first starts
of one PEX on one node are safe: pex installs into PEX_ROOT through atomic directories (work in
a private temp dir, then rename), so two executors both succeed and leave one venv.

Eviction (`maintain`): least recently used environment first, while the cache (each layer
counted once) is above its size cap (`spark.pexlab.nodeCache.maxSize`, default 10g), skipping
every environment in use; with each environment go the layers no remaining venv links.  It runs
in the probe task that pexlab already sends to every executor at session start (this module is
shipped by value with cloudpickle; it imports only the standard library), in a detached
process, so it costs the session nothing.  "In use" is decided from /proc, not from locks: every
interpreter the preamble starts carries `PEXLAB_NODE_ENV=<its env folder>` in its environment,
which survives pex's re-exec and is inherited by the Python workers PySpark forks, so a scan of
this user's processes finds every environment a running executor (or one starting right now)
uses.  File locks held for an interpreter's lifetime would need `flock(1)` in the launcher (not
POSIX, absent on some nodes) and an fd kept open across pex's execs; /proc needs neither.  An
environment touched within `GRACE_SECONDS` is also kept (an executor between its `sh` start and
its first Python process), and where /proc does not exist nothing is evicted.  The folder is
renamed away before it is deleted, so no process ever sees a half-deleted environment.
Deleting from the shared PEX_ROOT happens only under pex's own cache lock (`access.lck`, held
exclusively, without waiting): every pex process holds it shared while it unpacks layers or
assembles a venv, so eviction never removes a layer a starting environment is about to link.
"""

from __future__ import annotations

from pexlab.nodecache.launcher import LauncherError, env_id, sh_preamble, with_preamble
from pexlab.nodecache.upkeep import (
    DEFAULT_MAX_SIZE,
    ENV_VAR,
    MAX_SIZE_CONF,
    ROOT_VAR,
    NodeCacheError,
    parse_size,
)

__all__ = [
    "DEFAULT_MAX_SIZE",
    "ENV_VAR",
    "MAX_SIZE_CONF",
    "ROOT_VAR",
    "LauncherError",
    "NodeCacheError",
    "env_id",
    "parse_size",
    "sh_preamble",
    "with_preamble",
]
