"""`pexlab` command line: inspect, build, cache list|prune, spark-args.

Output: human text on stdout, or JSON with `--json`.  Progress goes to stderr: a status line for
anything slower than a second, or with `--events` one JSON ProgressEvent per line prefixed
`PEXLAB_EVENT ` (what the server extension parses).  Exit codes: 0 ok, 1 a pexlab error with a
message on stderr, 2 bad usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import time
from collections.abc import Mapping
from typing import Any

from pexlab.build.options import DEFAULT_EXCLUDES, LAYOUT_VALUES, BuildOptions, OptionsError
from pexlab.core.errors import PexlabError
from pexlab.core.progress import EVENT_PREFIX, ProgressEvent, TextProgress
from pexlab.core.sizes import format_size


def _print_event(event: ProgressEvent) -> None:
    """`--events`: the machine-readable line the server extension parses."""
    print(event.to_line(), file=sys.stderr, flush=True)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def cmd_inspect(args: argparse.Namespace) -> int:
    from pexlab.environment.interpreter import inspect_interpreter

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


LAYOUT_HELP = (
    "zipapp (default): one PEX file; layers: a launcher plus one zip per distribution, only the "
    "new ones uploaded (README, 'Layered environments')"
)


def _options(args: argparse.Namespace) -> BuildOptions:
    """`--options-json` (the wire format, possibly partial), then the single flags on top."""
    base = BuildOptions()
    if args.options_json is not None:
        try:
            data = json.loads(args.options_json)
        except ValueError as exc:
            raise OptionsError(f"--options-json is not JSON: {exc}") from exc
        base = BuildOptions.from_json(data)
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
    if args.layout is not None:
        kw["layout"] = args.layout
    return dataclasses.replace(base, **kw)


def cmd_build(args: argparse.Namespace) -> int:
    from pexlab.build.cache import Cache
    from pexlab.package import package_environment

    # Human progress stays quiet for a second, so a warm (cached) build prints nothing.
    text = None if args.events else TextProgress(quiet_for=1.0)
    try:
        arts = package_environment(
            python=args.python,
            storage=args.storage,
            options=_options(args),
            include_editable=not args.no_editables,
            progress=text or _print_event,
            cache=Cache(args.cache_dir) if args.cache_dir else None,
        )
    finally:
        if text is not None:
            text.close()
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
    if arts.layers:
        sent = f", {arts.layers_sent} uploaded" if arts.storage else ""
        total = format_size(sum(x.size for x in arts.layers))
        print(f"layers    {len(arts.layers)} ({total}{sent}) beside {arts.pex.name}")
    for w in arts.warnings:
        print(f"warning: {w}")
    return 0


def cmd_cache_list(args: argparse.Namespace) -> int:
    from pexlab.build.cache import Cache

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
    from pexlab.build.cache import Cache

    cache = Cache(args.cache_dir) if args.cache_dir else Cache()
    removed = cache.prune(keep=args.keep, older_than_days=args.older_than_days)
    if args.json:
        _print_json({"removed": removed})
    else:
        print(f"removed {len(removed)} build(s)" + "".join(f"\n  {fp}" for fp in removed))
    return 0


# ---- spark-args ---------------------------------------------------------------------------------


def _parse_conf_items(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise OptionsError(f"--conf expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def format_submit_args(conf: Mapping[str, str], fmt: str = "args") -> str:
    if fmt == "json":
        return json.dumps(dict(conf), indent=2, sort_keys=True)
    if fmt == "properties":  # spark-defaults.conf
        return "\n".join(f"{k} {v}" for k, v in sorted(conf.items()))
    return " \\\n".join(f"--conf {shlex.quote(f'{k}={v}')}" for k, v in sorted(conf.items()))


def cmd_spark_args(args: argparse.Namespace) -> int:
    from pexlab.spark.conf import SUBMIT_DECIDES, is_local_master, spark_conf

    kw: dict[str, Any] = {}
    if args.exclude is not None:
        kw["exclude"] = tuple(args.exclude)
    if args.layout is not None:
        kw["layout"] = args.layout
    options = BuildOptions(**kw) if kw else None
    user = _parse_conf_items(args.conf)
    if args.driver_python:
        # Client mode: spark-submit would otherwise start the driver with ./<pex> too.
        user.setdefault("spark.pyspark.driver.python", args.driver_python)
    if args.master and is_local_master(args.master):
        print("pexlab: local master, nothing to ship", file=sys.stderr)
    if args.module and args.format != "args":
        raise OptionsError("--module adds the application to run: use it with --format args.")
    conf = spark_conf(
        master=args.master or SUBMIT_DECIDES,
        storage=args.storage,
        conf=user,
        include_editable=not args.no_editable,
        python=args.python,
        progress=False if args.quiet else TextProgress(),
        pex_root=args.pex_root,
        options=options,
        deploy_mode=args.deploy_mode,
    )
    if not args.master:
        conf.pop("spark.master", None)  # let spark-submit's --master decide
    out = format_submit_args(conf, args.format)
    if args.module:
        out += " \\\n" + shlex.quote(_launcher(args.module, args.storage))
    print(out)
    return 0


def _launcher(module: str, storage: str | None) -> str:
    """spark-submit's primary resource that runs `module` (published next to the artifacts)."""
    from pexlab.build.cache import Cache
    from pexlab.spark.yarn import module_launcher
    from pexlab.storage.upload import upload

    path = module_launcher(module, Cache().root / "launchers")
    return upload(path, storage) if storage else str(path)


