"""The node cache's build-time half: the `sh` lines pexlab puts in front of pex's launcher."""

from __future__ import annotations

from pexlab.core.errors import PexlabError
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
  [ -x "$_pexlab_p" ] && _pexlab_venv="${{_pexlab_p%/bin/python}}"
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


# Markers of the layered launcher's data lines, after its last `exit`.
MANIFEST_MARK = "#PEXLAB-MANIFEST "
HEAD_MARK = "#PEXLAB-HEAD "
# Where a layered launcher looks for the layers its node lacks, before its working directory
# (where Spark or YARN put shipped files): a folder (a shared file system) or an http(s) URL.
LAYERS_VAR = "PEXLAB_LAYERS"
# The same, as a file shipped beside the launcher, for sessions that cannot set executors'
# environment (Spark Connect: executors start before the session exists).  The variable wins.
LAYER_SOURCE_FILE = "pexlab-layer-source"

# Python run by a layered launcher when its node has no venv for it yet (stdlib only; no
# single quotes: it sits inside sh single quotes).  Under a per-PEX lock, lay the PEX out as a
# folder in `$PEX_ROOT/{UNZIPPED_DIR}/<pex_hash>` (pex's packed layout): its head from the
# launcher, and only the layers pex has not extracted into installed_wheels yet, fetched from
# $PEXLAB_LAYERS or the working directory in parallel; the others are empty placeholders (pex
# reads the size of every `.deps` entry to plan a parallel install, and never opens one it has
# installed).  The folder is made privately and renamed
# into place: a killed start leaves only a private folder, which the next one replaces.
_ASSEMBLE = """\
import base64, fcntl, glob, io, json, os, shutil, sys, time, urllib.request, zipfile
from concurrent.futures import ThreadPoolExecutor
started = time.monotonic()
launcher, dst = sys.argv[1], sys.argv[2]
data = open(launcher, "rb").read()
def line(mark):
    return data.split(("\\n" + mark).encode(), 1)[1].split(b"\\n", 1)[0]
man = json.loads(line("{MANIFEST_MARK}"))
wheels = os.path.join(os.environ["PEX_ROOT"], "installed_wheels")
shards = os.listdir(wheels) if os.path.isdir(wheels) else []
def installed(x):
    return x["wheel"] and any(os.path.isdir(os.path.join(wheels, n, x["hash"], x["wheel"])) for n in shards)
def at(folder, x):
    return os.path.join(folder, ".deps", x["wheel"]) if x["wheel"] else os.path.join(folder, ".bootstrap")
def complete(folder):
    ok = lambda x: installed(x) or os.path.getsize(at(folder, x)) == x["size"]
    try:
        return os.path.isfile(os.path.join(folder, "PEX-INFO")) and all(ok(x) for x in man["layers"])
    except OSError:
        return False
source = os.environ.get("{LAYERS_VAR}", "")
if not source and os.path.isfile("{LAYER_SOURCE_FILE}"):
    source = open("{LAYER_SOURCE_FILE}").read().strip()
def fetch(x):
    target = at(tmp, x)
    if source.startswith(("http://", "https://")):
        url = source.rstrip("/") + "/" + x["file"]
        try:
            with urllib.request.urlopen(url, timeout=60) as r, open(target, "wb") as f:
                shutil.copyfileobj(r, f, 1 << 20)
        except OSError as e:
            raise SystemExit("pexlab: cannot fetch layer %s from %s: %s" % (x["file"], url, e))
    else:
        places = [source[7:] if source.startswith("file://") else source] if source else []
        places.append(os.getcwd())
        found = [p for p in (os.path.join(q, x["file"]) for q in places) if os.path.isfile(p)]
        if not found:
            raise SystemExit("pexlab: layer %s is in none of %s: ship it (spark.files) or set %s to the storage folder holding it" % (x["file"], ", ".join(places), "{LAYERS_VAR}"))
        if found[0].startswith(os.getcwd() + os.sep):
            try:
                os.link(found[0], target)
            except OSError:
                shutil.copyfile(found[0], target)
        else:
            os.symlink(os.path.abspath(found[0]), target)
    if os.path.getsize(target) != x["size"]:
        raise SystemExit("pexlab: layer %s has %d bytes, not %d: a partial or foreign file" % (x["file"], os.path.getsize(target), x["size"]))
os.makedirs(os.path.dirname(dst), exist_ok=True)
with open(dst + ".lck", "a") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if complete(dst):
        sys.exit(0)
    for stale in glob.glob(glob.escape(dst) + ".tmp-*") + glob.glob(glob.escape(dst) + ".old-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a killed start (we hold the lock)
    tmp = "%s.tmp-%d" % (dst, os.getpid())
    todo = [x for x in man["layers"] if not installed(x)]
    try:
        os.makedirs(os.path.join(tmp, ".deps"))
        zipfile.ZipFile(io.BytesIO(base64.b64decode(line("{HEAD_MARK}")))).extractall(tmp)
        with ThreadPoolExecutor(max(1, min(8, len(todo)))) as pool:
            list(pool.map(fetch, todo))
        for x in man["layers"]:
            if installed(x):  # pex sizes every .deps entry to plan parallel installs
                open(at(tmp, x), "wb").close()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = "%s.old-%d" % (dst, os.getpid())
    if os.path.exists(dst):
        os.rename(dst, old)
    os.rename(tmp, dst)
    shutil.rmtree(old, ignore_errors=True)
    took = time.monotonic() - started
    sys.stderr.write("pexlab: %d of %d layers fetched for %s in %.1f s (pex unpacks them next)\\n" % (len(todo) - 1, len(man["layers"]) - 1, man["pex_hash"][:12], took))
"""


