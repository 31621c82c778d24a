"""The node cache's build-time half: the `sh` lines pexlab puts in front of pex's launcher."""

from __future__ import annotations

from pexlab.core.errors import PexlabError
from pexlab.nodecache.upkeep import ENV_VAR, ROOT_VAR, USED_FILE


class LauncherError(PexlabError):
    """The PEX cannot carry the node-cache launcher."""


def env_id(fingerprint: str) -> str:
    """The folder name of one environment: the fingerprint prefix already in the PEX's name."""
    return fingerprint[:16]


def sh_preamble(eid: str) -> str:
    """`sh` lines run before pex's `--sh-boot` launcher: choose and export PEX_ROOT (see module
    docstring).  POSIX sh, builtins plus `mkdir`/`chmod`/`id`; no `set -e` yet (pex's own
    launcher sets it after us)."""
    if not eid.isalnum():
        raise LauncherError(f"not an environment id: {eid!r}")
    return f"""\
# pexlab node cache (pexlab.nodecache): unless PEX_ROOT is set, this environment lives in
# a per-user folder on this node, keyed by content and shared by later applications.
if [ -z "${{PEX_ROOT:-}}" ]; then
  _pexlab_tmp="${{TMPDIR:-/tmp}}/pexlab-$(id -u 2>/dev/null || echo x)"
  for _pexlab_root in "${{{ROOT_VAR}:-}}" \\
      "${{XDG_CACHE_HOME:-${{HOME:-/nonexistent}}/.cache}}/pexlab/node-cache" "$_pexlab_tmp"; do
    [ -n "$_pexlab_root" ] || continue
    if [ "$_pexlab_root" = "$_pexlab_tmp" ] && [ ! -e "$_pexlab_root" ]; then
      (umask 077 && mkdir -p "$_pexlab_root") 2>/dev/null
    fi
    if mkdir -p "$_pexlab_root/envs/{eid}" 2>/dev/null && [ -O "$_pexlab_root" ] \\
        && [ -w "$_pexlab_root/envs/{eid}" ]; then
      PEX_ROOT="$_pexlab_root/envs/{eid}"
      break
    fi
  done
  PEX_ROOT="${{PEX_ROOT:-./.pex}}"
  {ENV_VAR}="$PEX_ROOT"
  export PEX_ROOT {ENV_VAR}
  mkdir -p "$PEX_ROOT" 2>/dev/null
  # `true`, not `:`: a failed redirection of a special builtin would end the script.
  [ -d "$PEX_ROOT" ] && true > "$PEX_ROOT/{USED_FILE}" 2>/dev/null
fi
"""


def with_preamble(prefix: bytes, eid: str) -> bytes:
    """pex's `--sh-boot` launcher (the bytes before the PEX's first zip entry) with the
    preamble inserted after its `#!/bin/sh` line."""
    first, sep, rest = prefix.partition(b"\n")
    if not first.startswith(b"#!") or b"sh" not in first or not sep:
        raise LauncherError("the PEX has no sh launcher to extend (build it with --sh-boot)")
    return first + sep + sh_preamble(eid).encode() + rest
