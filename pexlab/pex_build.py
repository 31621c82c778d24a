"""Build a PEX of an interpreter's installed distributions with the real `pex` CLI, offline.

pex is a command-line tool only (not a library, pex CHANGES 2.2.0), so it runs as a subprocess:
`<this python> -m pex` when pex is importable here, else the `pex` script beside this python,
else `pex` on PATH; `$PEXLAB_PEX` overrides all of them (a command line, split like a shell).

How the PEX is made (each choice checked against pex 2.105):

- `--venv-repository <prefix> --no-pypi`: resolve from what the venv has installed, never an
  index.  We pass an explicit `name==version` list (the non-editable distributions minus
  excludes), not the empty list: with no requirements pex would take *every* distribution,
  editables included, and rebuild those from their projects through pip (which may want an index
  for build backends).  Each editable and excluded name is also passed as `--exclude`, so a
  distribution that depends on one of them resolves without it.
- `--inherit-path=fallback`: executors import Spark's own pyspark/py4j from their PYTHONPATH.
- `--venv` + `--non-hermetic-venv-scripts`: the first run on an executor turns the PEX into a
  venv under PEX_ROOT; later runs start from that venv (import numpy: 0.3 s instead of 1.0 s
  from the zipapp); without `--non-hermetic-venv-scripts` the venv's python runs with `-I` and
  ignores PYTHONPATH, and Spark's pyspark would not be found.
- `--no-compress`, then pexlab rewrites the zipapp once (`recompress`): it deflates at level 1
  (`zip_level`) and adds the venv's compiled bytecode (`bytecode`, see `pexlab.bytecode`: without
  it every executor compiles every imported module from source on first use, seconds for a data
  science stack).  pex's own `--compress` deflates at zlib's default level 6, which for a
  pandas/sklearn/pyarrow env took ~4x the CPU of level 1 for a file only ~12% smaller (136 vs
  154 MB; 439 MB stored); `compress=True` now means level 6 in the same single rewrite.  Storing
  only (`zip_level=0`) is fastest to build but ships 3x the bytes to every executor.  On a
  rebuild, files whose name, CRC and size match the previous build of the same interpreter are
  copied already deflated (`recompress(previous=...)`): adding one package re-deflates only it.
- `--max-install-jobs 0`: parallel first-boot installs on executors.
- `--sh-boot` (`sh_boot`): the PEX starts with pex's POSIX `sh` launcher, which execs the
  installed venv's python directly once it exists (no Python bootstrap on a warm start), and
  pexlab puts the node-cache preamble in front of it (`pexlab.node_cache`): unless PEX_ROOT is
  set, executors use a per-user, content-keyed folder on their node that later applications
  reuse.
- zipapp layout (the default): one file, which is what `spark.files` ships.
- no entry point: `./env.pex -m module` and `./env.pex -c code` both work, which is what
  `pyspark.daemon` needs.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import shlex
import shutil
import stat
import struct
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from queue import Empty, Queue
from typing import Any

from . import node_cache
from .bytecode import Bytecode
from .cache import BuildRecord, Cache, sha256_file
from .environment import Environment
from .fingerprint import canonical_name, fingerprint, selected_distributions
from .progress import ProgressCallback, ProgressEvent


class BuildError(RuntimeError):
    """The PEX could not be built; the message says why and, where possible, what to do."""


@dataclass(frozen=True)
class BuildOptions:
    # Left out of the PEX (the cluster provides them). Names, PEP 503-normalised on use.
    exclude: tuple[str, ...] = ("pyspark", "py4j")
    # Put back even if listed in `exclude` (e.g. include=("pyspark",) to ship your own).
    include: tuple[str, ...] = ()
    compress: bool = False  # deflate at level 6 (smaller, ~4x the CPU of level 1 for big envs)
    # When not `compress`: deflate level pexlab applies to pex's stored zipapp (0 = keep stored).
    zip_level: int = 1
    bytecode: bool = True  # ship the venv's .pyc files (see pexlab.bytecode)
    venv: bool = True  # pex --venv: faster warm start on executors (see module docstring)
    inherit_path: str = "fallback"  # "false" | "prefer" | "fallback"
    max_install_jobs: int = 0
    # pex --sh-boot + the node-cache launcher preamble (see module docstring and node_cache).
    sh_boot: bool = True
    extra_args: tuple[str, ...] = field(default=())  # passed to pex as-is, last

    @property
    def level(self) -> int:
        """The deflate level of the PEX's entries (0: stored)."""
        return 6 if self.compress else max(0, min(self.zip_level, 9))

    def fingerprint_fields(self) -> dict[str, Any]:
        d = asdict(self)
        d["exclude"] = sorted({canonical_name(n) for n in self.exclude})
        d["include"] = sorted({canonical_name(n) for n in self.include})
        d["extra_args"] = list(self.extra_args)
        return d

    def to_json(self) -> dict[str, Any]:
        return self.fingerprint_fields()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BuildOptions:
        known = set(cls.__dataclass_fields__)
        kw = {k: v for k, v in data.items() if k in known}
        for k in ("exclude", "include", "extra_args"):
            if k in kw:
                kw[k] = tuple(kw[k])
        return cls(**kw)


