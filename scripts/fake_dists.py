"""Fill a venv's site-packages with metadata-only distributions, for the panel's large-list test.

`fakepkg-0` ... `fakepkg-<count-1>`: each is a `fakepkg_<i>-1.<i % 7>.0.dist-info` folder with
a METADATA file (Name with a `-`, as pip shows names) and an INSTALLER, nothing importable. A
re-run with the same count does nothing; another count replaces the set.

    python scripts/fake_dists.py --python .cache/many-dists-venv/bin/python --count 3000
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

PREFIX = "fakepkg_"


def site_packages(python: str) -> Path:
    out = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip())


def write(site: Path, count: int) -> int:
    stamp = site / f".{PREFIX}count"
    if stamp.exists() and stamp.read_text() == str(count):
        return 0
    for old in site.glob(f"{PREFIX}*.dist-info"):
        shutil.rmtree(old)
    for i in range(count):
        folder = site / f"{PREFIX}{i}-1.{i % 7}.0.dist-info"
        folder.mkdir()
        (folder / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: fakepkg-{i}\nVersion: 1.{i % 7}.0\n"
        )
        (folder / "INSTALLER").write_text("pexlab-ui-tests\n")
    stamp.write_text(str(count))
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="the venv's interpreter")
    parser.add_argument("--count", type=int, default=3000)
    args = parser.parse_args()
    site = site_packages(args.python)
    written = write(site, args.count)
    print(f"{written or 'no new'} fake distributions in {site}")


if __name__ == "__main__":
    main()
