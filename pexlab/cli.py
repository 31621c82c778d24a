"""`pexlab` command line: inspect, build, cache list|prune (and spark-args, from pexlab.spark).

Output: human text on stdout, or JSON with `--json`.  Progress goes to stderr: a status line for
anything slower than a second, or with `--events` one JSON ProgressEvent per line prefixed
`PEXLAB_EVENT ` (what the server extension parses).  Exit codes: 0 ok, 1 a pexlab error with a
message on stderr, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from .notebook_progress import format_size
from .progress import EVENT_PREFIX


class _StderrProgress:
    """Human progress on stderr, silent for the first second so fast calls print nothing."""

    def __init__(self, events: bool) -> None:
        self.events = events
        self.start = time.monotonic()
        self.tty = sys.stderr.isatty()
        self.last = ""

    def __call__(self, event: Any) -> None:
        if self.events:
            print(event.to_line(), file=sys.stderr, flush=True)
            return
        if time.monotonic() - self.start < 1.0:
            return
        frac = "" if event.fraction is None else f" {event.fraction * 100:3.0f}%"
        line = f"[{event.phase}{frac}] {event.message}"
        if line == self.last:
            return
        self.last = line
        if self.tty:
            print("\r\033[K" + line[:150], end="", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty and self.last:
            print(file=sys.stderr)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def cmd_inspect(args: argparse.Namespace) -> int:
    from .environment import inspect_interpreter

    env = inspect_interpreter(args.python)
    if args.json:
        _print_json(env.to_json())
        return 0
    print(f"python    {env.python} ({env.implementation} {env.version}, {env.abi}, {env.platform})")
    print(f"kind      {env.kind} at {env.prefix}")
    print(f"installed {len(env.installed)} distributions")
    for d in env.installed:
        print(f"  {d.name}=={d.version}" + ("".join(f"  [warning: {w}]" for w in d.warnings)))
    print(f"editable  {len(env.editables)}")
    for d in env.editables:
        ed = d.editable
        assert ed is not None
        print(
            f"  {d.name}=={d.version} -> {ed.project_dir} ({', '.join(ed.top_level)})"
            + "".join(f"  [warning: {w}]" for w in d.warnings)
        )
    for w in env.warnings:
        print(f"warning: {w}")
    return 0


def _options(args: argparse.Namespace):
    if args.options_json is not None:
        return _options_from_json(args)
    from .pex_build import BuildOptions

    kw: dict[str, Any] = {}
    if args.exclude is not None:
        kw["exclude"] = tuple(args.exclude)
    if args.include:
        kw["include"] = tuple(args.include)
    if args.compress:
        kw["compress"] = True
    if args.no_venv:
        kw["venv"] = False
    if args.no_bytecode:
        kw["bytecode"] = False
    if args.zip_level is not None:
        kw["zip_level"] = args.zip_level
    return BuildOptions(**kw)


_OPTION_FLAGS = ("exclude", "include", "compress", "zip_level", "no_venv", "no_bytecode")


def _options_from_json(args: argparse.Namespace):
    """`--options-json`: the whole BuildOptions as one object (what the server sends), so no
    flag default of this CLI can make its fingerprint differ from the caller's."""
    from .options import BuildOptions

    given = [f for f in _OPTION_FLAGS if getattr(args, f) not in (None, False, [])]
    if given:
        raise SystemExit(
            "pexlab build: --options-json cannot be combined with "
            + ", ".join("--" + f.replace("_", "-") for f in given)
        )
    try:
        data = json.loads(args.options_json)
    except ValueError as exc:
        raise SystemExit(f"pexlab build: --options-json is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SystemExit("pexlab build: --options-json must be a JSON object")
    return BuildOptions.from_json(data)


def cmd_build(args: argparse.Namespace) -> int:
    from .cache import Cache
    from .package import package_environment

    progress = _StderrProgress(args.events)
    try:
        arts = package_environment(
            python=args.python,
            storage=args.storage,
            options=_options(args),
            include_editable=not args.no_editables,
            progress=progress,
            cache=Cache(args.cache_dir) if args.cache_dir else None,
        )
    finally:
        progress.close()
    if args.json:
        _print_json(arts.to_json())
        return 0
    state = "reused" if arts.reused else "built"
    print(f"fingerprint {arts.fingerprint}  ({state} in {arts.seconds:.2f} s)")
    for a in [arts.pex, *arts.editables]:
        print(f"{a.kind:8}  {a.name}  {format_size(a.size)}")
        print(f"          local: {a.local_path}")
        if a.url:
            print(f"          url:   {a.url}")
    for w in arts.warnings:
        print(f"warning: {w}")
    return 0


def cmd_cache_list(args: argparse.Namespace) -> int:
    from .cache import Cache

    cache = Cache(args.cache_dir) if args.cache_dir else Cache()
    records = cache.list()
    if args.json:
        _print_json([r.to_json() for r in records])
        return 0
    if not records:
        print(f"no cached builds in {cache.root}")
        return 0
    for r in records:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.built_at))
        print(
            f"{r.fingerprint[:16]}  {when}  {format_size(r.size):>9}  {len(r.distributions):3} dists  {r.python}"
        )
    return 0


