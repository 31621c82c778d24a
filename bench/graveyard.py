"""Resetting a bench node without deleting files while it is measured.

A bench makes a "fresh node" by removing what the previous run unpacked: tens of thousands of
files for the notebook environment.  A real fresh node has not just deleted anything, and a
deletion right before a run is not free on every filesystem: ext4 without a journal (this
machine's root filesystem) will not reuse an inode freed less than 60 s ago (360 s while its
inode-table block is dirty), and finds a free one by checking each recently freed inode in the
group.  After a mass delete every new file costs a scan: a profile of the notebook layers'
unpack after `rm -rf` of the previous one showed half the CPU in `recently_deleted`, and the
unpack took 9 s instead of 1.5 s.  So what a run leaves is renamed into a graveyard (same
filesystem, no inode freed) and deleted once the bench's measurements are over.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]
GRAVEYARD = _REPO / ".cache" / "bench" / "graveyard"
# How long ext4 keeps a freed inode from reuse once its inode-table block is clean.
_RECENT_SECONDS = 60


def bury(path: Path) -> None:
    """Move `path` out of the way (if it exists) without freeing its inodes."""
    if not path.exists() and not path.is_symlink():
        return
    GRAVEYARD.mkdir(parents=True, exist_ok=True)
    os.rename(path, GRAVEYARD / f"{path.name}-{uuid.uuid4().hex[:8]}")


def empty() -> None:
    """Delete everything buried, once the measurements are over."""
    shutil.rmtree(GRAVEYARD, ignore_errors=True)


def settle() -> None:
    """Before measuring: delete what a killed bench left buried and, if there was any, wait
    until new files no longer pay for it."""
    if not GRAVEYARD.exists():
        return
    empty()
    os.sync()  # clean inode-table blocks: the shorter of ext4's two waits
    print(
        f"waiting {_RECENT_SECONDS} s: files just deleted slow new ones down (bench/graveyard.py)"
    )
    time.sleep(_RECENT_SECONDS)