def pex_command() -> list[str]:
    """How to run pex here (see module docstring)."""
    override = os.environ.get("PEXLAB_PEX")
    if override:
        return shlex.split(override)
    if importlib.util.find_spec("pex") is not None:
        return [sys.executable, "-m", "pex"]
    beside = Path(sys.executable).with_name("pex")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("pex")
    if found:
        return [found]
    raise BuildError("pex is not installed where pexlab runs: pip install 'pex>=2.67.2'")


@cache
def _pex_version(cmd: tuple[str, ...]) -> str:
    if cmd[1:] == ("-m", "pex") and cmd[0] == sys.executable:
        # In-process: avoids a ~0.3 s subprocess on every warm call.
        return importlib.metadata.version("pex")
    proc = subprocess.run([*cmd, "--version"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(f"`{' '.join(cmd)} --version` failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def pex_version() -> str:
    return _pex_version(tuple(pex_command()))


def artifact_name(fp: str) -> str:
    # The fingerprint is in the name: storage and Spark can treat the name as the identity.
    return f"pexlab-env-{fp[:16]}.pex"


def check_buildable(env: Environment) -> None:
    """Fail early, with what to do, for interpreters pex cannot resolve from."""
    if env.kind != "venv" or not (Path(env.prefix) / "pyvenv.cfg").is_file():
        raise BuildError(
            f"{env.python} is a {env.kind or 'non-venv'} interpreter, not a virtual environment; "
            "pexlab builds the PEX from a venv's installed packages (pex --venv-repository). "
            f"Create one and use it as your kernel: `{env.python} -m venv ~/venvs/work && "
            "~/venvs/work/bin/pip install <your packages> ipykernel && "
            "~/venvs/work/bin/python -m ipykernel install --user --name work`."
        )


def pex_arguments(env: Environment, options: BuildOptions, output: Path) -> list[str]:
    """The pex command-line arguments (without the pex command itself)."""
    chosen = selected_distributions(env, options)
    if not chosen:
        raise BuildError(f"{env.python} has no installed distributions to put in a PEX.")
    include = {canonical_name(n) for n in options.include}
    installed = {canonical_name(d.name) for d in env.installed}
    missing = sorted(include - installed)
    if missing:
        raise BuildError(f"include: {', '.join(missing)} not installed in {env.python}.")
    excludes = sorted(
        ({canonical_name(n) for n in options.exclude} - include)
        | {canonical_name(d.name) for d in env.editables}
    )
    args = [
        "--venv-repository",
        env.prefix,
        "--no-pypi",
        *(f"{n}=={v}" for n, v in chosen),
        *(a for n in excludes for a in ("--exclude", n)),
        f"--inherit-path={options.inherit_path}",
        "--no-compress",  # pexlab deflates afterwards (see module docstring)
        "--max-install-jobs",
        str(options.max_install_jobs),
    ]
    if options.venv:
        args += ["--venv", "--non-hermetic-venv-scripts"]
    if options.sh_boot:
        args.append("--sh-boot")
    args += [*options.extra_args, "-o", str(output)]
    return args


_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # zip local file header (30 bytes)


class _Reusable:
    """Deflated entries of an earlier PEX, by (name, CRC, size): a rebuild copies the compressed
    bytes of unchanged files instead of deflating them again."""

    def __init__(self, pex: Path | None) -> None:
        self.entries: dict[tuple[str, int, int], zipfile.ZipInfo] = {}
        self.file = None
        if pex is None:
            return
        try:
            with zipfile.ZipFile(pex) as zf:
                for i in zf.infolist():
                    if i.compress_type == zipfile.ZIP_DEFLATED and not i.flag_bits & 0x01:
                        self.entries[(i.filename, i.CRC, i.file_size)] = i
            self.file = open(pex, "rb")  # noqa: SIM115 (closed by close())
        except (OSError, zipfile.BadZipFile):
            self.entries = {}

    def raw(self, name: str, crc: int, size: int) -> tuple[zipfile.ZipInfo, bytes] | None:
        old = self.entries.get((name, crc, size))
        if old is None or self.file is None:
            return None
        self.file.seek(old.header_offset)
        header = _LOCAL_HEADER.unpack(self.file.read(_LOCAL_HEADER.size))
        if header[0] != b"PK\x03\x04":
            return None
        self.file.seek(header[-2] + header[-1], os.SEEK_CUR)  # name and extra field
        data = self.file.read(old.compress_size)
        return (old, data) if len(data) == old.compress_size else None

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _write_raw(
    zout: zipfile.ZipFile, new: zipfile.ZipInfo, old: zipfile.ZipInfo, data: bytes
) -> None:
    """Append an already-deflated entry; what `ZipFile.open(..., "w")` + close would record."""
    new.compress_type = zipfile.ZIP_DEFLATED
    new.flag_bits = old.flag_bits & ~0x08  # sizes are in the header, no data descriptor
    new.CRC, new.file_size, new.compress_size = old.CRC, old.file_size, old.compress_size
    zip64 = new.file_size > zipfile.ZIP64_LIMIT or new.compress_size > zipfile.ZIP64_LIMIT
    assert zout.fp is not None
    zout.fp.seek(zout.start_dir)
    new.header_offset = zout.fp.tell()
    zout.fp.write(new.FileHeader(zip64))
    zout.fp.write(data)
    zout.start_dir = zout.fp.tell()
    zout.filelist.append(new)
    zout.NameToInfo[new.filename] = new
    zout._didModify = True  # type: ignore[attr-defined]


def _deflating(info: zipfile.ZipInfo, level: int) -> zipfile.ZipInfo:
    if level <= 0:
        info.compress_type = zipfile.ZIP_STORED
        return info
    info.compress_type = zipfile.ZIP_DEFLATED
    # zipfile reads the level from the ZipInfo; `_compresslevel` is the slot up to 3.12 and a
    # property over `compress_level` from 3.13.
    info._compresslevel = level  # type: ignore[attr-defined]
    return info


def recompress(
    src: Path,
    dst: Path,
    level: int,
    progress: ProgressCallback | None = None,
    previous: Path | None = None,
    bytecode: Bytecode | None = None,
    launcher: Callable[[bytes], bytes] | None = None,
) -> int:
    """Copy the zipapp `src` to `dst` with every file entry deflated at `level` (0: stored),
    adding, after each `.py` entry of a distribution, its compiled `.pyc` from `bytecode`
    when there is a valid one.  Return how many entries were copied already-compressed from
    `previous` (an earlier PEX built at that level).

    The bytes before the first entry (the PEX's shebang line) are kept, as are names, dates and
    permission bits, so the result is the same PEX — and byte-identical whether or not entries
    were reused (same zlib, same level).  `launcher` may rewrite those leading bytes (the
    node-cache preamble)."""
    reuse = _Reusable(previous if level > 0 else None)
    reused = 0
    try:
        with zipfile.ZipFile(src) as zin:
            infos = zin.infolist()
            names = {i.filename for i in infos}
            prefix_len = min((i.header_offset for i in infos), default=0)
            total = sum(i.file_size for i in infos) or 1
            with open(src, "rb") as f:
                prefix = f.read(prefix_len)
            if launcher is not None:
                prefix = launcher(prefix)
            done = 0
            next_report = 0.0
            with open(dst, "wb") as out:
                out.write(prefix)
                with zipfile.ZipFile(out, "w") as zout:
                    for info in infos:
                        new = zipfile.ZipInfo(info.filename, info.date_time)
                        new.external_attr = info.external_attr
                        new.create_system = info.create_system
                        if info.is_dir() or info.file_size == 0:
                            zout.writestr(new, b"", compress_type=zipfile.ZIP_STORED)
                            continue
                        hit = reuse.raw(info.filename, info.CRC, info.file_size)
                        if hit is not None:
                            _write_raw(zout, new, *hit)
                            reused += 1
                        else:
                            with (
                                zin.open(info) as r,
                                zout.open(
                                    _deflating(new, level),
                                    "w",
                                    force_zip64=info.file_size > 1 << 31,
                                ) as w,
                            ):
                                shutil.copyfileobj(r, w, 1 << 20)
                        if bytecode is not None:
                            reused += _add_pyc(zout, reuse, bytecode, info, level, names)
                        done += info.file_size
                        if done / total >= next_report:
                            _emit(
                                progress,
                                0.8 + 0.15 * done / total,
                                f"compressing the PEX ({done / total:.0%})",
                            )
                            next_report += 0.05
    finally:
        reuse.close()
    dst.chmod(src.stat().st_mode & 0o777)
    return reused


def _add_pyc(
    zout: zipfile.ZipFile,
    reuse: _Reusable,
    bytecode: Bytecode,
    source: zipfile.ZipInfo,
    level: int,
    names: set[str],
) -> int:
    """After the `.py` entry `source`, write its compiled `.pyc` if the venv has a valid one
    (dated like its source, a plain 0644 file); 1 if its bytes were reused."""
    pyc = bytecode.for_entry(source.filename, source.CRC, source.file_size)
    name = bytecode.pyc_name(source.filename)
    if pyc is None or name in names:
        return 0
    new = zipfile.ZipInfo(name, source.date_time)
    new.external_attr = (stat.S_IFREG | 0o644) << 16
    new.create_system = source.create_system
    hit = reuse.raw(name, zlib.crc32(pyc), len(pyc))
    if hit is not None:
        _write_raw(zout, new, *hit)
        return 1
    zout.writestr(_deflating(new, level), pyc)
    return 0


def _previous_build(cache: Cache, env: Environment, options: BuildOptions) -> Path | None:
    """The latest cached PEX for this interpreter deflated the same way, to reuse entries from."""
    for record in cache.list():
        same_python = record.python == env.python or record.prefix == env.prefix
        opts = record.options or {}
        # Records from before `bytecode` existed with `compress` were deflated by pex itself,
        # whose bytes need not match ours at the same level.
        by_pex = bool(opts.get("compress")) and "bytecode" not in opts
        if same_python and not by_pex and BuildOptions.from_json(opts).level == options.level:
            return record.path
    return None


def _emit(progress: ProgressCallback | None, fraction: float | None, message: str) -> None:
    if progress is not None:
        progress(ProgressEvent("build", fraction, message))


def run_pex(
    args: list[str], progress: ProgressCallback | None = None, cwd: Path | None = None
) -> None:
    """Run pex; report elapsed-time heartbeats and its stderr lines as "build" events.

    Events are sent from the calling thread (stderr is read by a helper thread into a queue), so
    a callback that raises to cancel the build stops pex and the exception propagates."""
    cmd = [*pex_command(), *args]
    env = dict(os.environ)
    # Never let the caller's PEX runtime settings leak into the build tool itself.
    for k in ("PEX_INHERIT_PATH", "PEX_PYTHON", "PEX_PYTHON_PATH", "PEX_MODULE", "PEX_SCRIPT"):
        env.pop(k, None)
    try:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=cwd,
        )
    except OSError as exc:
        raise BuildError(f"Could not run pex ({cmd[0]}): {exc}") from exc
    lines: list[str] = []
    queue: Queue[str | None] = Queue()

    def reader() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            queue.put(line.rstrip())
        queue.put(None)

    threading.Thread(target=reader, daemon=True).start()
    start = time.monotonic()
    try:
        while True:
            try:
                line = queue.get(timeout=1.0)
            except Empty:
                _emit(progress, None, f"pex running ({time.monotonic() - start:.0f} s)")
                continue
            if line is None:
                break
            if line:
                lines.append(line)
                _emit(progress, None, line[:300])
        rc = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if rc != 0:
        tail = "\n".join(lines[-15:])
        raise BuildError(f"pex failed (exit {rc}):\n{tail}")


def build_pex(
    env: Environment,
    options: BuildOptions | None = None,
    cache: Cache | None = None,
    progress: ProgressCallback | None = None,
) -> BuildRecord:
    """The cached PEX for `env`, building it if absent (one builder per fingerprint)."""
    return build_pex_ex(env, options, cache, progress)[0]


def build_pex_ex(
    env: Environment,
    options: BuildOptions | None = None,
    cache: Cache | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[BuildRecord, bool]:
    """Like `build_pex`, and also say whether the result was reused (True) or built now."""
    options = options or BuildOptions()
    cache = cache or Cache()
    pv = pex_version()
    fp = fingerprint(env, options, pv)
    hit = cache.get(fp)
    if hit is not None:
        return hit, True
    check_buildable(env)
    _emit(progress, 0.0, f"waiting for the build lock of {fp[:12]}")
    with cache.lock(fp):
        hit = cache.get(fp)  # another process may have built it while we waited
        if hit is not None:
            _emit(progress, 1.0, "built by another process")
            return hit, True
        tmp = cache.new_tmp(fp)
        name = artifact_name(fp)
        chosen = selected_distributions(env, options)
        _emit(progress, 0.0, f"building {name} from {len(chosen)} distributions")
        t0 = time.monotonic()
        try:
            stored = tmp / f"stored-{name}"
            run_pex(pex_arguments(env, options, stored), progress, cwd=tmp)
            if not stored.is_file():
                raise BuildError(f"pex exited 0 but wrote no {stored.name}")
            built = tmp / name
            bytecode = Bytecode.of(env) if options.bytecode else None
            launcher = (
                functools.partial(node_cache.with_preamble, eid=node_cache.env_id(fp))
                if options.sh_boot
                else None
            )
            if options.level <= 0 and bytecode is None and launcher is None:
                os.rename(stored, built)
            else:
                previous = _previous_build(cache, env, options)
                reused = recompress(
                    stored, built, options.level, progress, previous, bytecode, launcher
                )
                if reused and previous is not None:
                    _emit(progress, 0.95, f"{reused} unchanged files reused from {previous.name}")
                stored.unlink()
            _emit(progress, 0.95, "hashing the PEX")
            record = BuildRecord(
                fingerprint=fp,
                pex_path=str(cache.entry_dir(fp) / name),
                python=env.python,
                prefix=env.prefix,
                python_version=env.version,
                platform=env.platform,
                distributions=[{"name": n, "version": v} for n, v in chosen],
                editables=sorted(d.name for d in env.editables),
                options=options.to_json(),
                pex_version=pv,
                size=built.stat().st_size,
                sha256=sha256_file(built),
                built_at=time.time(),
                build_seconds=round(time.monotonic() - t0, 3),
            )
            cache.publish(fp, tmp, record)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    _emit(progress, 1.0, f"built {name} ({record.size / 1e6:.1f} MB)")
    return record, False