def layered_launcher(
    eid: str, pex_hash: str, python: str, manifest_json: str, head_b64: str
) -> str:
    """The launcher of a layered environment (`pexlab.build.layers`): the node-cache preamble,
    then pex's own fast path (exec the venv) or, on a node without the venv, the folder
    assembled from the node's layers and the missing ones fetched (`_ASSEMBLE`), which pex
    turns into the venv as it would from a PEX file."""
    if "\n" in manifest_json or "\n" in head_b64:
        raise LauncherError("the manifest and the head must be single lines")
    assemble = _ASSEMBLE.format(
        MANIFEST_MARK=MANIFEST_MARK,
        HEAD_MARK=HEAD_MARK,
        LAYERS_VAR=LAYERS_VAR,
        LAYER_SOURCE_FILE=LAYER_SOURCE_FILE,
    )
    if "'" in assemble:
        raise LauncherError("the assembly script must not hold single quotes")
    return f"""\
#!/bin/sh
# pexlab layered environment (pexlab.build.layers): the distributions travel as separate
# layers; this node fetches and unpacks only those it has not unpacked before.
{_sh_node_root(eid, pex_hash, python)}\
if [ -n "$_pexlab_venv" ] && [ -z "${{PEX_TOOLS:-}}" ]; then
  export PEX="$0"
  exec "$_pexlab_venv/bin/python" "$_pexlab_venv" "$@"
fi
_pexlab_py="$(command -v {python} || command -v python3 || true)"
if [ -z "$_pexlab_py" ]; then
  echo "pexlab: neither {python} nor python3 is on this node's PATH ($PATH)" >&2
  exit 127
fi
_pexlab_dir="$PEX_ROOT/{UNZIPPED_DIR}/{pex_hash}"
"$_pexlab_py" -c '{assemble}' "$0" "$_pexlab_dir" || exit 1
exec "$_pexlab_py" "$_pexlab_dir" "$@"
exit 1
{MANIFEST_MARK}{manifest_json}
{HEAD_MARK}{head_b64}
"""
