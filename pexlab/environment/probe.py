"""Describe the interpreter running this script, as JSON on stdout.

Run as `<target python> -I probe.py`.  Standard library only, Python 3.8+ syntax: this file runs
inside the *user's* interpreter (a kernel's venv, conda env, system Python), which may have
nothing of pexlab installed.  It never imports the user's packages: everything is read from
metadata files, `.pth` files and (for setuptools' editable finders) parsed with `ast`.  Anything
broken becomes a warning on the entry concerned, never a crash.  It runs on every warm call, so it
stays cheap: no `pip`, no `email` parsing, one directory listing per site folder.
"""

import ast
import json
import os
import re
import site
import sys
import sysconfig

if sys.version_info < (3, 8):
    sys.stderr.write(
        "pexlab needs Python 3.8 or newer in the target interpreter (this is Python "
        + ".".join(str(n) for n in sys.version_info[:3])
        + ")\n"
    )
    sys.exit(3)

import importlib.metadata as metadata

# Folders that sit in a project next to its code but are never importable code of it: they are
# skipped when we have to guess a project's top-level names from a folder listing.
NOT_CODE_DIRS = {
    "build",
    "dist",
    "docs",
    "doc",
    "test",
    "tests",
    "testing",
    "examples",
    "example",
    "benchmarks",
    "bench",
    "node_modules",
    "venv",
    "env",
    "site",
    "htmlcov",
    "__pycache__",
}
NOT_CODE_MODULES = {"setup", "conftest", "noxfile", "fabfile"}
MODULE_SUFFIXES = (".py", ".pyw", ".so", ".pyd")

_here = os.path.dirname(os.path.abspath(__file__))
# Before 3.11, -I still put this script's folder (pexlab/) first on sys.path: not the target's.
if sys.path and os.path.abspath(sys.path[0] or ".") == _here:
    del sys.path[0]


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def headers(text):
    """Name and Version from a METADATA/PKG-INFO header block (no email parser: 10x cheaper)."""
    found = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, sep, value = line.partition(":")
        if sep:
            key = key.strip().lower()
            if key in ("name", "version") and key not in found:
                found[key] = value.strip()
    return found.get("name"), found.get("version")


def from_folder_name(path):
    """`foo_bar-1.2.dist-info` -> ("foo_bar", "1.2"); the fallback when METADATA is missing."""
    stem = os.path.basename(path).rsplit(".", 1)[0]
    name, _, rest = stem.partition("-")
    return name, rest.split("-")[0] if rest else None


def unique_paths(paths):
    """Normalised paths, first occurrence kept, order kept."""
    seen = []
    for p in paths:
        p = os.path.normpath(p)
        if p not in seen:
            seen.append(p)
    return seen


def site_dirs():
    dirs = []
    try:
        dirs.extend(site.getsitepackages())
    except AttributeError:  # very old virtualenv's site.py
        pass
    for key in ("purelib", "platlib"):
        try:
            dirs.append(sysconfig.get_paths()[key])
        except KeyError:
            pass
    user = user_site()
    if user:
        dirs.append(user)
    return [d for d in unique_paths(dirs) if os.path.isdir(d)]


def venv_is_isolated():
    cfg = read(os.path.join(sys.prefix, "pyvenv.cfg")) or ""
    m = re.search(r"^\s*include-system-site-packages\s*=\s*(\w+)", cfg, re.M | re.I)
    return sys.prefix != sys.base_prefix and not (m and m.group(1).lower() == "true")


def user_site():
    """The user site folder the kernel would see; -I hides it from us, so add it back."""
    if venv_is_isolated() or os.environ.get("PYTHONNOUSERSITE"):
        return None
    try:
        path = site.getusersitepackages()
    except Exception:
        return None
    return path if path and os.path.isdir(path) else None


def add_user_site(warnings):
    path = user_site()
    if path and path not in sys.path:
        try:
            site.addsitedir(path)  # also runs its .pth files, as the kernel's startup would
        except Exception as exc:  # a broken .pth must not sink the whole inspection
            warnings.append(f"user site {path}: {exc}")


