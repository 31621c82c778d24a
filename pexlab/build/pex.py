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
- `--no-compress`, then pexlab rewrites the zipapp once (`pexlab.build.zip_rewrite`): it deflates at level 1
  (`zip_level`) and adds the venv's compiled bytecode (`bytecode`, see `pexlab.build.bytecode`: without
  it every executor compiles every imported module from source on first use, seconds for a data
  science stack).  pex's own `--compress` deflates at zlib's default level 6, which for a
  pandas/sklearn/pyarrow env took ~4x the CPU of level 1 for a file only ~12% smaller (136 vs
  154 MB; 439 MB stored); `compress=True` now means level 6 in the same single rewrite.  Storing
  only (`zip_level=0`) is fastest to build but ships 3x the bytes to every executor.  On a
  rebuild, files whose name, CRC and size match the previous build of the same interpreter are
  copied already deflated (`rewrite(previous=...)`): adding one package re-deflates only it.
- `--max-install-jobs 0`: parallel first-boot installs on executors.
- `--sh-boot` (`sh_boot`): the PEX starts with pex's POSIX `sh` launcher, which execs the
  installed venv's python directly once it exists (no Python bootstrap on a warm start), and
  pexlab puts the node-cache preamble in front of it (`pexlab.nodecache.upkeep`): unless PEX_ROOT is
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
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from functools import cache
from pathlib import Path
from queue import Empty, Queue
from typing import Any, NamedTuple

from pexlab.build.bytecode import Bytecode
from pexlab.build.cache import BuildRecord, Cache, sha256_file
from pexlab.build.fingerprint import fingerprint, selected_distributions
from pexlab.build.layers import Earlier, make_layers, write_launcher
from pexlab.build.options import DEFAULT_EXCLUDES, BuildOptions, BuildOptionsLike
from pexlab.build.zip_rewrite import rewrite
from pexlab.core.errors import PexlabError
from pexlab.core.names import canonical_name
from pexlab.core.progress import ProgressCallback, report
from pexlab.core.sizes import format_size
from pexlab.environment.interpreter import Environment
from pexlab.nodecache import native as zip_native
from pexlab.nodecache.launcher import env_id, with_preamble


class BuildError(PexlabError):
    """The PEX could not be built; the message says why and, where possible, what to do."""


__all__ = [
    "DEFAULT_EXCLUDES",
    "BuildError",
    "BuildOptions",
    "BuildResult",
    "artifact_name",
    "build_pex",
    "check_buildable",
    "pex_arguments",
    "pex_command",
    "pex_version",
    "run_pex",
]


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
        "--max-install-jobs",
        str(options.max_install_jobs),
    ]
    args.append("--no-compress")  # pexlab deflates afterwards (see module docstring)
    if options.layout == "layers":
        args += ["--layout", "packed"]  # one zip per distribution (pexlab.build.layers)
    if options.venv:
        args += ["--venv", "--non-hermetic-venv-scripts"]
    if options.sh_boot:
        args.append("--sh-boot")
    if env.editables:  # compiled modules in editable zips import on the executors
        args += ["-D", str(zip_native.write_sources(output.parent / "zip-native"))]
    args += [*options.extra_args, "-o", str(output)]
    return args


def _previous_build(cache: Cache, env: Environment, options: BuildOptions) -> Path | None:
    """The latest cached PEX for this interpreter deflated the same way, to reuse entries from."""
    for record in cache.list():
        same_python = record.python == env.python or record.prefix == env.prefix
        opts = record.options or {}
        # Records from before `bytecode` existed with `compress` were deflated by pex itself,
        # whose bytes need not match ours at the same level.
        by_pex = bool(opts.get("compress")) and "bytecode" not in opts
        level = BuildOptions.from_json(opts, strict=False).level
        if same_python and not by_pex and level == options.level:
            return record.path
    return None


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
                report(progress, "build", None, f"pex running ({time.monotonic() - start:.0f} s)")
                continue
            if line is None:
                break
            if line:
                lines.append(line)
                report(progress, "build", None, line[:300])
        rc = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if rc != 0:
        tail = "\n".join(lines[-15:])
        raise BuildError(f"pex failed (exit {rc}):\n{tail}")


def pex_hash_of(pex: Path) -> str:
    """The PEX's own content hash (PEX-INFO `pex_hash`): the name of its venv under PEX_ROOT
    (`venvs/<n>/<pex_hash>/...`), which the node cache's eviction looks for.  `pex`: a PEX
    file or a packed folder."""
    try:
        if pex.is_dir():
            value = json.loads((pex / "PEX-INFO").read_text()).get("pex_hash")
        else:
            with zipfile.ZipFile(pex) as zf:
                value = json.loads(zf.read("PEX-INFO")).get("pex_hash")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise BuildError(f"pex wrote {pex.name} without a readable PEX-INFO: {exc}") from exc
    if not isinstance(value, str) or not value.isalnum():
        raise BuildError(f"{pex.name}: PEX-INFO has no pex_hash (pex {pex_version()})")
    return value


def _layers_summary(record: BuildRecord) -> str:
    return f"{len(record.layers)} layers, {format_size(sum(x['size'] for x in record.layers))}"


