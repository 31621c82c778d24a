"""The node cache's build-time half: the `sh` lines pexlab puts in front of pex's launcher."""

from __future__ import annotations

import base64
from pathlib import Path

from pexlab.core.errors import PexlabError
from pexlab.nodecache import assemble
from pexlab.nodecache.assemble import HEAD_MARK, LAYER_SOURCE_FILE, LAYERS_VAR, MANIFEST_MARK
from pexlab.nodecache.upkeep import (
    ENV_VAR,
    FIRST_START_FILE,
    PEX_DIR,
    PEX_HASH_FILE,
    ROOT_VAR,
    UNZIPPED_DIR,
    USED_FILE,
)


class LauncherError(PexlabError):
    """The PEX cannot carry the node-cache launcher."""


def env_id(fingerprint: str) -> str:
    """The folder name of one environment: the fingerprint prefix already in the PEX's name."""
    return fingerprint[:16]


# Python run by the preamble on a first start only (stdlib; no single quotes: it sits inside
# sh single quotes).  Opening the PEX the way `python the.pex` would: zipimport reads no ZIP64
# before Python 3.13, and a PEX over 4 GiB or 65,535 files is ZIP64.
_OPENS = 'import sys, zipimport; zipimport.zipimporter(sys.argv[1]).get_code("__main__")'
# Unpack with zipfile (which reads ZIP64) into a private folder, renamed into place: concurrent
# first starts on one node leave one copy, a killed one leaves only its private folder.
_UNPACK = (
    "import os, shutil, sys, zipfile\n"
    "src, dst = sys.argv[1], sys.argv[2]\n"
    'tmp = "%s.tmp-%d" % (dst, os.getpid())\n'
    "os.makedirs(os.path.dirname(dst), exist_ok=True)\n"
    "with zipfile.ZipFile(src) as z:\n"
    "    z.extractall(tmp)\n"
    "    for i in z.infolist():\n"
    "        mode = i.external_attr >> 16\n"
    "        if mode & 0o111:\n"
    "            os.chmod(os.path.join(tmp, i.filename), mode & 0o7777)\n"
    "try:\n"
    "    os.rename(tmp, dst)\n"
    "except OSError:\n"
    "    shutil.rmtree(tmp, ignore_errors=True)\n"
)


def sh_unzipped_start(pex_hash: str, python: str) -> str:
    """`sh` lines for a PEX this node's Python cannot open as a zipapp (see `_OPENS`): on a
    first start (no venv yet: `$_pexlab_venv` empty, set by `sh_preamble`), unpack it with zipfile into `$PEX_ROOT/{UNZIPPED_DIR}/<pex hash>`
    and start pex from that folder, which builds the venv as from the file; later starts take
    pex's own fast path to the venv.  A PEX zipimport opens is left to pex untouched."""
    return f"""\
if [ -z "$_pexlab_venv" ]; then
  _pexlab_py="$(command -v {python} || command -v python3 || true)"
  if [ -n "$_pexlab_py" ] && ! "$_pexlab_py" -c '{_OPENS}' "$0" 2>/dev/null; then
    _pexlab_dir="$PEX_ROOT/{UNZIPPED_DIR}/{pex_hash}"
    if [ ! -f "$_pexlab_dir/__main__.py" ]; then
      echo "pexlab: unpacking $0 (ZIP64, which this Python cannot import from)" >&2
      "$_pexlab_py" -c '{_UNPACK}' "$0" "$_pexlab_dir" || exit 1
    fi
    exec "$_pexlab_py" "$_pexlab_dir" "$@"
  fi
fi
"""


def sh_preamble(eid: str, pex_hash: str, python: str = "python3") -> str:
    """`sh` lines run before pex's `--sh-boot` launcher: choose and export PEX_ROOT (see
    `pexlab.nodecache`).  POSIX sh, builtins plus `mkdir`/`chmod`/`id`; no `set -e` yet (pex's
    own launcher sets it after us)."""
    return _sh_node_root(eid, pex_hash, python) + sh_unzipped_start(pex_hash, python)