def environment_kind():
    if os.path.isdir(os.path.join(sys.prefix, "conda-meta")):
        return "conda"
    if sys.prefix != sys.base_prefix or os.path.isfile(os.path.join(sys.prefix, "pyvenv.cfg")):
        return "venv"
    return "system"


def abi_tag():
    impl = sys.implementation.name
    if impl == "cpython":
        tag = "cp{}{}".format(*sys.version_info[:2])
        if sysconfig.get_config_var("Py_GIL_DISABLED"):
            tag += "t"
        return tag
    soabi = sysconfig.get_config_var("SOABI") or ""
    parts = soabi.split("-")
    if impl == "pypy" and len(parts) >= 2:
        return "_".join(parts[:2])
    return (parts[0] if parts[0] else impl).replace(".", "_")


def platform_tag():
    return re.sub(r"[-.]", "_", sysconfig.get_platform())


# ---- editable installs -------------------------------------------------------------------------


def url_to_path(url):
    if not url.startswith("file:"):
        return None
    from urllib.parse import unquote, urlparse

    parsed = urlparse(url)
    path = unquote(parsed.path)
    if os.name == "nt" and re.match(r"^/[A-Za-z]:", path):
        path = path[1:]
    return os.path.normpath(path)


def literal(node):
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def parse_finder(path, warnings):
    """Name -> path pairs from an editable finder module, read with ast (never imported).

    setuptools (PEP 660): `MAPPING = {'pkg': '/proj/src/pkg'}` (+ `NAMESPACES`).
    `editables` (hatchling's exact mode): `F.map_module('pkg', '/proj/pkg/__init__.py')`.
    """
    source = read(path)
    if source is None:
        warnings.append(f"editable finder {path} is missing")
        return []
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        warnings.append(f"cannot parse editable finder {path}: {exc}")
        return []
    pairs = []
    for node in tree.body:
        target = value = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and target.id == "MAPPING":
            mapping = literal(value)
            if isinstance(mapping, dict):
                pairs.extend((str(k), str(v)) for k, v in mapping.items())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("map_module", "map_package")
            and len(node.args) >= 2
        ):
            name, where = literal(node.args[0]), literal(node.args[1])
            if isinstance(name, str) and isinstance(where, str):
                # editables maps a package to its __init__.py; we want the package folder.
                if os.path.basename(where) == "__init__.py":
                    where = os.path.dirname(where)
                pairs.append((name, where))
    return pairs