def _earlier_layers(cache: Cache, env: Environment, options: BuildOptions) -> Earlier:
    """Layers that earlier layered builds for this Python version made the same way (level,
    bytecode), by (distribution hash, wheel): a rebuild, or another kernel with the same
    distribution, links them instead of deflating them again.  The bytecode in a layer is
    checked-hash (`pexlab.build.bytecode`): it is used only with the very source it came from."""
    out: Earlier = {}
    for record in cache.list():
        opts = BuildOptions.from_json(record.options or {}, strict=False)
        version = ".".join(record.python_version.split(".")[:2])
        if version == env.python_major_minor and (opts.level, opts.bytecode) == (
            options.level,
            options.bytecode,
        ):
            for x in record.layers:
                out.setdefault((str(x["hash"]), str(x["wheel"])), record.layer_path(x))
    return out


def _build_layered(
    env: Environment,
    options: BuildOptions,
    cache: Cache,
    fp: str,
    tmp: Path,
    progress: ProgressCallback | None,
) -> BuildRecord:
    """The layered layout (`pexlab.build.layers`) of `env` in `tmp`, and its record."""
    packed = tmp / "packed"
    run_pex(pex_arguments(env, options, packed), progress, cwd=tmp)
    if not (packed / "PEX-INFO").is_file():
        raise BuildError(f"pex exited 0 but wrote no packed folder {packed.name}")
    report(progress, "build", 0.9, "linking the layers")
    pex_hash = pex_hash_of(packed)
    layers = make_layers(
        packed,
        tmp,
        options.level,
        Bytecode.of(env) if options.bytecode else None,
        _earlier_layers(cache, env, options),
        lambda i, n, what: report(
            progress, "build", 0.8 + 0.15 * i / n, f"layer {i + 1} of {n}: {what}"
        ),
    )
    name = artifact_name(fp)
    write_launcher(
        packed, layers, tmp / name, env_id(fp), pex_hash, f"python{env.python_major_minor}"
    )
    shutil.rmtree(packed)
    return _record(cache, fp, env, options, tmp / name, layers=[x.to_json() for x in layers])


def _record(
    cache: Cache, fp: str, env: Environment, options: BuildOptions, built: Path, **extra: Any
) -> BuildRecord:
    """The record of a finished build whose shipped file is `built` (still in its tmp entry)."""
    return BuildRecord(
        fingerprint=fp,
        pex_path=str(cache.entry_dir(fp) / built.name),
        python=env.python,
        prefix=env.prefix,
        python_version=env.version,
        platform=env.platform,
        distributions=[{"name": n, "version": v} for n, v in selected_distributions(env, options)],
        editables=sorted(d.name for d in env.editables),
        options=options.to_json(),
        pex_version=pex_version(),
        size=built.stat().st_size,
        sha256=sha256_file(built),
        built_at=time.time(),
        **extra,
    )


class BuildResult(NamedTuple):
    record: BuildRecord
    reused: bool  # True: found in the cache (built earlier, or by another process meanwhile)


def build_pex(
    env: Environment,
    options: BuildOptionsLike = None,
    cache: Cache | None = None,
    progress: ProgressCallback | None = None,
) -> BuildResult:
    """The cached PEX for `env`, building it if absent (one builder per fingerprint), and
    whether it was reused."""
    options = BuildOptions.coerce(options)
    cache = cache or Cache()
    pv = pex_version()
    fp = fingerprint(env, options, pv)
    hit = cache.get(fp)
    if hit is not None:
        return BuildResult(hit, True)
    check_buildable(env)
    report(progress, "build", 0.0, f"waiting for the build lock of {fp[:12]}")
    with cache.lock(fp):
        hit = cache.get(fp)  # another process may have built it while we waited
        if hit is not None:
            report(progress, "build", 1.0, "built by another process")
            return BuildResult(hit, True)
        tmp = cache.new_tmp(fp)
        name = artifact_name(fp)
        count = len(selected_distributions(env, options))
        report(progress, "build", 0.0, f"building {name} from {count} distributions")
        t0 = time.monotonic()
        try:
            if options.layout == "layers":
                record = _build_layered(env, options, cache, fp, tmp, progress)
                record.build_seconds = round(time.monotonic() - t0, 3)
                cache.publish(fp, tmp, record)
                report(progress, "build", 1.0, f"built {name}: {_layers_summary(record)}")
                return BuildResult(record, False)
            stored = tmp / f"stored-{name}"
            run_pex(pex_arguments(env, options, stored), progress, cwd=tmp)
            if not stored.is_file():
                raise BuildError(f"pex exited 0 but wrote no {stored.name}")
            built = tmp / name
            bytecode = Bytecode.of(env) if options.bytecode else None
            launcher = (
                functools.partial(
                    with_preamble,
                    eid=env_id(fp),
                    pex_hash=pex_hash_of(stored),
                    python=f"python{env.python_major_minor}",
                )
                if options.sh_boot
                else None
            )
            if options.level <= 0 and bytecode is None and launcher is None:
                os.rename(stored, built)
            else:
                previous = _previous_build(cache, env, options)
                reused = rewrite(
                    stored,
                    built,
                    options.level,
                    previous,
                    bytecode,
                    lambda f: report(
                        progress, "build", 0.8 + 0.15 * f, f"compressing the PEX ({f:.0%})"
                    ),
                    launcher,
                )
                if reused and previous is not None:
                    report(
                        progress,
                        "build",
                        0.95,
                        f"{reused} unchanged files reused from {previous.name}",
                    )
                stored.unlink()
            report(progress, "build", 0.95, "hashing the PEX")
            record = _record(
                cache, fp, env, options, built, build_seconds=round(time.monotonic() - t0, 3)
            )
            cache.publish(fp, tmp, record)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    report(progress, "build", 1.0, f"built {name} ({format_size(record.size)})")
    return BuildResult(record, False)