def cmd_cache_prune(args: argparse.Namespace) -> int:
    from .cache import Cache

    cache = Cache(args.cache_dir) if args.cache_dir else Cache()
    removed = cache.prune(keep=args.keep, older_than_days=args.older_than_days)
    if args.json:
        _print_json({"removed": removed})
    else:
        print(f"removed {len(removed)} build(s)" + "".join(f"\n  {fp}" for fp in removed))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pexlab",
        description="Package a Python environment as a PEX (plus editable zips) for Spark executors.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--python", help="interpreter to package (default: the one running pexlab)")
    common.add_argument("--json", action="store_true", help="machine-readable output on stdout")

    p = sub.add_parser(
        "inspect",
        parents=[common],
        help="show what an interpreter has installed",
        description="Show the distributions and editable projects of an interpreter.",
    )
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser(
        "build",
        parents=[common],
        help="build (or reuse) the PEX and editable zips",
        description="Build or reuse the PEX of an interpreter's installed "
        "distributions, zip its editable projects, optionally upload them.",
    )
    p.add_argument(
        "--storage", help="folder URL to upload to (path, file://, s3://, gs://, hdfs://, abfs://)"
    )
    p.add_argument(
        "--exclude",
        nargs="*",
        metavar="NAME",
        help="distributions to leave out of the PEX (default: pyspark py4j; give none to exclude nothing)",
    )
    p.add_argument(
        "--include",
        nargs="*",
        metavar="NAME",
        default=[],
        help="distributions to put in even if excluded (e.g. pyspark)",
    )
    p.add_argument(
        "--compress", action="store_true", help="deflate at level 6 (smaller, slower to build)"
    )
    p.add_argument(
        "--zip-level",
        type=int,
        choices=range(10),
        metavar="0-9",
        help="deflate level pexlab applies after pex's fast stored build (default 1; 0: stored)",
    )
    p.add_argument("--no-venv", action="store_true", help="plain zipapp PEX instead of --venv mode")
    p.add_argument(
        "--no-bytecode",
        action="store_true",
        help="leave the venv's .pyc files out (executors compile on first import)",
    )
    p.add_argument(
        "--options-json",
        metavar="JSON",
        help="all build options as one JSON object (the fields of BuildOptions.to_json(); "
        "missing fields take their defaults); not combinable with the option flags above",
    )
    p.add_argument("--no-editables", action="store_true", help="do not zip editable projects")
    p.add_argument(
        "--events",
        action="store_true",
        help=f"progress as JSON lines on stderr, prefixed {EVENT_PREFIX.strip()!r}",
    )
    p.add_argument("--cache-dir", help="cache folder (default: $PEXLAB_CACHE_DIR or XDG cache)")
    p.set_defaults(func=cmd_build)

    cache_p = sub.add_parser(
        "cache",
        help="list or prune cached builds",
        description="List or prune the local PEX cache.",
    )
    csub = cache_p.add_subparsers(dest="cache_command", metavar="ACTION")
    csub.required = True
    cache_common = argparse.ArgumentParser(add_help=False)
    cache_common.add_argument("--json", action="store_true", help="machine-readable output")
    cache_common.add_argument(
        "--cache-dir", help="cache folder (default: $PEXLAB_CACHE_DIR or XDG cache)"
    )
    p = csub.add_parser(
        "list",
        parents=[cache_common],
        help="list cached builds, newest first",
        description="List cached builds, newest first.",
    )
    p.set_defaults(func=cmd_cache_list)
    p = csub.add_parser(
        "prune",
        parents=[cache_common],
        help="remove old builds and leftovers",
        description="Remove all but the newest builds of each interpreter, "
        "invalid entries and abandoned temporary folders.",
    )
    p.add_argument("--keep", type=int, default=1, help="builds to keep per interpreter (default 1)")
    p.add_argument(
        "--older-than-days", type=float, default=None, help="only remove builds older than this"
    )
    p.set_defaults(func=cmd_cache_prune)

    # ---- hook for the Spark engineer: `pexlab spark-args` lives in pexlab.spark ----------
    # pexlab.spark may define `register_spark_args(subparsers)`, adding its subparser and
    # setting `func` on it. Imported lazily so the CLI works without pyspark installed.
    try:
        from .spark import register_spark_args  # type: ignore[attr-defined]
    except Exception:  # pexlab.spark missing, or pyspark not importable there
        register_spark_args = None
    if register_spark_args is not None:
        register_spark_args(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not _is_pexlab_error(exc):
            raise
        print(f"pexlab: error: {exc}", file=sys.stderr)
        if getattr(args, "json", False):  # callers reading stdout (the server) get it there too
            print(json.dumps({"error": str(exc), "type": type(exc).__name__}))
        return 1


def _is_pexlab_error(exc: BaseException) -> bool:
    """Errors pexlab raises on purpose carry a message for the user; anything else is a bug
    and keeps its traceback."""
    from .environment import InspectionError
    from .pex_build import BuildError
    from .storage import StorageError

    if isinstance(exc, (InspectionError, BuildError, StorageError)):
        return True
    return type(exc).__module__.startswith("pexlab.") and type(exc).__name__.endswith("Error")


if __name__ == "__main__":
    sys.exit(main())