def _calls(tree, name):
    """Calls of `name(...)` (a plain name) anywhere in a parsed module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name:
            yield node


def parse_hook(path, warnings):
    """What an import-hook editable install's module says about where its code is (read with
    ast, never imported), or None when it is not one pexlab knows.

    meson-python: `MesonpyMetaFinder(name, {top-level}, build_dir, build_cmd, verbose)`; the
    files are listed by the build folder's install plan, read at zip time after a rebuild.
    scikit-build-core (redirect mode): `install(known_source_files, known_wheel_files,
    known_directories, ...)`: module -> source file, module -> file installed beside the
    redirect (compiled modules), package -> folders of its __path__.
    """
    source = read(path)
    if source is None:
        return None
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        warnings.append(f"cannot parse editable loader {path}: {exc}")
        return None
    for call in _calls(tree, "MesonpyMetaFinder"):
        args = [literal(a) for a in call.args]
        if len(args) >= 4 and isinstance(args[2], str) and isinstance(args[3], list):
            return {
                "mechanism": "meson-python",
                "top_level": sorted(str(n) for n in (args[1] or ())),
                "build_dir": args[2],
                "build_command": [str(c) for c in args[3]],
                "mapping": [],
            }
    site_dir = os.path.dirname(path)
    # `install` is a common name: only scikit-build-core's redirect module defines this class.
    redirects = "ScikitBuildRedirectingFinder" in source
    for call in _calls(tree, "install") if redirects else ():
        args = [literal(a) for a in call.args[:3]]
        if len(args) < 2 or not all(isinstance(a, dict) for a in args):
            continue
        pairs = []
        for module, where in [*args[0].items(), *args[1].items()]:
            where = os.path.join(site_dir, str(where))  # an absolute path stays as it is
            if os.path.basename(where).split(".", 1)[0] == "__init__":
                where = os.path.dirname(where)  # a package: its folder
            pairs.append((str(module), os.path.normpath(where)))
        for package, folders in (args[2] if len(args) > 2 else {}).items():
            for folder in folders if isinstance(folders, list) else ():
                pairs.append((str(package), os.path.normpath(os.path.join(site_dir, folder))))
        if len(call.args) > 5 and literal(call.args[5]) is True:
            # editable.rebuild: the kernel rebuilds on import; pexlab does not run CMake.
            warnings.append(
                "scikit-build-core rebuilds this project on import; its compiled modules ship "
                "as last built (import it in the kernel after editing compiled code)"
            )
        return {"mechanism": "scikit-build-core", "mapping": pairs}
    return None


def resolve_module_path(path):
    """setuptools maps modules without a suffix (`/proj/solo` for solo.py): find the real file."""
    if os.path.exists(path):
        return path
    folder, base = os.path.split(path)
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return None
    for n in names:
        if n.startswith(base + ".") and n.endswith(MODULE_SUFFIXES):
            return os.path.join(folder, n)
    return None


def parse_pth(path, site_dir, warnings):
    """(path entries, finder module names) of one .pth file, the way site.py reads it."""
    text = read(path)
    if text is None:
        warnings.append(f"{path} is missing")
        return [], []
    roots, modules = [], []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("import ", "import\t")):
            modules.extend(re.findall(r"import\s+([A-Za-z_][\w.]*)", line))
            modules.extend(re.findall(r"__import__\(\s*['\"]([A-Za-z_][\w.]*)", line))
            continue
        roots.append(os.path.normpath(os.path.join(site_dir, line)))
    return roots, modules


def looks_like_code(folder, depth=0):
    """A folder holds Python code (package, or PEP 420 namespace with code further down)."""
    if depth > 4:
        return False
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return False
    subdirs = []
    for e in entries:
        if e.name.endswith(MODULE_SUFFIXES) and e.is_file():
            return True
        if e.name.isidentifier() and e.name not in NOT_CODE_DIRS and e.is_dir():
            subdirs.append(e.path)
    return any(looks_like_code(s, depth + 1) for s in subdirs)


def scan_top_level(root, is_project_dir):
    """Importable names directly in `root` (the folder a .pth puts on sys.path)."""
    names = []
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return names
    for e in entries:
        if e.is_dir():
            if not e.name.isidentifier() or e.name.startswith("."):
                continue
            if is_project_dir and e.name in NOT_CODE_DIRS:
                continue
            if looks_like_code(e.path):
                names.append(e.name)
        elif e.name.endswith(MODULE_SUFFIXES):
            stem = e.name.split(".", 1)[0]
            if stem.isidentifier() and not (is_project_dir and stem in NOT_CODE_MODULES):
                names.append(stem)
    return sorted(set(names))


def configured_top_level(project_dir):
    """Top-level names a project's pyproject.toml says it ships (hatch/flit/setuptools/pdm).

    A flat project put on sys.path whole by a .pth also has scripts/, notebooks/... next to its
    package; the build configuration says which folders are the package.  Needs tomllib (3.11+);
    older targets fall back to scanning the folder.
    """
    try:
        import tomllib
    except ImportError:
        return []
    try:
        with open(os.path.join(project_dir, "pyproject.toml"), "rb") as fh:
            tool = tomllib.load(fh).get("tool", {})
    except (OSError, ValueError):
        return []
    paths = []
    wheel = tool.get("hatch", {}).get("build", {}).get("targets", {}).get("wheel", {})
    for key in ("packages", "only-include"):
        paths.extend(p for p in wheel.get(key, ()) if isinstance(p, str))
    flit = tool.get("flit", {}).get("module", {}).get("name")
    if isinstance(flit, str):
        paths.append(flit)
    setuptools = tool.get("setuptools", {})
    packages = setuptools.get("packages")
    if isinstance(packages, list):
        paths.extend(p.split(".")[0] for p in packages if isinstance(p, str))
    paths.extend(m for m in setuptools.get("py-modules", ()) if isinstance(m, str))
    for include in tool.get("pdm", {}).get("build", {}).get("includes", ()):
        if isinstance(include, str):
            paths.append(include)
    names = []
    for p in paths:
        name = os.path.basename(p.rstrip("/\\"))
        if name.endswith(".py"):
            name = name[:-3]
        if name.isidentifier() and name not in names:
            names.append(name)
    return names


def present_in(root, name):
    base = os.path.join(root, name)
    return os.path.isdir(base) or resolve_module_path(base) is not None


def describe_editable(dist_path, location, project_dir, pth_files, egg_link, warnings):
    """The editable entry: project_dir, source_roots, top_level, mapping, mechanism."""
    roots, mapping, mechanism = [], [], ""
    hook = None
    for pth in pth_files:
        pth_roots, modules = parse_pth(pth, os.path.dirname(pth), warnings)
        roots.extend(pth_roots)
        for mod in modules:
            finder = os.path.join(os.path.dirname(pth), mod.replace(".", os.sep) + ".py")
            if os.path.isfile(finder):
                pairs = parse_finder(finder, warnings)
                if pairs:
                    mapping.extend(pairs)
                    mechanism = "pep660-finder"
                else:
                    hook = parse_hook(finder, warnings) or hook
    if hook is not None and hook["mechanism"] == "scikit-build-core":
        # The redirect, not the .pth's path line, decides: compiled modules sit in site-packages.
        mapping.extend(hook["mapping"])
        mechanism = hook["mechanism"]
    elif hook is not None:
        mechanism = hook["mechanism"]
    if roots and not mechanism:
        mechanism = "pth"
    if egg_link:
        mechanism = "egg-link"
        roots.append(egg_link[0])
        if not project_dir:
            project_dir = egg_link[1]
    if not roots and not mapping and dist_path.endswith(".egg-info"):
        # `setup.py develop` without an .egg-link we could find: the egg-info sits in the code.
        roots.append(location)
        mechanism = mechanism or "pth"
    if not project_dir:
        if mapping:
            project_dir = (
                os.path.commonpath([p for _, p in mapping])
                if len(mapping) > 1
                else os.path.dirname(mapping[0][1])
            )
        elif roots:
            project_dir = roots[0]
    if hook is not None and hook["mechanism"] == "meson-python" and project_dir:
        roots.append(project_dir)  # the sources; the build folder's install plan lists files
    if not roots and not mapping and project_dir:
        # An installer we do not know left no trace of how it points at the code: guess.
        src = os.path.join(project_dir, "src")
        roots.append(src if os.path.isdir(src) else project_dir)
        warnings.append(
            f"could not tell how this editable install finds its code; guessed {roots[0]}"
        )
        mechanism = mechanism or "unknown"

    if project_dir and not os.path.isdir(project_dir):
        warnings.append(f"editable project folder {project_dir} no longer exists")

    resolved = []
    for name, path in mapping:
        real = resolve_module_path(path)
        if real is None:
            warnings.append(f"editable code for {name} not found at {path}")
            continue
        resolved.append((name, real))
        # The folder that plays sys.path's role for this name: strip one level per dotted part.
        base = real if os.path.isdir(real) else os.path.dirname(real)
        for _ in range(name.count(".") + (1 if os.path.isdir(real) else 0)):
            base = os.path.dirname(base)
        roots.append(base)

    roots = unique_paths(roots)
    live_roots = [r for r in roots if os.path.isdir(r)]
    for r in roots:
        if r not in live_roots and not (project_dir and not os.path.isdir(project_dir)):
            warnings.append(f"editable source folder {r} no longer exists")

    top_level = []
    if hook is not None and hook.get("top_level"):
        top_level = hook["top_level"]
    elif resolved:
        top_level = sorted({n.split(".")[0] for n, _ in resolved})
    else:
        declared = (read(os.path.join(dist_path, "top_level.txt")) or "").split()
        if not declared and project_dir:
            declared = configured_top_level(project_dir)
        for root in live_roots:
            names = [n for n in declared if present_in(root, n)]
            if not names:
                names = scan_top_level(
                    root,
                    bool(project_dir) and os.path.normpath(root) == os.path.normpath(project_dir),
                )
            top_level.extend(names)
        top_level = sorted(set(top_level))
    if live_roots and not top_level:
        warnings.append("no importable package found in {}".format(", ".join(live_roots)))

    return {
        "project_dir": project_dir or "",
        "source_roots": roots,
        "top_level": top_level,
        "mapping": [[n, p] for n, p in sorted(set(resolved))],
        "mechanism": mechanism,
        "build_dir": hook["build_dir"] if hook and "build_dir" in hook else "",
        "build_command": hook["build_command"] if hook and "build_command" in hook else [],
    }


def installed_code(recorded, location, dist_info):
    """(top-level name, file or folder in site-packages) of the code an "editable" wheel
    installed as plain files (maturin's pure-Rust layout: the package with its compiled module
    goes into site-packages, nothing points back at the project)."""
    found = {}
    for entry in recorded:
        parts = entry.replace("\\", "/").split("/")
        top = parts[0]
        if top == dist_info or top.startswith("..") or top == "__pycache__" or not top:
            continue
        if len(parts) > 1:
            if top.isidentifier() and os.path.isdir(os.path.join(location, top)):
                found[top] = os.path.join(location, top)
        elif top.endswith(MODULE_SUFFIXES) and top.split(".", 1)[0].isidentifier():
            if os.path.isfile(os.path.join(location, top)):
                found[top.split(".", 1)[0]] = os.path.join(location, top)
    return sorted(found.items())


def describe_installed(editable, installed, warnings):
    """An editable entry whose code is the files its wheel installed in site-packages."""
    guess = "could not tell how this editable install finds its code"
    warnings[:] = [
        w for w in warnings if not w.startswith((guess, "no importable package found in"))
    ]
    editable = dict(editable)
    editable["mechanism"] = "installed"
    editable["mapping"] = [[n, p] for n, p in installed]
    editable["top_level"] = [n for n, _ in installed]
    editable["source_roots"] = sorted({os.path.dirname(p) for _, p in installed})
    return editable


def egg_links(dirs):
    """canonical name -> (code folder, project folder) for legacy `setup.py develop` installs."""
    links = {}
    for d in dirs:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for n in names:
            if not n.endswith(".egg-link"):
                continue
            lines = (read(os.path.join(d, n)) or "").splitlines()
            if not lines or not lines[0].strip():
                continue
            code = os.path.normpath(os.path.join(d, lines[0].strip()))
            project = code
            if len(lines) > 1 and lines[1].strip():
                project = os.path.normpath(os.path.join(code, lines[1].strip()))
            links.setdefault(canonical(n[: -len(".egg-link")]), (code, project))
    return links


# ---- distributions -----------------------------------------------------------------------------


def dist_path_of(dist):
    path = getattr(dist, "_path", None)
    if path is None:
        return None
    # zipfile.Path (eggs in zips) has no filesystem path: keep it opaque.
    return str(path) if os.path.exists(str(path)) else None


def describe(dist, sites, links):
    warnings = []
    path = dist_path_of(dist)
    name = version = None
    location = ""
    installer = ""
    editable = None
    if path is None:
        # A distribution from a custom finder or a zipped egg: trust importlib.metadata.
        meta = dist.metadata
        name, version = meta["Name"], meta["Version"]
        try:
            location = str(dist.locate_file(""))
        except Exception:
            location = ""
    else:
        location = os.path.dirname(path)
        if os.path.isfile(path):  # distutils' single-file .egg-info
            text = read(path)
        else:
            text = read(os.path.join(path, "METADATA")) or read(os.path.join(path, "PKG-INFO"))
        if text is None:
            warnings.append(f"no METADATA in {path}")
            text = ""
        name, version = headers(text)
        if not name or not version:
            guess_name, guess_version = from_folder_name(path)
            if text:
                warnings.append(f"incomplete metadata in {path}")
            name = name or guess_name
            version = version or guess_version
        if os.path.isdir(path):
            installer = (read(os.path.join(path, "INSTALLER")) or "").strip()
    if not name:
        return None
    version = version or "0"
    cname = canonical(name)

    if path is not None and os.path.isdir(path):
        project_dir = None
        editable_flag = False
        raw = read(os.path.join(path, "direct_url.json"))
        if raw:
            try:
                direct = json.loads(raw)
                if (direct.get("dir_info") or {}).get("editable"):
                    editable_flag = True
                    project_dir = url_to_path(direct.get("url", ""))
            except (ValueError, AttributeError):
                warnings.append(f"unreadable direct_url.json in {path}")
        pth_files = []
        recorded = []
        if path.endswith(".dist-info"):
            for line in (read(os.path.join(path, "RECORD")) or "").splitlines():
                entry = line.split(",", 1)[0].strip('"')
                recorded.append(entry)
                if entry.endswith(".pth") and "/" not in entry and "\\" not in entry:
                    if editable_flag or entry.startswith(("__editable__", "_editable_impl_")):
                        editable_flag = True
                        pth_files.append(os.path.join(location, entry))
        link = links.get(cname)
        outside_site = path.endswith(".egg-info") and os.path.realpath(location) not in sites
        if editable_flag or link or outside_site:
            editable = describe_editable(path, location, project_dir, pth_files, link, warnings)
            if editable["mechanism"] == "unknown" and not pth_files:  # no hook we cannot read
                installed = installed_code(recorded, location, os.path.basename(path))
                if installed:
                    editable = describe_installed(editable, installed, warnings)

    return {
        "name": cname,
        "version": version,
        "location": location,
        "installer": installer,
        "editable": editable,
        "warnings": warnings,
    }


def main():
    env_warnings = []
    add_user_site(env_warnings)
    sites = site_dirs()
    real_sites = {os.path.realpath(s) for s in sites}  # lib64 -> lib symlinks
    links = egg_links(sites)
    seen = {}
    for dist in metadata.distributions():
        try:
            info = describe(dist, real_sites, links)
        except Exception as exc:  # one odd distribution must not hide all the others
            where = dist_path_of(dist) or repr(dist)
            env_warnings.append(f"could not read {where}: {type(exc).__name__}: {exc}")
            continue
        if info is None:
            env_warnings.append(f"distribution without a name at {dist_path_of(dist)}")
            continue
        # The first one on sys.path is the one `import` would use; later ones are shadowed
        # (e.g. a stale <project>/src/x.egg-info next to an editable's code).
        first = seen.get(info["name"])
        if first is None:
            seen[info["name"]] = info
        elif first["location"] == info["location"]:
            # Two metadata folders for one project in one folder: an interrupted upgrade or
            # uninstall. Which files are really installed is anyone's guess: say so.
            first["warnings"].append(
                "{} {} is also installed in {}: broken upgrade or uninstall?".format(
                    info["name"], info["version"], info["location"]
                )
            )
    print(
        json.dumps(
            {
                "python": sys.executable,
                "prefix": sys.prefix,
                "base_prefix": sys.base_prefix,
                "version": ".".join(str(n) for n in sys.version_info[:3]),
                "implementation": sys.implementation.name,
                "abi": abi_tag(),
                "cache_tag": sys.implementation.cache_tag or "",
                "platform": platform_tag(),
                "kind": environment_kind(),
                "site_packages": sites,
                "sys_path": [p for p in sys.path if p and os.path.exists(p)],
                "distributions": sorted(seen.values(), key=lambda d: d["name"]),
                "warnings": env_warnings,
            }
        )
    )


if __name__ == "__main__":
    main()