def register_spark_args(subparsers: Any) -> argparse.ArgumentParser:
    """Add `spark-args` to the `pexlab` CLI."""
    from pexlab.spark.conf import DEFAULT_PEX_ROOT

    p: argparse.ArgumentParser = subparsers.add_parser(
        "spark-args",
        help="print the spark-submit --conf flags that ship this environment",
        description="Build (or reuse) the PEX and editable zips, upload them if --storage is "
        "given, and print the Spark conf for spark-submit.",
    )
    p.add_argument("--python", help="interpreter to package (default: this one)")
    p.add_argument("--storage", help="fsspec URL executors can read (s3://..., hdfs://..., a path)")
    p.add_argument(
        "--master", help="Spark master; local[*] ships nothing; default: leave to spark-submit"
    )
    p.add_argument("--no-editable", action="store_true", help="do not ship editable projects")
    p.add_argument(
        "--exclude",
        nargs="*",
        help=f"distributions to leave out (default: {' '.join(DEFAULT_EXCLUDES)})",
    )
    p.add_argument(
        "--conf", action="append", metavar="KEY=VALUE", help="extra conf, wins over pexlab's"
    )
    p.add_argument("--layout", choices=LAYOUT_VALUES, help=LAYOUT_HELP)
    p.add_argument(
        "--driver-python", help="driver interpreter for client mode (spark.pyspark.driver.python)"
    )
    p.add_argument(
        "--pex-root",
        default=None,
        help="PEX_ROOT on executors (default: the PEX's launcher picks a per-user node cache; "
        f"{DEFAULT_PEX_ROOT} for a PEX built without it)",
    )
    p.add_argument(
        "--deploy-mode",
        choices=("client", "cluster"),
        default="client",
        help="cluster: the driver runs in the cluster from the same PEX (YARN)",
    )
    p.add_argument(
        "--module",
        help="the application's module (in the PEX or an editable project): ends the output "
        "with a launcher that runs it as the driver's __main__ (spark-submit's application)",
    )
    p.add_argument("--format", choices=("args", "json", "properties"), default="args")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=cmd_spark_args)
    return p


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
        help=f"distributions to leave out of the PEX (default: {' '.join(DEFAULT_EXCLUDES)}; "
        "give none to exclude nothing)",
    )
    p.add_argument(
        "--include",
        nargs="*",
        metavar="NAME",
        default=[],
        help="distributions to put in even if excluded (e.g. pyspark)",
    )
    p.add_argument(
        "--options-json",
        metavar="JSON",
        help="build options as JSON (BuildOptions' wire format; keys left out keep their "
        "defaults); the flags above win over it",
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
    p.add_argument("--layout", choices=LAYOUT_VALUES, help=LAYOUT_HELP)
    p.add_argument("--no-venv", action="store_true", help="plain zipapp PEX instead of --venv mode")
    p.add_argument(
        "--no-bytecode",
        action="store_true",
        help="leave the venv's .pyc files out (executors compile on first import)",
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
    except PexlabError as exc:
        # Raised on purpose, with a message for the user; anything else is a bug and keeps its
        # traceback.
        print(f"pexlab: error: {exc}", file=sys.stderr)
        if getattr(args, "json", False):  # callers reading stdout (the server) get it there too
            print(json.dumps({"error": str(exc), "type": type(exc).__name__}))
        return 1


if __name__ == "__main__":
    sys.exit(main())