def _sh_node_root(eid: str, pex_hash: str, python: str) -> str:
    """The preamble's common part: PEX_ROOT chosen and exported, this environment recorded,
    and `$_pexlab_venv` set to its venv under PEX_ROOT when one exists."""
    if not eid.isalnum():
        raise LauncherError(f"not an environment id: {eid!r}")
    if not pex_hash.isalnum():
        raise LauncherError(f"not a PEX hash: {pex_hash!r}")
    if not python.replace(".", "").isalnum():
        raise LauncherError(f"not a Python command name: {python!r}")
    return f"""\
# pexlab node cache (pexlab.nodecache): unless PEX_ROOT is set, one PEX_ROOT per user on this
# node, shared by every environment: pex unpacks each distribution there once (its layers), and
# envs/{eid} records this environment (its last use, its venv) for the LRU eviction.
if [ -z "${{PEX_ROOT:-}}" ]; then
  _pexlab_tmp="${{TMPDIR:-/tmp}}/pexlab-$(id -u 2>/dev/null || echo x)"
  for _pexlab_root in "${{{ROOT_VAR}:-}}" \\
      "${{XDG_CACHE_HOME:-${{HOME:-/nonexistent}}/.cache}}/pexlab/node-cache" "$_pexlab_tmp"; do
    [ -n "$_pexlab_root" ] || continue
    if [ "$_pexlab_root" = "$_pexlab_tmp" ] && [ ! -e "$_pexlab_root" ]; then
      (umask 077 && mkdir -p "$_pexlab_root") 2>/dev/null
    fi
    _pexlab_env="$_pexlab_root/envs/{eid}"
    if mkdir -p "$_pexlab_env" "$_pexlab_root/{PEX_DIR}" 2>/dev/null && [ -O "$_pexlab_root" ] \\
        && [ -w "$_pexlab_env" ] && [ -w "$_pexlab_root/{PEX_DIR}" ]; then
      PEX_ROOT="$_pexlab_root/{PEX_DIR}"
      {ENV_VAR}="$_pexlab_env"
      [ -e "$_pexlab_env/{PEX_HASH_FILE}" ] || echo {pex_hash} > "$_pexlab_env/{PEX_HASH_FILE}"
      break
    fi
  done
  if [ -z "${{PEX_ROOT:-}}" ]; then
    PEX_ROOT=./.pex
    {ENV_VAR}="$PEX_ROOT"
    mkdir -p "$PEX_ROOT" 2>/dev/null
  fi
  export PEX_ROOT {ENV_VAR}
  # `true`, not `:`: a failed redirection of a special builtin would end the script.
  [ -d "${ENV_VAR}" ] && true > "${ENV_VAR}/{USED_FILE}" 2>/dev/null
fi
_pexlab_venv=
for _pexlab_p in "$PEX_ROOT"/venvs/*/{pex_hash}/*/bin/python; do
  case "$_pexlab_p" in
    *.lck.work/bin/python) ;;  # pex's venv in the making (its atomic directory)
    *) [ -x "$_pexlab_p" ] && _pexlab_venv="${{_pexlab_p%/bin/python}}" ;;
  esac
done
if [ -z "$_pexlab_venv" ] && [ -d "${{{ENV_VAR}:-/nonexistent}}" ]; then
  # This start makes the venv: the session probe reports it (which application, since when).
  pwd > "${ENV_VAR}/{FIRST_START_FILE}" 2>/dev/null || true
fi
"""


def with_preamble(prefix: bytes, eid: str, pex_hash: str, python: str = "python3") -> bytes:
    """pex's `--sh-boot` launcher (the bytes before the PEX's first zip entry) with the
    preamble inserted after its `#!/bin/sh` line."""
    first, sep, rest = prefix.partition(b"\n")
    if not first.startswith(b"#!") or b"sh" not in first or not sep:
        raise LauncherError("the PEX has no sh launcher to extend (build it with --sh-boot)")
    return first + sep + sh_preamble(eid, pex_hash, python).encode() + rest


# The layered launcher's node-side half, carried as source (see `pexlab.nodecache.assemble`).
_ASSEMBLE_SOURCE = Path(assemble.__file__).read_bytes()
_ASSEMBLE_B64 = base64.b64encode(_ASSEMBLE_SOURCE).decode()
_ASSEMBLE_RUN = (
    f'import base64; exec(compile(base64.b64decode("{_ASSEMBLE_B64}"), "pexlab-assemble", "exec"))'
)

# Where a layered launcher's venv goes (pex's own venvs are `venvs/<n>/<pex hash>/<hash>`; the
# node cache's upkeep finds both by `venvs/*/<pex hash>`).
LAYERED_VENVS = "venvs/pexlab"


def layered_launcher(
    eid: str, pex_hash: str, python: str, manifest_json: str, head_b64: str
) -> str:
    """The launcher of a layered environment (`pexlab.build.layers`): the node-cache preamble,
    then the environment's venv, made first on a node that lacks it from the layers the node
    has and those it fetches (`pexlab.nodecache.assemble`)."""
    if "\n" in manifest_json or "\n" in head_b64:
        raise LauncherError("the manifest and the head must be single lines")
    return f"""\
#!/bin/sh
# pexlab layered environment (pexlab.build.layers): the distributions travel as separate
# layers; this node fetches and unpacks only those it has not unpacked before.
{_sh_node_root(eid, pex_hash, python)}\
if [ -z "$_pexlab_venv" ]; then
  _pexlab_venv="$PEX_ROOT/{LAYERED_VENVS}/{pex_hash}/venv"
  _pexlab_py="$(command -v {python} || command -v python3 || true)"
  if [ -z "$_pexlab_py" ]; then
    echo "pexlab: neither {python} nor python3 is on this node's PATH ($PATH)" >&2
    exit 127
  fi
  "$_pexlab_py" -c '{_ASSEMBLE_RUN}' "$0" "$_pexlab_venv" || exit 1
fi
export PEX="$0"
exec "$_pexlab_venv/bin/python" "$@"
exit 1
{MANIFEST_MARK}{manifest_json}
{HEAD_MARK}{head_b64}
"""


__all__ = [
    "HEAD_MARK",
    "LAYERED_VENVS",
    "LAYERS_VAR",
    "LAYER_SOURCE_FILE",
    "MANIFEST_MARK",
    "LauncherError",
    "env_id",
    "layered_launcher",
    "sh_preamble",
    "with_preamble",
]
